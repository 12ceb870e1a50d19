"""Reading and writing photos and masks.

read_photo gives upright HxWx3 uint8 RGB whatever the file (EXIF orientation, CMYK,
16-bit, grey, palette, alpha, HEIC) and keeps the ICC profile and EXIF aside so
write_photo can carry them to the output. Every bad input becomes a PhotoError that
names the file; Pillow's own exceptions never reach the caller."""

from __future__ import annotations

import contextlib
import json
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from app import settings
from app.errors import UserError

from . import _files, _meta, _pixels, png


class PhotoError(UserError):
    """A photo or mask file that cannot be read or written; the message names the file."""


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


_WRITE_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}
_heif_registered = False


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
def _open(path: Path, max_pixels: int | None, expect: tuple[int, int] | None = None) -> Iterator[Image.Image]:
    """Open `path` lazily, check its header size, then fully decode it."""
    name = str(path)
    if not path.exists():
        raise PhotoError(f"{name}: no such file")
    if not path.is_file():
        raise PhotoError(f"{name}: not a file")
    if path.stat().st_size == 0:
        raise PhotoError(f"{name}: the file is empty (0 bytes)")
    _register_heif()
    _allow_pixels(max(max_pixels or 0, expect[0] * expect[1] if expect else 0))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
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


def read_photo(path: str | Path, max_pixels: int | None = None) -> Photo:
    """Read a photo as upright RGB uint8; PhotoError (naming the file) for anything unusable.
    `max_pixels` defaults to the app's limit (settings.max_pixels)."""
    path = Path(path)
    with _open(path, settings.max_pixels() if max_pixels is None else max_pixels) as img:
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


def _check_target(path: Path, protect: Iterable[Path | str | None]) -> str:
    fmt = _WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise PhotoError(
            f"{path}: cannot write '{path.suffix or 'no extension'}' files (use .jpg, .png, .tif or .webp)"
        )
    if path.is_dir():
        raise PhotoError(f"{path}: is a folder, not a file name")
    hit = _files.protected_match(path, protect)
    if hit is not None:
        raise PhotoError(f"{path}: refusing to write over the original {hit}")
    return fmt


def _check_target_sidecar(side: Path, protect: list) -> None:
    hit = _files.protected_match(side, protect)
    if hit is not None:
        raise PhotoError(f"{side}: refusing to write over {hit}")


def _save_params(
    fmt: str, size: tuple[int, int], source: Photo | None, quality: int, meta_text: str | None
) -> dict[str, Any]:
    exif = _meta.exif_for_output(source.exif if source else None, size)
    icc = source.icc_profile if source else None
    p: dict[str, Any] = {"format": fmt}
    if icc:
        p["icc_profile"] = icc
    if fmt == "JPEG":
        # 4:4:4: chroma subsampling smears colour across the mask's crisp edges.
        p.update(quality=quality, subsampling=0, optimize=True)
        if meta_text is not None:
            com = _meta.COM_PREFIX + meta_text.encode("utf-8")
            if len(com) > 65_000:
                raise ValueError("metadata is too large to embed in a JPEG comment (65 kB)")
            p["comment"] = com
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
    protect: Iterable[Path] = (),
) -> Path:
    """Write RGB uint8 pixels atomically; format from the suffix; never over `source.path`
    or any `protect` path. Carries the source's EXIF and ICC profile; records `metadata`
    in the file and (sidecar=True) in `<file name>.json` beside it. Returns the path."""
    path = Path(path)
    pixels = np.asarray(pixels)
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"write_photo wants HxWx3 uint8 pixels, got {pixels.shape} {pixels.dtype}")
    guard = [source.path if source else None, *protect]
    fmt = _check_target(path, guard)
    side = path.with_name(path.name + ".json")
    if metadata is not None and sidecar:
        _check_target_sidecar(side, guard)
    meta_text = _meta.to_json(metadata) if metadata is not None else None
    size = (pixels.shape[1], pixels.shape[0])
    params = _save_params(fmt, size, source, quality, meta_text)
    try:
        _files.atomic_write(path, _writer(fmt, pixels, params, meta_text))
        if meta_text is not None and sidecar:
            _files.atomic_write(side, lambda f: f.write((meta_text + "\n").encode("utf-8")))
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


def write_mask(path: str | Path, mask: np.ndarray) -> Path:
    """Write a bool mask as an 8-bit greyscale PNG (0 / 255), atomically."""
    path = Path(path)
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"write_mask wants an HxW mask, got shape {mask.shape}")
    img = Image.fromarray(np.where(mask.astype(bool), 255, 0).astype(np.uint8), "L")
    try:
        _files.atomic_write(path, lambda f: img.save(f, format="PNG"))
    except OSError as e:
        raise PhotoError(f"{path}: cannot write it ({e.strerror or e})") from None
    return path


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
