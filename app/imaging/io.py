"""Reading and writing photos and masks.

read_photo gives upright HxWx3 uint8 RGB whatever the file (EXIF orientation, CMYK,
16-bit, grey, palette, alpha, HEIC) and keeps the ICC profile and EXIF aside so
write_photo can carry them to the output. Every bad input becomes a PhotoError that
names the file; Pillow's own exceptions never reach the caller."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import cv2
import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from app import settings

from . import _files, _meta, _pixels, png
from ._commit import write_together
from ._files import PhotoError
from .targets import IMAGE_FORMATS, Input, Target, check_write_targets, image, named
from .targets import mask as mask_target

__all__ = ["Photo", "PhotoError", "read_mask", "read_metadata", "read_photo", "write_file", "write_mask", "write_photo",
           "write_text"]
log = logging.getLogger(__name__)

@dataclass
class Photo:
    pixels: np.ndarray  # HxWx3 uint8 RGB, upright
    path: Path | None
    icc_profile: bytes | None  # describes `pixels` (CMYK/grey sources are converted to sRGB)
    exif: bytes | None  # Orientation reset to 1, thumbnail dropped
    format: str  # Pillow's format name: "JPEG", "PNG", "TIFF", "WEBP", "HEIF", ...
    mode: str  # the file's original Pillow mode: "RGB", "CMYK", "I;16", "P", ...

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.pixels.shape[:2]
        return w, h


_heif_registered = False
_QUIET = (os.path.dirname(Image.__file__), os.path.dirname(__file__))


def _route_pillow_warnings() -> None:
    """Pillow's warnings about odd files (corrupt EXIF, palette transparency, big images) go to
    the debug log, not to the user's terminal: what matters is raised as a PhotoError instead."""
    previous = warnings.showwarning
    if getattr(previous, "roomstager", False):
        return

    def show(message, category, filename, lineno, file=None, line=None):
        if str(filename).startswith(_QUIET) or category.__module__.startswith("PIL"):
            log.debug("Pillow: %s: %s", category.__name__, message)
            return
        previous(message, category, filename, lineno, file, line)

    show.roomstager = True
    warnings.showwarning = show


_route_pillow_warnings()
# Sizes are checked on the header against our own limit (with a message naming the file).
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def _register_heif() -> None:
    # Lazy: pillow_heif loads libheif, which most runs never need.
    global _heif_registered
    if not _heif_registered:
        _heif_registered = True
        try:
            # heavy: loaded on first use, not when the app starts
            import pillow_heif

            pillow_heif.register_heif_opener()
        except ImportError:
            pass


def _allow_pixels(limit: int) -> None:
    # Our own size check runs on the header; Pillow's bomb guard (error at 2x its
    # limit) must not fire first with its own message. Only ever raised, never lowered.
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < limit:
        Image.MAX_IMAGE_PIXELS = limit


def _orientation(img: Image.Image) -> int:
    try:
        value = int(img.getexif().get(ExifTags.Base.Orientation, 1))
    except Exception:
        return 1
    return value if 1 <= value <= 8 else 1


def _mp(pixels: int) -> str:
    return f"{pixels / 1e6:.1f}" if pixels >= 1e6 else f"{pixels / 1e6:.3g}"


@contextlib.contextmanager
def _open(path: Path, max_pixels: int | None, expect: tuple[int, int] | None = None,
          data: bytes | None = None) -> Iterator[Image.Image]:
    """Open `path` (or `data`, the bytes of a file named `path`) lazily, check its header size,
    then fully decode it."""
    name = str(path)
    if data is None:
        if not path.exists():
            raise PhotoError(_files.missing(path))
        if not path.is_file():
            raise PhotoError(f"{name}: not a file")
        if path.stat().st_size == 0:
            raise PhotoError(f"{name}: the file is empty (0 bytes)")
    elif not data:
        raise PhotoError(f"{name}: the file is empty (0 bytes)")
    _register_heif()
    _allow_pixels(max(max_pixels or 0, expect[0] * expect[1] if expect else 0))
    try:
        img = Image.open(path if data is None else io.BytesIO(data))
    except Image.DecompressionBombError as e:
        m = re.search(r"\((\d+) pixels\)", str(e))
        size = f"{_mp(int(m.group(1)))} megapixels" if m else "the image"
        limit = f"the {max_pixels / 1e6:g} megapixel limit" if max_pixels else "the safe limit"
        raise PhotoError(f"{name}: {size} is over {limit}") from None
    except UnidentifiedImageError:
        hint = " (HEIC support needs pillow-heif)" if path.suffix.lower() in (".heic", ".heif") else ""
        raise PhotoError(f"{name}: not an image, or a format RoomStager cannot read{hint}") from None
    except PermissionError:
        raise PhotoError(f"{name}: permission denied") from None
    except Exception as e:
        raise PhotoError(f"{name}: cannot open the image ({e})") from None

    with img:
        # Checks on the header only (orientation can swap w and h, never change w*h);
        # reading the orientation itself may decode (PNG's eXIf may follow the data).
        w, h = img.size
        if max_pixels is not None and w * h > max_pixels:
            raise PhotoError(
                f"{name}: {_mp(w * h)} megapixels is over the {max_pixels / 1e6:g} megapixel limit"
            )
        if expect is not None and sorted((w, h)) != sorted(expect):
            raise PhotoError(f"{name} is {w}x{h} but the photo is {expect[0]}x{expect[1]}")
        try:
            img.load()  # force the full decode here, so truncation is caught here
        except MemoryError:
            raise PhotoError(f"{name}: not enough memory to decode a {w}x{h} image") from None
        except Exception as e:
            raise PhotoError(f"{name}: the file is damaged or truncated ({e})") from None
        orientation = _orientation(img)
        w, h = _pixels.upright_size(img.size, orientation)
        if expect is not None and (w, h) != tuple(expect):
            raise PhotoError(f"{name} is {w}x{h} but the photo is {expect[0]}x{expect[1]}")
        img.info["_orientation"] = orientation
        yield img


PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".jfif", ".png", ".tif", ".tiff", ".webp", ".heic", ".heif"})


def photos_in(folder: str | Path) -> list[Path]:
    """The photos in `folder` by name (not its sub-folders, not hidden files such as macOS's ._ twins)."""
    return sorted((p for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() in PHOTO_SUFFIXES), key=lambda p: p.name.lower())


def read_photo(path: str | Path, max_pixels: int | None = None, data: bytes | None = None) -> Photo:
    """Read a photo as upright RGB uint8; PhotoError (naming the file) for anything unusable.
    `max_pixels` defaults to the app's limit (settings.max_pixels). With `data`, the photo is
    read from those bytes (a copy kept in a project) and `path` only names it."""
    path = Path(path)
    with _open(path, settings.max_pixels() if max_pixels is None else max_pixels, data=data) as img:
        orientation = img.info.pop("_orientation")
        fmt, mode = img.format or "", img.mode
        exif = _meta.clean_exif(img)
        try:
            rgb, icc = _pixels.to_rgb8(img, img.info.get("icc_profile"), background=255)
        except Exception as e:
            raise PhotoError(f"{path}: cannot convert its {mode} pixels to RGB ({e})") from None
    pixels = _pixels.orient(rgb, orientation)
    if not pixels.flags.writeable:
        pixels = pixels.copy()
    return Photo(pixels=pixels, path=path, icc_profile=icc, exif=exif, format=fmt, mode=mode)


def read_mask(path: str | Path, size: tuple[int, int]) -> np.ndarray:
    """Read a mask (any image; white = edit, >= 128 after conversion to grey) as HxW bool.

    Transparent pixels count as black (keep), so a brush layer saved with alpha works."""
    path = Path(path)
    with _open(path, None, expect=(int(size[0]), int(size[1]))) as img:
        orientation = img.info.pop("_orientation")
        try:
            if img.mode == "L":
                gray = np.asarray(img)
            else:
                rgb, _ = _pixels.to_rgb8(img, None, background=0)
                gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        except Exception as e:
            raise PhotoError(f"{path}: cannot convert its {img.mode} pixels to a mask ({e})") from None
    return _pixels.orient(gray >= 128, orientation)


def _save_params(
    fmt: str, size: tuple[int, int], source: Photo | None, quality: int, meta_text: str | None
) -> dict[str, Any]:
    """Pillow's save options; `meta_text` must already fit the format (see _meta.for_file)."""
    exif = _meta.exif_for_output(source.exif if source else None, size)
    icc = source.icc_profile if source else None
    p: dict[str, Any] = {"format": fmt}
    if icc:
        p["icc_profile"] = icc
    if fmt == "JPEG":
        # 4:4:4: chroma subsampling smears colour across the mask's crisp edges.
        p.update(quality=quality, subsampling=0, optimize=True)
        if meta_text is not None:
            p["comment"] = _meta.COM_PREFIX + meta_text.encode("utf-8")
    elif fmt == "WEBP":
        p.update(quality=quality, method=4)
        if meta_text is not None:
            p["xmp"] = _meta.xmp_packet(meta_text)
    elif fmt == "TIFF":
        p["compression"] = "raw"
        if meta_text is not None:
            exif = exif if exif is not None else Image.Exif()
            exif[700] = _meta.xmp_packet(meta_text)  # TIFF XMP tag
    if exif is not None:
        p["exif"] = exif if fmt == "TIFF" else _exif_bytes(exif, fmt)
    return p


def _exif_bytes(exif: Image.Exif, fmt: str) -> bytes:
    """EXIF bytes that fit the format: a JPEG APP1 segment holds at most 64 kB, so a
    big maker note is dropped first, then (rarely) the whole EXIF block."""
    data = exif.tobytes()
    if fmt != "JPEG" or len(data) <= 65_000:
        return data
    exif.get_ifd(ExifTags.IFD.Exif).pop(ExifTags.Base.MakerNote, None)
    data = exif.tobytes()
    return data if len(data) <= 65_000 else b""


