"""Crafted project files: a real project written by the app, then bent one way per row. To cover a
new part of the format, add a row (a name, a function that bends the project, the message)."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
from PIL import Image

from tests.conftest import draw_room

W, H = 320, 240


@dataclass(frozen=True)
class ProjectCase:
    name: str
    bend: Callable[[dict, dict], object]  # (project.json, {member: bytes}) changed in place; a value it
    # returns replaces project.json (an int: that many zero bytes, deflated)
    says: str
    deflate: tuple[str, ...] = ()  # members written compressed (bombs)
    lie: tuple[str, int] | None = None  # (member, size its headers claim); "MASK": the mask's member


def real_project(folder: Path) -> Path:
    """A project the app writes: mask, two history entries, one result applied as the base."""
    from app.engine import StageRequest
    from app.imaging.io import read_photo
    from app.ui.document import Document
    from app.ui.project_file import snapshot, write_zip

    photo = folder / "room.png"
    Image.fromarray(draw_room(W, H)).save(photo)
    doc = Document(read_photo(photo))
    mask = np.zeros((H, W), bool)
    mask[100:180, 120:220] = True
    doc.set_mask(mask, "Paint")
    image = np.full((H, W, 3), 90, np.uint8)
    request = StageRequest(photo=doc.original, mask=mask, steps=2, seed=3)
    (entry,) = doc.add_results("stage", SimpleNamespace(images=[image], seeds=[3], request=request, mask=mask,
                                                        timings={"total_s": 1.5}))
    doc.apply_result(entry.id)
    doc.params["stage"] = {"prompt": "oak", "steps": 2, "guidance": 7.5}
    return write_zip(snapshot(doc, portable=True), folder / "good.rsproj")


def unpack(project: Path) -> tuple[dict, dict[str, bytes]]:
    with zipfile.ZipFile(project) as z:
        files = {n: z.read(n) for n in z.namelist()}
    return json.loads(files.pop("project.json")), files


def _deflated_zeros(z: zipfile.ZipFile, name: str, size: int) -> None:
    chunk = b"\0" * 2**20
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with z.open(info, "w") as f:
        for _ in range(size // len(chunk)):
            f.write(chunk)


def bent(case: ProjectCase, project: Path, out: Path) -> Path:
    """The real project bent by one case, written to `out`."""
    meta, files = unpack(project)
    mask = meta["mask"]
    replaced = case.bend(meta, files)
    content = meta if replaced is None else replaced
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for name, data in [*files.items(), ("project.json", content)]:
            if isinstance(data, int):  # a bomb: this many zero bytes, deflated
                _deflated_zeros(z, name, data)
            else:
                data = json.dumps(data) if isinstance(data, (dict, list)) else data
                kind = zipfile.ZIP_DEFLATED if name in case.deflate else zipfile.ZIP_STORED
                z.writestr(name, data, compress_type=kind)
    if case.lie:
        _lie(out, mask if case.lie[0] == "MASK" else case.lie[0], case.lie[1])
    return out


def _lie(project: Path, member: str, size: int) -> None:
    """Make the zip's headers claim `size` bytes for `member` (its data stays what it is)."""
    data = bytearray(project.read_bytes())
    name = member.encode()
    at = 0
    while (at := data.find(b"PK\x01\x02", at)) >= 0:  # central directory records
        n = struct.unpack_from("<H", data, at + 28)[0]
        if bytes(data[at + 46:at + 46 + n]) == name:
            struct.pack_into("<I", data, at + 24, size)
            local = struct.unpack_from("<I", data, at + 42)[0]
            struct.pack_into("<I", data, local + 22, size)
        at += 4
    project.write_bytes(bytes(data))


def _png(w: int, h: int) -> bytes:
    """A small PNG whose header says w x h."""
    ok, buf = cv2.imencode(".png", np.zeros((8, 8), np.uint8))
    data = bytearray(buf.tobytes())
    struct.pack_into(">II", data, 16, w, h)
    return bytes(data)


def _mask_name(meta: dict) -> str:
    return meta["mask"]


