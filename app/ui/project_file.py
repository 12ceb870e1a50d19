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
import tempfile
import time
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from app.engine import JobKind, request_type
from app.errors import UserError
from app.imaging import bundle
from app.imaging.io import read_photo
from app.ui.document import Document, ResultEntry
from app.ui.undo_commands import restore_command

FORMAT, VERSION = "roomstager-project", 1
SUFFIX = ".rsproj"
_mask_names = itertools.count(1)


def _unpng(data: bytes, color: bool) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR if color else cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise UserError("the project file holds a damaged image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if color else img


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _dumps(meta: dict) -> bytes:
    return json.dumps(meta, indent=1, default=_json_default).encode("utf-8")


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
    return Snapshot(meta, files)


def write_zip(snap: Snapshot, path: Path) -> Path:
    """Write a project zip atomically (worker thread); its images encode in parallel."""
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


class _Source:
    """Reads names from a zip or a folder."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.zip = None if self.path.is_dir() else zipfile.ZipFile(self.path)

    def read(self, name: str) -> bytes:
        try:
            return self.zip.read(name) if self.zip else (self.path / name).read_bytes()
        except (KeyError, OSError):
            raise UserError(f"{self.path}: the project is incomplete ({name} is missing)") from None

    def has(self, name: str) -> bool:
        return name in self.zip.namelist() if self.zip else (self.path / name).is_file()


@dataclass
class ProjectData:
    meta: dict
    photo: Any  # imaging.io.Photo
    mask: np.ndarray
    results: list[dict]  # meta + arrays
    blobs: dict[int, dict[str, bytes]]
    source: Path


def read_project(path: Path) -> ProjectData:
    """Read a project zip or folder (worker thread). Raises UserError with a readable message."""

    path = Path(path)
    try:
        src = _Source(path)
        meta = json.loads(src.read("project.json"))
    except (OSError, zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"{path.name}: not a RoomStager project, or it is damaged") from None
    if meta.get("format") != FORMAT:
        raise UserError(f"{path.name}: not a RoomStager project")
    photo_path = Path(meta["photo"]) if meta.get("photo") else None
    if photo_path is not None and photo_path.is_file():
        photo = read_photo(photo_path)
    elif meta.get("photo_copy") and src.has(meta["photo_copy"]):
        tmpdir = Path(tempfile.mkdtemp(prefix="roomstager-photo-"))
        copy = tmpdir / Path(meta["photo_copy"]).name
        copy.write_bytes(src.read(meta["photo_copy"]))
        photo = read_photo(copy)
    else:
        raise UserError(f"{path.name}: its photo {photo_path} is missing; put it back and open the project again")
    if list(photo.size) != list(meta["size"]):
        raise UserError(f"{path.name}: the photo {photo_path} has changed size since the project was saved")
    mask = _unpng(src.read(meta["mask"]), color=False)
    results = []
    for entry in meta.get("results", []):
        rid = entry["id"]
        item = dict(entry)
        item["image"] = _unpng(src.read(f"results/{rid}.png"), color=True)
        name = f"results/{rid}-mask.png"
        item["mask"] = _unpng(src.read(name), color=False) >= 128 if src.has(name) else None
        name = f"results/{rid}-request-mask.png"
        item["request_mask_array"] = _unpng(src.read(name), color=False) >= 128 if src.has(name) else None
        if isinstance(entry.get("input"), str) and entry["input"].startswith("inputs/"):
            item["input_array"] = _unpng(src.read(entry["input"]), color=True)
        results.append(item)
    blobs: dict[int, dict[str, bytes]] = {}
    for i, state in enumerate(meta["history"]["entries"]):
        if state["kind"] == "mask":
            blobs[i] = {k: src.read(f"history/{i:05d}-{k}.bin") for k in ("before", "after")}
    return ProjectData(meta, photo, mask, results, blobs, path)


def build_document(data: ProjectData, parent=None):
    """A Document from ProjectData (GUI thread): mask, results, base image, history and settings."""

    doc = Document(data.photo, parent)
    images = {"original": doc.original}
    for item in data.results:
        images[item["id"]] = item["image"]
    for item in data.results:
        record = dict(item["request"])
        cls = request_type(record.pop("kind", item["kind"]))
        names = {f.name for f in fields(cls)}
        kwargs = {k: (tuple(v) if k == "box" and v else v) for k, v in record.items() if k in names}
        photo = item.get("input_array")
        if photo is None:
            photo = images.get(item.get("input") or "original", doc.original)
        request = cls(photo=photo, mask=item["request_mask_array"], **kwargs)
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
