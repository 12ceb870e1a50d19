"""Which files of a hub repository a catalog entry takes, where they land, and the configs the app ships."""

from __future__ import annotations

import fnmatch
import re
import shutil
from pathlib import Path

from app.engine.models.entries import CONFIGS_DIR, ModelEntry, safe_relative
from app.errors import UserError


def ship_configs(entry: ModelEntry, folder: Path) -> None:
    """Copy the app's shipped diffusers configs for a config entry into its (staging) folder."""
    ship = entry.info.get("ship")
    if not ship:
        return
    src = CONFIGS_DIR / ship
    if not src.is_dir() or not safe_relative(ship):
        raise UserError(f"'{entry.name}': the app's configs '{ship}' are missing from {CONFIGS_DIR}")
    for p in src.rglob("*"):
        if p.is_file():
            target = folder / p.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, target)


def match_files(spec: list, available: list[str]) -> tuple[list[str], list[str]]:
    """Catalog `files` (strings, globs, lists of alternatives) against a repo listing -> (chosen, missing)."""
    chosen, missing = [], []
    for item in spec:
        options = item if isinstance(item, list) else [item]
        hit = None
        for opt in options:
            found = sorted(f for f in available if fnmatch.fnmatchcase(f, opt))
            if found:
                hit = found
                break
        if hit is None:
            missing.append(" or ".join(options))
        else:
            chosen += [f for f in hit if f not in chosen]
    return chosen, missing


def local_name(repo_file: str, renames: dict | None = None) -> str:
    """Where a repo file is stored: renames first, then 'x.fp16.safetensors' -> 'x.safetensors'."""
    if renames and repo_file in renames:
        return renames[repo_file]
    return re.sub(r"\.fp16\.(safetensors)$", r".\1", repo_file)
