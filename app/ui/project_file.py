"""Project files: the open photo with its mask, undo history, prompts and results.

A project is a zip file, `NAME.rsproj`, holding
  project.json           what the photo is, the panels' settings, results, history
  mask-N.png             the current mask (8-bit coverage, 255 = edit)
  history/K-before.bin   each undo entry's changed rectangle, compressed
  history/K-after.bin
  results/ID.png         each result image (lossless), ID-mask.png its edit mask,
                         ID-request-mask.png the mask its request was made with
  photo/NAME             a copy of the original photo file (portable projects only)
Autosave writes exactly the same layout into a plain folder instead of a zip, so
that each save only writes what changed (result images are written once).
Snapshots are taken on the GUI thread; writing happens on a worker thread.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import time
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from app import settings
from app.engine import JobKind, request_type
from app.errors import UserError
from app.imaging import bundle
from app.imaging.io import read_photo
from app.imaging.targets import check_write_targets, named
from app.ui.document import Document, ResultEntry
from app.ui.project_checks import (
    MAX_PHOTO_BYTES,
    ProjectSource,
    blob_limit,
    check_meta,
    decode_png,
    inflate_check,
    load_json,
    patch_bytes,
)
from app.ui.undo_commands import restore_command

FORMAT, VERSION = "roomstager-project", 1
SUFFIX = ".rsproj"
_mask_names = itertools.count(1)




def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _dumps(meta: dict) -> bytes:
    return json.dumps(meta, indent=1, default=_json_default, allow_nan=False).encode("utf-8")


def _request_record(request) -> dict:
    out = {"kind": request.kind}
    for f in fields(request):
        if f.name not in ("photo", "mask"):
            value = getattr(request, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


@dataclass
class Snapshot:
    """Everything a project file holds, copied out of the document on the GUI thread."""

    meta: dict
    files: dict[str, Any] = field(default_factory=dict)  # name -> bytes | ndarray | Path (lazily encoded)


def snapshot(doc, portable: bool = False) -> Snapshot:
    images = {"original": doc.original, **{r.id: r.image for r in doc.results}}
    by_identity = {id(a): key for key, a in images.items()}
    results = []
    files: dict[str, Any] = {}
    for r in doc.results:
        req_photo = getattr(r.request, "photo", None)
        entry = {"id": r.id, "kind": r.kind, "seed": r.seed, "group": r.group, "label": r.label,
                 "created": r.created, "timings": {k: v for k, v in r.timings.items()
                                                   if isinstance(v, (int, float, str, list))},
                 "request": _request_record(r.request), "input": by_identity.get(id(req_photo))}
        files[f"results/{r.id}.png"] = r.image
        if r.mask is not None:
            files[f"results/{r.id}-mask.png"] = ("mask", r.mask)
        req_mask = getattr(r.request, "mask", None)
        entry["request_mask"] = req_mask is not None
        if req_mask is not None:
            files[f"results/{r.id}-request-mask.png"] = ("mask", req_mask)
        if entry["input"] is None and req_photo is not None:
            entry["input"] = f"inputs/{r.id}.png"
            files[f"inputs/{r.id}.png"] = req_photo
        results.append(entry)
    history = []
    for i in range(doc.stack.count()):
        cmd = doc.stack.command(i)
        history.append(cmd.state())
        for name, blob in cmd.blobs().items():
            files[f"history/{i:05d}-{name}.bin"] = blob
    mask_name = f"mask-{int(time.time() * 1000)}-{next(_mask_names)}.png"  # new name, new content
    files[mask_name] = ("mask", doc.mask.copy())
    photo_path = str(doc.path.resolve()) if doc.path else None
    meta = {"format": FORMAT, "version": VERSION, "photo": photo_path, "size": list(doc.size),
            "base": doc.base_id, "mask": mask_name, "params": doc.params,
            "points": [list(p) for p in doc.points], "box": list(doc.box) if doc.box else None,
            "results": results, "history": {"index": doc.stack.index(), "entries": history}}
    if portable and doc.path and doc.path.is_file():
        meta["photo_copy"] = f"photo/{doc.path.name}"
        files[meta["photo_copy"]] = doc.path
    elif portable and doc.photo_bytes:  # opened from a project whose photo is missing: keep its copy
        meta["photo_copy"] = f"photo/{doc.path.name if doc.path else 'photo'}"
        files[meta["photo_copy"]] = doc.photo_bytes
    return Snapshot(meta, files)


def write_zip(snap: Snapshot, path: Path) -> Path:
    """Write a project zip atomically (worker thread), never over its photo, with the user's normal file
    permissions; its images encode in parallel."""
    path = Path(path)
    try:
        check_write_targets([snap.meta.get("photo")], [named(path, SUFFIX)])
    except UserError as exc:
        raise UserError(f"cannot save the project: {exc}") from None
    return bundle.write_zip(snap.files, path, last={"project.json": _dumps(snap.meta)})


def write_folder(snap: Snapshot, folder: Path) -> None:
    """Write the layout into a folder (autosave, worker thread). Files that exist and never
    change (results, history blobs) are not rewritten; project.json goes last, atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    keep = {"project.json", "session.json"}
    for name, value in snap.files.items():
        target = folder / name
        keep.add(name)
        immutable = name.startswith(("results/", "inputs/", "photo/")) or name.startswith("mask-")
        if immutable and target.exists():
            continue
        if name.startswith("history/") and target.exists() and target.stat().st_size == len(value):
            if target.read_bytes() == value:
                continue
        target.parent.mkdir(parents=True, exist_ok=True)
        _atomic(target, bundle.encode(value))
    _atomic(folder / "project.json", _dumps(snap.meta))
    for path in folder.rglob("*"):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and rel not in keep:
            path.unlink(missing_ok=True)


