"""Put a trained LoRA in the models folder's own catalog, so `--lora NAME` and the panels find it.

A LoRA written inside the models folder is recorded by its relative path; one written
elsewhere is referenced in place (`file = ...`), the way imports of other tools' files are.
Training the same output again updates its entry instead of adding another.
"""

from __future__ import annotations

import time
from pathlib import Path

from app.engine.models import user_catalog as user_catalog
from app.engine.models.catalog import Catalog
from app.engine.models.entries import is_inside


def register_lora(catalog: Catalog, path: Path, *, arch: str, task: str, base: str, metadata: dict) -> str:
    """Record the LoRA at `path`; returns its catalog name."""
    path = Path(path).resolve()
    catalog.refresh()
    name = _name_for(catalog, path)
    fields: dict = {"title": f"{path.stem} ({task} LoRA, trained on {base})", "role": "lora", "arch": arch}
    if is_inside(catalog.root, path):
        fields["path"] = path.relative_to(catalog.root.resolve()).as_posix()
    else:
        fields["file"] = str(path)
    st = path.stat()
    fields.update(size_bytes=st.st_size, mtime=round(st.st_mtime, 3), task=task, base_set=base,
                  trained=time.strftime("%Y-%m-%dT%H:%M:%S"), license="your own training",
                  rank=metadata.get("rank"), steps=metadata.get("steps"))
    user_catalog.edit(catalog.user_catalog, put=[("models", name, fields)])
    catalog.refresh()
    return name


def _name_for(catalog: Catalog, path: Path) -> str:
    """The stem, made catalog-safe; the same entry when this file was registered before."""
    base = user_catalog.safe_name(path.stem)
    for name, entry in catalog.entries.items():
        if name in catalog.user_entries and entry.role == "lora" and entry.local(catalog.root) == path:
            return name
    name, i = base, 2
    while name in catalog.entries or name in catalog.sets:
        name = f"{base}-{i}"
        i += 1
    return name