def _set(path: list, value) -> Callable[[dict, dict], None]:
    def bend(meta: dict, files: dict) -> None:
        target = meta
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return bend


def _first_mask_entry(meta: dict) -> dict:
    return next(e for e in meta["history"]["entries"] if e["kind"] == "mask")


def _rect(rect: list) -> Callable[[dict, dict], None]:
    def bend(meta: dict, files: dict) -> None:
        e = _first_mask_entry(meta)
        e["rect"] = rect
        e["shape"] = [rect[3] - rect[1], rect[2] - rect[0]]
    return bend


def _history_blob(size: int) -> Callable[[dict, dict], None]:
    def bend(meta: dict, files: dict) -> None:
        i = meta["history"]["entries"].index(_first_mask_entry(meta))
        files[f"history/{i:05d}-after.bin"] = size
    return bend


def _blob_lies(meta: dict, files: dict) -> None:
    i = meta["history"]["entries"].index(_first_mask_entry(meta))
    files[f"history/{i:05d}-after.bin"] = zlib.compress(b"\xff" * 1_000_000, 9)  # ~1 kB: within the size limit


PROJECT_CASES = [
    ProjectCase("a history rectangle outside the photo", _rect([300, 200, 400, 300]), "outside the 320x240 photo"),
    ProjectCase("a history rectangle turned inside out", _rect([50, 50, 10, 10]), "is empty or lies outside"),
    ProjectCase("a patch shape that does not fit its rectangle",
                lambda m, f: _first_mask_entry(m).__setitem__("shape", [1, 1]), "does not match its rectangle"),
    ProjectCase("a mask PNG inflating to 300 MB", lambda m, f: f.__setitem__(_mask_name(m), 300 * 2**20),
                "more than a project holds"),
    ProjectCase("a mask PNG whose zip header lies about its size",
                lambda m, f: f.__setitem__(_mask_name(m), 300 * 2**20), "is damaged",
                lie=("MASK", 1000)),  # reading stops at the size claimed; the checksum then fails
    ProjectCase("a PNG header claiming 100000 x 100000", lambda m, f: f.__setitem__(_mask_name(m), _png(100_000, 100_000)),
                "is 100000x100000"),
    ProjectCase("a result image of another size", lambda m, f: f.__setitem__("results/r1.png", _png(W, H + 1)),
                "is 320x241"),
    ProjectCase("a history patch inflating to 300 MB", _history_blob(300 * 2**20), "more than a project holds"),
    ProjectCase("a history patch that inflates past its size", _blob_lies, "does not hold"),
    ProjectCase("a 300 MB project.json", lambda m, f: 300 * 2**20, "more than a project holds"),
    ProjectCase("NaN in project.json", _set(["params", "stage", "guidance"], float("nan")), "not a number"),
    ProjectCase("a size that is not a pair", _set(["size"], [W]), "size must be"),
    ProjectCase("a duplicate result id", lambda m, f: m["results"].append(dict(m["results"][0])), "unique id"),
    ProjectCase("a result of an unknown kind", lambda m, f: m["results"][0].__setitem__("kind", "erase"),
                "not a staging, de-furnishing or repaint result"),
    ProjectCase("a request with a text for steps",
                lambda m, f: m["results"][0]["request"].__setitem__("steps", "many"), "is not valid"),
    ProjectCase("a history entry showing an unknown image",
                lambda m, f: next(e for e in m["history"]["entries"] if e["kind"] == "apply")
                .__setitem__("new_base", "r99"), "not an image of the project"),
    ProjectCase("a history index past the end", lambda m, f: m["history"].__setitem__("index", 99),
                "history.index"),
    ProjectCase("a panel setting too big for a spin box", _set(["params", "stage", "steps"], 10**30), "params.stage.steps"),
    ProjectCase("a mask named outside the project", _set(["mask"], "../../etc/passwd"), "outside the project"),
    ProjectCase("a missing result image", lambda m, f: f.pop("results/r1.png") and None, "results/r1.png is missing"),
    ProjectCase("project.json that is a list", lambda m, f: [1, 2, 3], "not a RoomStager project"),
]
