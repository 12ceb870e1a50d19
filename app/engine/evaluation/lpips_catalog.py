"""LPIPS from the model catalog: the installed backbone and heads, or a message saying how to get them."""

from __future__ import annotations

from app.engine.models.catalog import Catalog
from app.engine.models.entries import default_models_dir
from app.engine.models.lpips_shapes import BACKBONE_ROLE, HEADS_ROLE
from app.errors import ModelMissing


def lpips_files(catalog: Catalog) -> dict:
    """{role: path or None} for the backbone and the heads; the app's own entries before imports."""
    catalog.refresh()
    found = {}
    for role in (BACKBONE_ROLE, HEADS_ROLE):
        names = sorted((n for n, e in catalog.entries.items() if e.role == role and catalog.is_installed(n)),
                       key=lambda n: n in catalog.user_entries)
        found[role] = catalog.entry(names[0]).local(catalog.root) if names else None
    return found


def load_lpips(catalog: Catalog, device: str = "cpu"):
    found = lpips_files(catalog)
    missing = [role for role, path in found.items() if path is None]
    if missing:
        raise ModelMissing(missing_message(catalog, missing))
    # heavy: torch and torchvision load with the first LPIPS, not with the app
    from app.engine.evaluation.lpips import Lpips

    return Lpips(found[BACKBONE_ROLE], found[HEADS_ROLE], device)


def missing_message(catalog: Catalog, missing: list[str]) -> str:
    getters = [n for n, e in catalog.entries.items() if e.role in missing and e.downloadable]
    where = "" if catalog.root == default_models_dir().resolve() else f" --models \"{catalog.root}\""
    how = f"`python main.py models download {' '.join(getters)}{where}`" if getters else "the catalog's LPIPS entries"
    return (f"LPIPS needs two small pretrained files, the AlexNet backbone and the LPIPS linear heads "
            f"({' and '.join(missing)} not installed in {catalog.root}). Get them with {how}, or import copies "
            f"you have with `python main.py models import FILE{where}` (once for each file).")
