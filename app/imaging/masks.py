"""Mask morphology: HxW bool masks (True = edit) and float32 alphas in [0, 1].

Every operation works inside the mask's bounding box plus its radius, never on the
whole frame, so a small mask on a 50 MP photo costs milliseconds. Grow, shrink and
feather use OpenCV's exact Euclidean distance transform, i.e. a perfectly round
structuring element of radius `px`, at O(pixels) cost whatever the radius (a 100 px
elliptical kernel through cv2.dilate would cost O(pixels x kernel area))."""

from __future__ import annotations

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)


def _as_mask(mask: np.ndarray) -> np.ndarray:
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"a mask must be HxW, got shape {m.shape}")
    return np.ascontiguousarray(m if m.dtype == bool else m.astype(bool))


def bounding_box(mask: np.ndarray) -> Box | None:
    """(x0, y0, x1, y1), exclusive ends, of the True pixels; None for an empty mask."""
    m = _as_mask(mask)
    x, y, w, h = cv2.boundingRect(m.view(np.uint8))
    if w == 0 or h == 0:
        return None
    return int(x), int(y), int(x + w), int(y + h)


def _window(m: np.ndarray, pad: int) -> tuple[slice, slice] | None:
    box = bounding_box(m)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    h, w = m.shape
    return slice(max(0, y0 - pad), min(h, y1 + pad)), slice(max(0, x0 - pad), min(w, x1 + pad))


def _dist_outside(sub: np.ndarray) -> np.ndarray:
    """Per pixel: Euclidean distance to the nearest True pixel (0 on True pixels)."""
    return cv2.distanceTransform((~sub).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def _dist_inside(sub: np.ndarray) -> np.ndarray:
    """Per pixel: distance to the nearest False pixel (0 on False pixels). The frame
    edge does not count as False, so a mask touching the border is not eaten from it."""
    return cv2.distanceTransform(sub.view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def grow(mask: np.ndarray, px: int) -> np.ndarray:
    """Dilate by a disk of radius px: adds every pixel within px of the mask."""
    m = _as_mask(mask)
    px = int(round(px))
    win = _window(m, px) if px > 0 else None
    if win is None:
        return m.copy()
    out = np.zeros_like(m)
    out[win] = _dist_outside(m[win]) <= px
    return out


def shrink(mask: np.ndarray, px: int) -> np.ndarray:
    """Erode by a disk of radius px: keeps pixels farther than px from any unmasked pixel."""
    m = _as_mask(mask)
    px = int(round(px))
    win = _window(m, 1) if px > 0 else None  # 1 px of background beyond the box is enough
    if win is None:
        return m.copy()
    out = np.zeros_like(m)
    out[win] = _dist_inside(m[win]) > px
    return out


def feather(mask: np.ndarray, px: float) -> np.ndarray:
    """Soft alpha (HxW float32) that fades INWARD from the mask edge.

    alpha == 0.0 exactly wherever mask is False (so paste-back leaves those pixels
    bit for bit), rises with a smoothstep over `px` pixels inside the mask, and is
    1.0 from `px` pixels in. To blend without shrinking the edited area, feather a
    grown mask: feather(grow(mask, px), px) is 1.0 on all of `mask`."""
    m = _as_mask(mask)
    alpha = np.zeros(m.shape, np.float32)
    win = _window(m, 1)
    if win is None:
        return alpha
    if px <= 0:
        alpha[m] = 1.0
        return alpha
    sub = m[win]
    # Only pixels within px of an unmasked one fade: the distance is needed around those alone (a mask
    # of nearly the whole photo, as repaint's, costs the area near its holes, not the photo's).
    holes = bounding_box(~sub)
    out = alpha[win]
    if holes is None:
        out[...] = 1.0
        return alpha
    r = int(np.ceil(px)) + 1
    hy, hx = sub.shape
    x0, y0, x1, y1 = max(0, holes[0] - r), max(0, holes[1] - r), min(hx, holes[2] + r), min(hy, holes[3] + r)
    near = (slice(None), slice(None))
    if (x1 - x0) * (y1 - y0) < 0.5 * sub.size:
        out[...] = 1.0  # every unmasked pixel lies in the crop: the rest is deep inside
        near = (slice(y0, y1), slice(x0, x1))
    t = _dist_inside(np.ascontiguousarray(sub[near]))
    t *= np.float32(1.0 / px)
    np.minimum(t, np.float32(1.0), out=t)
    s = np.float32(3.0) - np.float32(2.0) * t
    t *= t
    t *= s
    out[near] = t
    return alpha


def fill_holes(mask: np.ndarray, max_area: int | None = None) -> np.ndarray:
    """Fill unmasked regions enclosed by the mask (4-connected background not reaching
    the frame edge); with max_area, only holes of at most that many pixels."""
    m = _as_mask(mask)
    win = _window(m, 0)
    out = m.copy()
    if win is None:
        return out
    sub = np.pad(m[win], 1, constant_values=False)  # the pad ring is the outside world
    n, labels, stats, _ = cv2.connectedComponentsWithStats((~sub).view(np.uint8), connectivity=4)
    fill = np.ones(n, bool)
    fill[0] = False  # label 0 is the mask itself (zero in the input)
    fill[labels[0, 0]] = False
    if max_area is not None:
        fill &= stats[:, cv2.CC_STAT_AREA] <= max_area
    out[win] |= fill[labels[1:-1, 1:-1]]
    return out


def remove_specks(mask: np.ndarray, min_area: int) -> np.ndarray:
    """Drop 8-connected mask components smaller than min_area pixels."""
    m = _as_mask(mask)
    win = _window(m, 0)
    out = m.copy()
    if win is None or min_area <= 1:
        return out
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m[win].view(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False
    out[win] = keep[labels]
    return out


def margin_ring(mask: np.ndarray, px: int) -> np.ndarray:
    """The band px wide just outside the mask: grow(mask, px) & ~mask."""
    m = _as_mask(mask)
    px = int(round(px))
    out = np.zeros_like(m)
    win = _window(m, px) if px > 0 else None
    if win is None:
        return out
    d = _dist_outside(m[win])
    out[win] = (d > 0) & (d <= px)
    return out


def scale_px(px_at_1024: float, size: tuple[int, int]) -> int:
    """A pixel amount tuned on a 1024 px long side, scaled to this (w, h); at least 1."""
    return max(1, int(round(px_at_1024 * max(size) / 1024.0)))
