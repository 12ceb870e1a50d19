"""Training pictures at the model's size: crop-and-zoom, masks from anywhere, synthetic shapes.

Photos and masks are brought to a square of the training size by cropping a square
window and zooming it, never by padding: padded borders shift a mask against the
room it was cut for (the de-furnishing study's finding). A photo keeps its centre;
a mask's window slides to keep as much of the mask as it can.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from app.imaging.io import PhotoError, read_mask

Window = tuple[int, int, int]  # x0, y0, side


def centre_window(h: int, w: int) -> Window:
    side = min(h, w)
    return (w - side) // 2, (h - side) // 2, side


def mask_window(mask: np.ndarray) -> Window:
    """The square window (side = the short side) along the long side that holds the most mask."""
    h, w = mask.shape
    side = min(h, w)
    along = mask.sum(axis=0) if w > h else mask.sum(axis=1)
    if along.sum() == 0 or w == h:
        return centre_window(h, w)
    sums = np.convolve(along.astype(np.float64), np.ones(side), mode="valid")
    best = np.flatnonzero(sums >= sums.max() - 1e-9)
    start = int(best[np.argmin(np.abs(best - (len(along) - side) / 2))])  # ties: nearest the centre
    return (start, 0, side) if w > h else (0, start, side)


def zoom(image: np.ndarray, window: Window, size: int) -> np.ndarray:
    """The window's pixels scaled to size x size (area filter down, cubic up)."""
    x0, y0, side = window
    crop = image[y0:y0 + side, x0:x0 + side]
    interp = cv2.INTER_AREA if side >= size else cv2.INTER_CUBIC
    return cv2.resize(crop, (size, size), interpolation=interp)


def zoom_mask(mask: np.ndarray, window: Window, size: int) -> np.ndarray:
    return zoom(mask.astype(np.float32), window, size) >= 0.5


def read_any_mask(path: Path) -> np.ndarray:
    """A mask file of any size (white = object) as HxW bool; PhotoError naming the file otherwise."""
    try:
        with Image.open(path) as img:
            w, h = img.size
    except Exception as exc:
        raise PhotoError(f"{path}: not an image RoomStager can read ({exc})") from None
    try:
        return read_mask(path, (w, h))
    except PhotoError:
        return read_mask(path, (h, w))  # turned upright by its EXIF orientation


def shape_mask(size: int, rng: np.random.Generator) -> np.ndarray:
    """One to three random ellipses, boxes and polygons covering 5-35 % of the square: the
    warm-up masks that teach the inpainting task before furniture-shaped ones."""
    for _ in range(20):
        m = np.zeros((size, size), np.uint8)
        for _ in range(int(rng.integers(1, 4))):
            cx, cy = (int(v) for v in rng.integers(size // 8, size - size // 8, 2))
            a, b = (int(v) for v in rng.integers(size // 12, size // 4, 2))
            kind = int(rng.integers(3))
            if kind == 0:
                cv2.ellipse(m, (cx, cy), (a, b), float(rng.uniform(0, 180)), 0, 360, 1, -1)
            elif kind == 1:
                cv2.rectangle(m, (cx - a, cy - b), (cx + a, cy + b), 1, -1)
            else:
                angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(3, 8))))
                radii = rng.uniform(0.5, 1.0, len(angles)) * max(a, b)
                pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1)
                cv2.fillPoly(m, [np.round(pts).astype(np.int32)], 1)
        frac = m.mean()
        if 0.05 <= frac <= 0.35:
            return m.astype(bool)
    return m.astype(bool)


def paste_margin(empty: np.ndarray, furnished: np.ndarray, tight: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """The empty room with the furnished photo's real pixels in the margin ring (shadows, fragments):
    the artifacts a de-furnishing model has to learn to ignore just outside its mask."""
    out = empty.copy()
    band = ring & ~tight
    out[band] = furnished[band]
    return out
