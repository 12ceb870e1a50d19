"""Decoded Pillow image -> upright 8-bit numpy pixels, whatever the file's mode.

Pillow's own convert() clips 16-bit data to 255 and composites alpha onto black,
so the awkward modes are handled here explicitly."""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
from PIL import Image, ImageCms

_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_WIDE_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}


@lru_cache(maxsize=1)
def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _profile_space(icc: bytes | None) -> tuple[str, ImageCms.ImageCmsProfile | None]:
    """('RGB' | 'CMYK' | 'GRAY' | '', parsed profile); '' when absent or unreadable."""
    if not icc:
        return "", None
    try:
        prof = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return prof.profile.xcolor_space.strip().upper(), prof
    except (OSError, ValueError, TypeError, ImageCms.PyCMSError):
        return "", None


def _to_srgb(img: Image.Image, prof: ImageCms.ImageCmsProfile) -> Image.Image | None:
    try:
        srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        return ImageCms.profileToProfile(
            img, prof, srgb, renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode="RGB"
        )
    except (OSError, ValueError, ImageCms.PyCMSError):
        return None


def _wide_to_u8(img: Image.Image) -> np.ndarray:
    """16-bit / 32-bit / float single-channel -> uint8, scaled (not clipped) to 0..255."""
    a = np.asarray(img)
    if img.mode == "F":
        a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        top = 1.0 if a.max(initial=0.0) <= 1.0 else float(a.max())
        return np.clip(np.rint(a / top * 255.0), 0, 255).astype(np.uint8)
    a = a.astype(np.int64)
    if img.mode == "I" and a.min(initial=0) < 0:  # signed 16-bit TIFF
        a = a + 32768
    if a.max(initial=0) > 65535:  # genuine 32-bit data: use its own range
        a = a * 65535 // int(a.max())
    return ((a * 255 + 32767) // 65535).astype(np.uint8)


def _composite(rgba: np.ndarray, background: int) -> np.ndarray:
    rgb = rgba[..., :3].astype(np.float32)
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    out = rgb * a + float(background) * (1.0 - a)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def to_rgb8(img: Image.Image, icc: bytes | None, background: int = 255) -> tuple[np.ndarray, bytes | None]:
    """Loaded image -> (HxWx3 uint8 RGB, ICC profile that now describes those pixels).

    Transparent areas are composited onto `background` (white for photos). A CMYK or
    grey ICC profile cannot describe RGB pixels, so such images are converted to sRGB
    through the profile and the sRGB profile is returned instead."""
    mode = img.mode
    space, prof = _profile_space(icc)

    if mode == "CMYK":
        if space == "CMYK" and (out := _to_srgb(img, prof)) is not None:
            return np.asarray(out), srgb_profile()
        cmyk = np.asarray(img).astype(np.uint16)
        rgb = (255 - cmyk[..., :3]) * (255 - cmyk[..., 3:4]) // 255
        return rgb.astype(np.uint8), None

    if mode in _WIDE_MODES:
        img = Image.fromarray(_wide_to_u8(img), "L")
        mode = "L"
    elif mode == "1":
        img, mode = img.convert("L"), "L"
    elif mode == "P":
        has_alpha = "transparency" in img.info or img.palette.mode == "RGBA"
        img = img.convert("RGBA" if has_alpha else "RGB")
        mode = img.mode

    if mode == "L" and space == "GRAY" and (out := _to_srgb(img, prof)) is not None:
        return np.asarray(out), srgb_profile()

    keep = icc if space == "RGB" else None
    if mode in _ALPHA_MODES:
        return _composite(np.asarray(img.convert("RGBA")), background), keep
    if mode == "L":
        g = np.asarray(img)
        return np.repeat(g[..., None], 3, axis=2), keep
    if mode != "RGB":
        img = img.convert("RGB")  # YCbCr, LAB, HSV ...
    return np.asarray(img), keep


def orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) so the result is upright; same as ImageOps.exif_transpose."""
    a = pixels
    if orientation == 2:
        a = a[:, ::-1]
    elif orientation == 3:
        a = a[::-1, ::-1]
    elif orientation == 4:
        a = a[::-1]
    elif orientation == 5:
        a = a.swapaxes(0, 1)
    elif orientation == 6:
        a = np.rot90(a, -1)
    elif orientation == 7:
        a = a[::-1, ::-1].swapaxes(0, 1)
    elif orientation == 8:
        a = np.rot90(a, 1)
    return np.ascontiguousarray(a)


def upright_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    w, h = size
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)
