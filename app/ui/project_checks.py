"""A project file read as untrusted data: sizes bounded before anything is decoded, names kept
inside the project, and the whole record checked before a document is built from it.

- Zip members: the declared size is checked against a limit for what the member is (a photo,
  an image of the photo's size, a history patch, the JSON), members that inflate more than
  `MAX_RATIO` times are refused, and reading stops at the limit whatever the header says.
- Folder projects (autosaves) never read a file outside their folder, links included.
- PNGs: the width and height in the header must be the photo's before the pixels are decoded.
- History patches: their rectangle lies inside the photo and they inflate to exactly its size.
- project.json: no NaN or infinity, every field of the expected type and range.
Every problem is a UserError naming the project file.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import cv2
import numpy as np

from app.engine import JobKind
from app.errors import UserError

MAX_JSON = 16 * 2**20
MAX_PHOTO_BYTES = 400 * 2**20
MAX_RATIO = 50  # stored members are 1:1; a deflated photo or PNG compresses far less than this
MAX_RESULTS, MAX_HISTORY, MAX_POINTS = 1000, 100_000, 10_000
INT_LIMIT = 2**31 - 1
_ID = re.compile(r"^r[0-9]{1,9}$")


class ProjectError(UserError):
    pass


def _png_limit(w: int, h: int, channels: int) -> int:
    return w * h * channels + h + 2**20  # raw rows (PNG level 1 barely grows them) and the chunks


class ProjectSource:
    """Bounded reads of the names in a project zip or autosave folder."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.folder = self.path.is_dir()
        self.zip = None
        self.members: dict[str, zipfile.ZipInfo] = {}
        if not self.folder:
            self.zip = zipfile.ZipFile(self.path)
            self.members = {i.filename: i for i in self.zip.infolist()}

    def fail(self, problem: str) -> ProjectError:
        return ProjectError(f"{self.path.name}: {problem}")

    def _name(self, name) -> str:
        p = PurePosixPath(name) if isinstance(name, str) else None
        if p is None or not name or p.is_absolute() or ".." in p.parts or "\\" in name or ":" in name:
            raise self.fail(f"names a file outside the project ({name!r})")
        return name

    def has(self, name: str) -> bool:
        name = self._name(name)
        return name in self.members if not self.folder else (self.path / name).is_file()

    def read(self, name: str, limit: int) -> bytes:
        name = self._name(name)
        if self.folder:
            return self._read_file(name, limit)
        info = self.members.get(name)
        if info is None:
            raise self.fail(f"the project is incomplete ({name} is missing)")
        if info.file_size > limit:
            raise self.fail(f"{name} is {info.file_size} bytes, more than a project holds ({limit})")
        if info.file_size > 2**20 and info.file_size > MAX_RATIO * max(1, info.compress_size):
            raise self.fail(f"{name} inflates {info.file_size // max(1, info.compress_size)} times: refused")
        try:
            with self.zip.open(info) as f:
                data = f.read(limit + 1)  # never more than the limit, whatever the header claims
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError, RuntimeError) as exc:
            raise self.fail(f"{name} is damaged ({exc})") from None
        if len(data) > limit:
            raise self.fail(f"{name} holds more than its header says")
        return data

    def _read_file(self, name: str, limit: int) -> bytes:
        p = self.path / name
        root = os.path.realpath(self.path)
        if not os.path.realpath(p).startswith(root.rstrip(os.sep) + os.sep):
            raise self.fail(f"{name} leads outside the project folder")
        try:
            if not p.is_file():
                raise self.fail(f"the project is incomplete ({name} is missing)")
            if p.stat().st_size > limit:
                raise self.fail(f"{name} is {p.stat().st_size} bytes, more than a project holds ({limit})")
            with open(p, "rb") as f:
                return f.read(limit + 1)[:limit]
        except OSError as exc:
            raise self.fail(f"cannot read {name} ({exc.strerror or exc})") from None


def load_json(src: ProjectSource) -> dict:
    def refuse(constant):
        raise ValueError(f"{constant} is not a number")

    try:
        meta = json.loads(src.read("project.json", MAX_JSON), parse_constant=refuse)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise src.fail(f"project.json is damaged ({str(exc)[:120]})") from None
    if not isinstance(meta, dict):
        raise src.fail("not a RoomStager project")
    return meta


