"""The installed files of catalog models: verify them, remove them.

Verification uses the strongest evidence there is: the SHA-256 recorded when the
model was downloaded or copied in (manifest or catalog), else the size and
date recorded for a file used in place, and always the structure (every
safetensors header readable and not truncated, no pickle weights where the app
only loads safetensors). Removal deletes only what lies inside the models
folder; a file of another tool is never touched, only forgotten.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path

from app.engine.models import user_catalog
from app.engine.models.catalog import Catalog
from app.engine.models.checkpoint_info import read_header
from app.engine.models.entries import is_inside, safe_relative
from app.engine.models.transfer import Meter, ProgressFn
from app.errors import UserError

PICKLES = (".bin", ".ckpt", ".pt", ".pth", ".pkl")
DIFFUSION_ROLES = ("inpaint", "controlnet-depth", "controlnet-canny", "controlnet-inpaint", "controlnet-union",
                   "lora", "config", "erase")  # only ever loaded from .safetensors


def _hash(path: Path, meter: Meter | None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            if meter is not None:
                meter.add(len(chunk))
    return h.hexdigest()


def verify(catalog: Catalog, name: str, *, progress: ProgressFn | None = None,
           cancel: threading.Event | None = None, deep: bool = True) -> dict:
    """{'name', 'ok', 'checked', 'problems'}: deep=False skips hashing (structure and sizes only)."""
    entry = catalog.entry(name)
    result = {"name": name, "ok": False, "checked": [], "problems": [], "path": str(entry.local(catalog.root)),
              "pin": entry.pin}
    problems, checked = result["problems"], result["checked"]
    if not catalog.is_installed(name):
        problems.append("not installed")
        return result
    path = entry.local(catalog.root)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    meter = Meter(name, sum(p.stat().st_size for p in files), 0, progress, cancel)

    # structure
    for p in files:
        suffix = p.suffix.lower()
        if suffix == ".safetensors":
            try:
                read_header(p)
            except UserError as exc:
                problems.append(str(exc))
        elif suffix in PICKLES and entry.role in DIFFUSION_ROLES:
            problems.append(f"{p.name}: pickle or TorchScript weights, which can run code; the app only loads "
                            f".safetensors for this model")
    checked.append("structure")

    # recorded evidence
    manifest = catalog.manifest(name) or {}
    recorded = manifest.get("files") or {}
    if entry.external:
        size, mtime = entry.info.get("size_bytes"), entry.info.get("mtime")
        st = path.stat()
        if size is not None and int(size) != st.st_size:
            problems.append(f"{path} changed size since it was imported ({size} -> {st.st_size} bytes)")
        elif mtime is not None and abs(float(mtime) - st.st_mtime) > 2:
            checked.append("changed since import (date)")
        checked.append("size")
        if deep and entry.info.get("sha256"):
            if _hash(path, meter) != entry.info["sha256"]:
                problems.append(f"{path}: checksum differs from the one recorded at import")
            checked.append("sha256")
    elif recorded:
        for rel, want in recorded.items():
            p = path if rel == "." else path / rel
            if not p.is_file():
                problems.append(f"{rel}: missing")
                continue
            if want.get("size") is not None and p.stat().st_size != int(want["size"]):
                problems.append(f"{rel}: size {p.stat().st_size} differs from {want['size']} recorded at install")
                continue
            pinned = entry.pins.get(rel)  # the catalog's checksum outranks the one recorded at install
            if deep and (pinned or want.get("sha256")):
                if _hash(p, meter) != (pinned or want["sha256"]):
                    problems.append(f"{rel}: checksum differs from the one recorded at install")
        checked += ["size", "sha256"] if deep else ["size"]
    elif entry.pins.get(".") and path.is_file():
        if deep:
            if _hash(path, meter) != entry.pins["."]:
                problems.append(f"{path.name}: checksum differs from the catalog's")
            checked.append("sha256")
    if entry.pin in ("unpinned", "revision only", "partly pinned"):
        result["note"] = (f"{entry.pin}: the catalog has no checksum for every file of it, so the checksums "
                          f"recorded at the first download are what is verified (trusted on first use)")
    result["ok"] = not problems
    meter.emit(message="verified" if result["ok"] else "problems found")
    return result


def remove(catalog: Catalog, name: str) -> dict:
    """Delete a model's files (inside the models folder only) and forget user entries. Returns what was done."""

    catalog.refresh()
    if name not in catalog.entries:
        if name in catalog.sets:
            return _remove_set(catalog, name)
        raise UserError(f"'{name}' is neither a model nor a model set in the catalog")
    entry = catalog.entry(name)
    done = {"name": name, "deleted": [], "forgotten": False, "sets_forgotten": []}
    if not entry.external:
        if not safe_relative(entry.path):
            raise UserError(f"'{name}': its path leaves the models folder; refusing to delete")
        target = catalog.root / entry.path
        for p in (target, target.with_name(target.name + ".part"), catalog.staging_dir(name),
                  catalog.manifest_path(name)):
            if not (p.exists() or p.is_symlink()):
                continue
            if not is_inside(catalog.root, p.parent) or Path(os.path.realpath(p)) == Path(os.path.realpath(catalog.root)):
                raise UserError(f"{p}: outside the models folder; refusing to delete")
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            done["deleted"].append(str(p))
    if name in catalog.user_entries:
        drops = [("models", name)]
        for set_name in list(catalog.user_sets):
            spec = catalog.sets.get(set_name, {})
            if name in spec.values():
                drops.append(("sets", set_name))
                done["sets_forgotten"].append(set_name)
        user_catalog.edit(catalog.user_catalog, drop=drops)
        done["forgotten"] = True
        catalog.refresh()
    return done


def _remove_set(catalog: Catalog, name: str) -> dict:
    """A set made by an import: forget it (its models stay). Any other set: delete its models that no
    other installed set uses (the set stays listed, as not installed)."""

    installed = set(catalog.installed_sets()) - {name}
    used = {m for s in installed for m in catalog.set_models(s)}
    done = {"name": name, "deleted": [], "forgotten": False, "sets_forgotten": [], "kept": []}
    if name in catalog.user_sets and catalog.sets[name].get("based_on"):
        user_catalog.edit(catalog.user_catalog, drop=[("sets", name)])
        done["forgotten"] = True
        done["sets_forgotten"].append(name)
    else:
        for m in catalog.set_models(name):
            if m in used:
                done["kept"].append(m)
            elif catalog.is_installed(m) or catalog.partial_bytes(m):
                done["deleted"] += remove(catalog, m)["deleted"]
    catalog.refresh()
    return done