def _atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@dataclass
class ProjectData:
    meta: dict
    photo: Any  # imaging.io.Photo
    mask: np.ndarray
    results: list[dict]  # meta + arrays
    blobs: dict[int, dict[str, bytes]]
    source: Path
    photo_bytes: bytes | None = None  # the project's own copy of a photo that is missing on disk


def _read_photo(src: ProjectSource, meta: dict, path: Path):
    """The photo on disk, else the project's copy of it, read from memory (nothing is left behind)."""
    photo_path = Path(meta["photo"]) if meta.get("photo") else None
    if photo_path is not None and photo_path.is_file():
        return read_photo(photo_path), None
    if meta.get("photo_copy") and src.has(meta["photo_copy"]):
        data = src.read(meta["photo_copy"], MAX_PHOTO_BYTES)
        name = photo_path or Path(meta["photo_copy"]).name
        return read_photo(name, data=data), data
    raise UserError(f"{path.name}: its photo {photo_path} is missing; put it back and open the project again")


def read_project(path: Path) -> ProjectData:
    """Read a project zip or folder (worker thread). Everything is checked and bounded before it is
    decoded (project_checks); any problem is a UserError naming the file."""
    path = Path(path)
    try:
        src = ProjectSource(path)
        meta = load_json(src)
    except (OSError, zipfile.BadZipFile, ValueError):
        raise UserError(f"{path.name}: not a RoomStager project, or it is damaged") from None
    if meta.get("format") != FORMAT:
        raise UserError(f"{path.name}: not a RoomStager project")
    size = check_meta(src, meta, settings.max_pixels())
    photo, photo_bytes = _read_photo(src, meta, path)
    if tuple(photo.size) != size:
        raise UserError(f"{path.name}: the photo {photo.path} has changed size since the project was saved")
    mask = decode_png(src, meta["mask"], size, color=False)
    results = []
    for entry in meta.get("results", []):
        rid = entry["id"]
        item = dict(entry)
        item["image"] = decode_png(src, f"results/{rid}.png", size, color=True)
        for key, name in (("mask", f"results/{rid}-mask.png"), ("request_mask_array", f"results/{rid}-request-mask.png")):
            item[key] = decode_png(src, name, size, color=False) >= 128 if src.has(name) else None
        if entry.get("input", "").startswith("inputs/") if isinstance(entry.get("input"), str) else False:
            item["input_array"] = decode_png(src, entry["input"], size, color=True)
        results.append(item)
    blobs: dict[int, dict[str, bytes]] = {}
    for i, state in enumerate(meta["history"]["entries"]):
        if state["kind"] == "mask":
            blobs[i] = {}
            for k in ("before", "after"):
                name, raw = f"history/{i:05d}-{k}.bin", patch_bytes(state, k)
                blobs[i][k] = src.read(name, blob_limit(raw))
                inflate_check(src, name, blobs[i][k], raw)
    return ProjectData(meta, photo, mask, results, blobs, path, photo_bytes)


def _request(item: dict, images: dict, doc, path: Path):
    record = dict(item["request"])
    try:
        cls = request_type(record.pop("kind", item["kind"]))
    except UserError as exc:
        raise UserError(f"{path.name}: result {item['id']}: {exc}") from None
    names = {f.name for f in fields(cls)} - {"photo", "mask"}
    kwargs = {k: (tuple(v) if k == "box" and v else v) for k, v in record.items() if k in names}
    photo = item.get("input_array")
    if photo is None:
        photo = images.get(item.get("input") or "original", doc.original)
    try:
        request = cls(photo=photo, mask=item["request_mask_array"], **kwargs)
        request.check_fields()  # the same checks a job gets: a crafted request is refused here
    except (UserError, TypeError, ValueError) as exc:
        raise UserError(f"{path.name}: the request of result {item['id']} is not valid ({exc})") from None
    return request


def build_document(data: ProjectData, parent=None):
    """A Document from ProjectData (GUI thread): mask, results, base image, history and settings."""

    doc = Document(data.photo, parent)
    doc.photo_bytes = data.photo_bytes
    images = {"original": doc.original}
    for item in data.results:
        images[item["id"]] = item["image"]
    for item in data.results:
        request = _request(item, images, doc, data.source)
        entry = ResultEntry(id=item["id"], kind=JobKind(item["kind"]), image=item["image"], seed=item.get("seed"),
                            request=request, mask=item["mask"], group=item.get("group", 0),
                            label=item.get("label", ""), created=item.get("created", 0.0),
                            timings=item.get("timings", {}))
        entry.image.flags.writeable = False
        doc.restore_result(entry)
    doc.params = dict(data.meta.get("params") or {})
    doc.points = [tuple(p) for p in data.meta.get("points") or []]
    doc.box = tuple(data.meta["box"]) if data.meta.get("box") else None
    # The saved mask and base are the state at the history index: entries up to it are
    # pushed as already applied; later ones are applied, then undone, to land there again.
    doc.mask[:] = data.mask
    base = data.meta.get("base", "original")
    doc.base_id = base if base in images else "original"
    history = data.meta["history"]
    index = int(history["index"])
    for i, state in enumerate(history["entries"]):
        cmd = restore_command(doc, state, data.blobs.get(i, {}))
        if i >= index:
            cmd._skip_first_redo = False
        doc.stack.push(cmd)
    doc.stack.setIndex(index)
    doc.stack.setClean()
    return doc


def remove_tree(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