def decode_png(src: ProjectSource, name: str, size: tuple[int, int], color: bool) -> np.ndarray:
    """A PNG of the photo's size: its header is checked before the pixels are decoded."""
    w, h = size
    data = src.read(name, _png_limit(w, h, 3 if color else 1))
    if len(data) < 33 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise src.fail(f"{name} is not a PNG")
    pw, ph, depth = *struct.unpack(">II", data[16:24]), data[24]
    if (pw, ph) != (w, h):
        raise src.fail(f"{name} is {pw}x{ph}, but the photo is {w}x{h}")
    if depth > 8:
        raise src.fail(f"{name} has {depth}-bit samples; the app writes 8-bit PNGs")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR if color else cv2.IMREAD_GRAYSCALE)
    if img is None or img.shape[:2] != (h, w):
        raise src.fail(f"{name} is a damaged image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if color else img


def inflate_check(src: ProjectSource, name: str, payload: bytes, raw: int) -> None:
    """A history patch must inflate to exactly `raw` bytes (never more is ever produced)."""
    try:
        d = zlib.decompressobj()
        out = d.decompress(payload, raw + 1)
    except zlib.error as exc:
        raise src.fail(f"{name} is damaged ({exc})") from None
    if len(out) != raw or d.unconsumed_tail:
        raise src.fail(f"{name} does not hold the {raw} bytes its history entry says")


# ---- project.json ----------------------------------------------------------------


def _int(src, where: str, value, low: int = 0, high: int = INT_LIMIT) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise src.fail(f"{where} must be a whole number from {low} to {high} (got {value!r})")
    return value


def _num(src, where: str, value, low: float = -INT_LIMIT, high: float = INT_LIMIT) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise src.fail(f"{where} must be a number from {low:g} to {high:g} (got {value!r})")
    return float(value)


def _kind(src, where: str, value, kinds, what: str):
    if not isinstance(value, kinds):
        raise src.fail(f"{where} must be {what} (got {type(value).__name__})")
    return value


def _scalars(src, where: str, value) -> None:
    """Panel settings: texts, finite numbers in int range, booleans, None, or lists of those."""
    if isinstance(value, list):
        for i, v in enumerate(value[:1000]):
            _scalars(src, f"{where}[{i}]", v)
        if len(value) > 1000:
            raise src.fail(f"{where} is too long")
    elif isinstance(value, str):
        if len(value) > 100_000:
            raise src.fail(f"{where} is too long")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        _num(src, where, value)
    elif value is not None and not isinstance(value, bool):
        raise src.fail(f"{where} has an unexpected value")


def check_meta(src: ProjectSource, meta: dict, max_pixels: int) -> tuple[int, int]:
    """Every field the document is built from, checked (or ProjectError). Returns the photo's (w, h)."""
    size = _kind(src, "size", meta.get("size"), list, "[width, height]")
    if len(size) != 2:
        raise src.fail("size must be [width, height]")
    w, h = (_int(src, "size", v, 8, 1_000_000) for v in size)
    if w * h > max_pixels:
        raise src.fail(f"its photo ({w}x{h}) is over the {max_pixels / 1e6:g} megapixel limit")
    for key in ("photo", "photo_copy"):
        if meta.get(key) is not None:
            _kind(src, key, meta[key], str, "text")
    if meta.get("photo_copy") is not None:
        src._name(meta["photo_copy"])
    _kind(src, "mask", meta.get("mask"), str, "a file name")
    src._name(meta["mask"])
    params = _kind(src, "params", meta.get("params") or {}, dict, "a table")
    for section, values in params.items():
        for k, v in _kind(src, f"params.{section}", values, dict, "a table").items():
            _scalars(src, f"params.{section}.{k}", v)
    points = _kind(src, "points", meta.get("points") or [], list, "a list")
    if len(points) > MAX_POINTS:
        raise src.fail("too many points")
    for i, p in enumerate(points):
        if not (isinstance(p, list) and len(p) == 3 and isinstance(p[2], bool)):
            raise src.fail(f"points[{i}] must be [x, y, positive]")
        _num(src, f"points[{i}]", p[0], 0, w)
        _num(src, f"points[{i}]", p[1], 0, h)
    if meta.get("box") is not None:
        box = _kind(src, "box", meta["box"], list, "[x0, y0, x1, y1]")
        if len(box) != 4:
            raise src.fail("box must be [x0, y0, x1, y1]")
        for v, limit in zip(box, (w, h, w, h), strict=True):
            _num(src, "box", v, 0, limit)
    ids = _check_results(src, meta.get("results") or [], w, h)
    _kind(src, "base", meta.get("base", "original"), str, "an image id")
    _check_history(src, meta.get("history"), ids, w, h)
    return w, h


def _check_results(src, results, w: int, h: int) -> set[str]:
    _kind(src, "results", results, list, "a list")
    if len(results) > MAX_RESULTS:
        raise src.fail(f"more than {MAX_RESULTS} results")
    ids = {"original"}
    for i, r in enumerate(results):
        where = f"results[{i}]"
        _kind(src, where, r, dict, "a table")
        rid = r.get("id")
        if not isinstance(rid, str) or not _ID.match(rid) or rid in ids:
            raise src.fail(f"{where} has no valid, unique id ({rid!r})")
        if r.get("kind") not in [k.value for k in JobKind if k.generates]:
            raise src.fail(f"{where} ({rid}) is not a staging, de-furnishing or repaint result")
        if r.get("seed") is not None:
            _int(src, f"{rid}.seed", r["seed"], 0, 2**32 - 1)
        _int(src, f"{rid}.group", r.get("group", 0))
        _kind(src, f"{rid}.label", r.get("label", ""), str, "text")
        _num(src, f"{rid}.created", r.get("created", 0.0), 0, 1e12)
        _kind(src, f"{rid}.timings", r.get("timings", {}), dict, "a table")
        _kind(src, f"{rid}.request", r.get("request"), dict, "a table")
        _kind(src, f"{rid}.request_mask", r.get("request_mask", False), bool, "true or false")
        source = r.get("input")
        if source is not None:
            _kind(src, f"{rid}.input", source, str, "an image id")
            if source.startswith("inputs/"):
                src._name(source)
            elif source not in ids:
                raise src.fail(f"{rid} was made from {source!r}, which is not an earlier image of the project")
        ids.add(rid)
    return ids


def _check_history(src, history, ids: set[str], w: int, h: int) -> None:
    history = _kind(src, "history", history, dict, "a table")
    entries = _kind(src, "history.entries", history.get("entries"), list, "a list")
    if len(entries) > MAX_HISTORY:
        raise src.fail("the undo history is too long")
    _int(src, "history.index", history.get("index"), 0, len(entries))
    for i, e in enumerate(entries):
        where = f"history entry {i + 1}"
        _kind(src, where, e, dict, "a table")
        _kind(src, f"{where}: text", e.get("text", ""), str, "text")
        if e.get("kind") == "mask":
            rect = e.get("rect")
            if not (isinstance(rect, list) and len(rect) == 4):
                raise src.fail(f"{where} has no rectangle")
            x0, y0, x1, y1 = (_int(src, f"{where}: its rectangle", v) for v in rect)
            if not (x0 < x1 <= w and y0 < y1 <= h):
                raise src.fail(f"{where}: its rectangle {rect} is empty or lies outside the {w}x{h} photo")
            if e.get("shape") != [y1 - y0, x1 - x0]:
                raise src.fail(f"{where}: its patch shape {e.get('shape')!r} does not match its rectangle")
            for k in ("before_bits", "after_bits"):
                _kind(src, f"{where}: {k}", e.get(k), bool, "true or false")
        elif e.get("kind") == "apply":
            for k in ("new_base", "old_base"):
                if e.get(k) not in ids:
                    raise src.fail(f"{where} shows {e.get(k)!r}, which is not an image of the project")
        else:
            raise src.fail(f"{where} is of an unknown kind ({e.get('kind')!r})")


def patch_bytes(entry: dict, which: str) -> int:
    """How many bytes a history patch inflates to (bit-packed when it is pure 0/255)."""
    n = entry["shape"][0] * entry["shape"][1]
    return (n + 7) // 8 if entry[f"{which}_bits"] else n


def blob_limit(raw: int) -> int:
    return raw + raw // 100 + 1024  # zlib never grows data by more than this