def write_photo(
    path: str | Path,
    pixels: np.ndarray,
    *,
    source: Photo | None = None,
    quality: int = 95,
    metadata: dict | None = None,
    sidecar: bool = True,
    protect: Iterable[Path | Input | None] = (),
) -> Path:
    """Write RGB uint8 pixels; format from the suffix; never over `source.path` or any `protect`
    path (targets.check_write_targets). Carries the source's EXIF and ICC profile; records
    `metadata` in the file and (sidecar=True) in `<file name>.json` beside it, the two written
    as one unit (both or neither). Returns the path."""
    path = Path(path)
    pixels = np.asarray(pixels)
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"write_photo wants HxWx3 uint8 pixels, got {pixels.shape} {pixels.dtype}")
    side = path.with_name(path.name + ".json") if metadata is not None and sidecar else None
    check_write_targets([source.path if source else None, *protect],
                        [image(path), *([named(side)] if side else [])])
    fmt = IMAGE_FORMATS[path.suffix.lower()]
    full_text = in_file = None
    if metadata is not None:
        try:
            full_text = _meta.to_json(metadata)
        except ValueError as exc:  # NaN / infinity: no JSON reader takes them
            raise PhotoError(f"{path}: cannot record the request ({exc})") from None
        in_file = _meta.for_file(metadata, full_text, fmt, side.name if side else None)
    params = _save_params(fmt, (pixels.shape[1], pixels.shape[0]), source, quality, in_file)
    parts = [(path, _writer(fmt, pixels, params, in_file))]
    if side is not None:
        parts.append((side, lambda f: f.write((full_text + "\n").encode("utf-8"))))
    try:
        write_together(parts)
    except OSError as e:
        raise PhotoError(f"{path}: cannot write it ({e.strerror or e})") from None
    return path


def _writer(fmt: str, pixels: np.ndarray, params: dict[str, Any], meta_text: str | None):
    """How to write the file: PNG through the fast lossless encoder (see png.py), the rest through Pillow."""
    if fmt == "PNG":
        data = png.encode(pixels, icc=params.get("icc_profile"), exif=params.get("exif"),
                          text={_meta.KEY: meta_text} if meta_text is not None else None)
        return lambda f: f.write(data)
    img = Image.fromarray(np.ascontiguousarray(pixels), "RGB")
    return lambda f: img.save(f, **params)


def write_mask(path: str | Path, mask: np.ndarray, protect: Iterable[Path | Input | None] = ()) -> Path:
    """Write a bool mask as an 8-bit greyscale PNG (0 / 255), atomically, never over `protect`."""
    path = Path(path)
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"write_mask wants an HxW mask, got shape {mask.shape}")
    check_write_targets(protect, [mask_target(path)])
    data = png.encode_mask(mask.astype(bool, copy=False))
    try:
        write_together([(path, lambda f: f.write(data))])
    except OSError as e:
        raise PhotoError(f"{path}: cannot write it ({e.strerror or e})") from None
    return path


def write_file(path: str | Path, data: bytes | Callable[[BinaryIO], None],
               protect: Iterable[Path | Input | None] = (), target: Target | None = None) -> Path:
    """Write `data` (bytes, or a function writing into a binary file) atomically, never over `protect`,
    with the user's normal permissions (a report, a manifest, a project)."""
    path = Path(path)
    check_write_targets(protect, [target or named(path)])
    write = data if callable(data) else (lambda f: f.write(data))
    try:
        write_together([(path, write)])
    except OSError as e:
        raise PhotoError(f"{path}: cannot write it ({e.strerror or e})") from None
    return path


def replace_file(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Replace one of the app's own records (a manifest, a report, a thumbnail) atomically: readers see the
    old file or the new one, a killed write leaves the old one. Its place was checked once, up front."""
    path = Path(path)
    try:
        write_together([(path, write)])
    except OSError as e:
        raise PhotoError(f"{path}: cannot write it ({e.strerror or e})") from None
    return path


def write_files(parts: list[tuple[Path, bytes]], protect: Iterable[Path | Input | None] = (),
                targets: list[Target] | None = None) -> None:
    """Write several files as one unit (all of them or none replaced), never over `protect`: a file and
    its sidecar. `targets` says what each may be (default: any name)."""
    check_write_targets(protect, targets or [named(p) for p, _ in parts])
    try:
        write_together([(Path(p), (lambda f, d=data: f.write(d))) for p, data in parts])
    except OSError as e:
        raise PhotoError(f"{parts[0][0]}: cannot write it ({e.strerror or e})") from None


def write_text(path: str | Path, text: str, protect: Iterable[Path | Input | None] = ()) -> Path:
    """Write a text file (UTF-8) atomically, never over `protect`."""
    return write_file(path, text.encode("utf-8"), protect)


def read_metadata(path: str | Path) -> dict | None:
    """The request that write_photo stored inside `path` (None when there is none)."""

    path = Path(path)
    with _open(path, None) as img:
        img.info.pop("_orientation", None)
        text = _meta.embedded_text(img)
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise PhotoError(f"{path}: its RoomStager record is not valid JSON") from None
