"""Disclosure for virtually staged photos: a "Virtually staged" label (MLS rules,
California AB 723) and a before/after comparison image."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")
MIN_TEXT_PX = 11  # below this the label stops being legible
_FONTS = (
    "DejaVuSans.ttf",
    "Arial.ttf",
    "arial.ttf",
    "segoeui.ttf",
    "Helvetica.ttc",
    "LiberationSans-Regular.ttf",
)


@lru_cache(maxsize=32)
def _font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in _FONTS:
        try:
            return ImageFont.truetype(name, px)
        except OSError:
            continue
    return ImageFont.load_default(size=px)


def _label(text: str, px: int) -> Image.Image:
    """White text on a semi-opaque dark rounded box, as an RGBA image."""
    font = _font(px)
    left, top, right, bottom = font.getbbox(text)
    pad = max(3, round(px * 0.45))
    w, h = (right - left) + 2 * pad, (bottom - top) + 2 * pad
    label = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(label)
    draw.rounded_rectangle((0, 0, w - 1, h - 1), radius=max(2, pad), fill=(20, 20, 20, 190))
    draw.text((pad - left, pad - top), text, font=font, fill=(255, 255, 255, 255))
    return label


def _paste(out: np.ndarray, label: Image.Image, x: int, y: int) -> None:
    """Alpha-composite `label` onto out[y:, x:] in place; pixels outside it untouched."""
    w, h = label.size
    region = Image.fromarray(out[y : y + h, x : x + w]).convert("RGBA")
    region.alpha_composite(label)
    out[y : y + h, x : x + w] = np.asarray(region.convert("RGB"))


def stamp(
    image: np.ndarray, text: str = "Virtually staged", corner: str = "bottom-right", size: float = 0.035
) -> np.ndarray:
    """A copy of `image` with `text` in a corner. `size` is the font size as a fraction
    of the image's LONG side (0.035 of a 400 px listing thumbnail = 14 px, still legible),
    never under 11 px; the label shrinks to fit very narrow images."""
    if corner not in CORNERS:
        raise ValueError(f"corner must be one of {', '.join(CORNERS)}, not {corner!r}")
    out = np.array(image, dtype=np.uint8, copy=True)
    H, W = out.shape[:2]
    px = max(MIN_TEXT_PX, round(size * max(W, H)))
    label = _label(text, px)
    margin = max(2, px // 2)
    while (label.width > W - 2 * margin or label.height > H - 2 * margin) and px > 6:
        px -= 1
        label = _label(text, px)
    if label.width > W or label.height > H:
        return out  # image too small for any readable label
    x = margin if corner.endswith("left") else W - margin - label.width
    y = margin if corner.startswith("top") else H - margin - label.height
    x, y = max(0, x), max(0, y)
    gray = out.ndim == 2
    if gray:
        out = np.repeat(out[..., None], 3, axis=2)
    _paste(out, label, x, y)
    return out


def before_after(
    before: np.ndarray,
    after: np.ndarray,
    divider: int | None = None,
    split: float | None = None,
    labels: tuple[str, str] = ("Before", "After"),
) -> np.ndarray:
    """A comparison image, RGB uint8, with `labels` in its top corners.

    split=None: the two side by side, separated by a white bar `divider` px wide
    (default 0.5% of the width, at least 2). split=0..1: one image, `before` left of
    that fraction of the width and `after` right of it, with a white line there.
    `before` is resized to `after`'s size if they differ."""

    a = np.asarray(after, dtype=np.uint8)
    b = np.asarray(before, dtype=np.uint8)
    if b.shape[:2] != a.shape[:2]:
        b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
    H, W = a.shape[:2]
    line = max(2, round(W * 0.005)) if divider is None else max(0, int(divider))
    if split is None:
        out = np.full((H, 2 * W + line, 3), 255, np.uint8)
        out[:, :W], out[:, W + line :] = b, a
    else:
        cut = int(round(min(max(split, 0.0), 1.0) * W))
        out = a.copy()
        out[:, :cut] = b[:, :cut]
        out[:, max(0, cut - line // 2) : min(W, cut + (line + 1) // 2)] = 255
    size = 0.035 * max(H, W) / max(out.shape[:2])  # same text size as on a single photo
    out = stamp(out, labels[0], "top-left", size)
    return stamp(out, labels[1], "top-right", size)
