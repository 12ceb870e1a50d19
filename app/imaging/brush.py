"""Brush strokes on an 8-bit coverage mask (numpy only; no Qt).

A stroke is a chain of capsules (round-capped segments) between successive
pointer positions. Coverage is exact, not stamped dabs: a pixel's distance to
the segment decides its value, so fast strokes leave no scalloped edges.
`hardness` 1.0 paints a crisp disc; lower values fade the outer part of the
radius with a smoothstep. Painting takes the max with what is there; erasing
takes the min with the inverse. Pixel (row i, col j) has its centre at
(j + 0.5, i + 0.5) in image coordinates.

The stroke remembers the mask tiles it touches before it first changes them,
so the undo entry it produces holds only the stroke's bounding box, before and
after.
"""

from __future__ import annotations

import numpy as np

TILE = 256
Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)


def capsule_coverage(shape: tuple[int, int], p0, p1, radius: float, hardness: float) -> tuple[Rect, np.ndarray] | None:
    """Coverage (uint8 0..255) of a capsule from p0 to p1 inside its clipped bounding box."""
    h, w = shape
    r = max(0.5, float(radius))
    (x0, y0), (x1, y1) = p0, p1
    bx0 = max(0, int(np.floor(min(x0, x1) - r)))
    by0 = max(0, int(np.floor(min(y0, y1) - r)))
    bx1 = min(w, int(np.ceil(max(x0, x1) + r)) + 1)
    by1 = min(h, int(np.ceil(max(y0, y1) + r)) + 1)
    if bx0 >= bx1 or by0 >= by1:
        return None
    xs = np.arange(bx0, bx1, dtype=np.float32) + 0.5
    ys = np.arange(by0, by1, dtype=np.float32) + 0.5
    dx, dy = np.float32(x1 - x0), np.float32(y1 - y0)
    length2 = float(dx * dx + dy * dy)
    px = xs[None, :] - np.float32(x0)
    py = ys[:, None] - np.float32(y0)
    if length2 > 1e-9:
        t = np.clip((px * dx + py * dy) / np.float32(length2), 0.0, 1.0)
        ex, ey = px - t * dx, py - t * dy
    else:
        ex, ey = np.broadcast_to(px, (len(ys), len(xs))), np.broadcast_to(py, (len(ys), len(xs)))
    dist = np.sqrt(ex * ex + ey * ey)
    hard = min(1.0, max(0.0, float(hardness)))
    if hard >= 0.999:
        cov = np.where(dist <= r, 255, 0).astype(np.uint8)
    else:
        inner = r * hard
        t = np.clip((r - dist) / np.float32(max(r - inner, 1e-3)), 0.0, 1.0)
        cov = np.round(t * t * (3.0 - 2.0 * t) * 255.0).astype(np.uint8)
    return (bx0, by0, bx1, by1), cov


class Stroke:
    """One brush or eraser stroke on `mask` (uint8 HxW, modified in place)."""

    def __init__(self, mask: np.ndarray, radius: float, hardness: float = 1.0, erase: bool = False):
        self.mask = mask
        self.radius = float(radius)
        self.hardness = float(hardness)
        self.erase = erase
        self.last: tuple[float, float] | None = None
        self.bbox: Rect | None = None
        self._saved: dict[tuple[int, int], np.ndarray] = {}

    def _save_tiles(self, rect: Rect) -> None:
        x0, y0, x1, y1 = rect
        for ty in range(y0 // TILE, (y1 - 1) // TILE + 1):
            for tx in range(x0 // TILE, (x1 - 1) // TILE + 1):
                if (tx, ty) not in self._saved:
                    self._saved[(tx, ty)] = self.mask[ty * TILE:(ty + 1) * TILE, tx * TILE:(tx + 1) * TILE].copy()

    def to(self, x: float, y: float) -> Rect | None:
        """Extend the stroke to (x, y); returns the changed rectangle (or None)."""
        p0 = self.last if self.last is not None else (x, y)
        self.last = (x, y)
        hit = capsule_coverage(self.mask.shape, p0, (x, y), self.radius, self.hardness)
        if hit is None:
            return None
        rect, cov = hit
        self._save_tiles(rect)
        x0, y0, x1, y1 = rect
        region = self.mask[y0:y1, x0:x1]
        if self.erase:
            np.minimum(region, 255 - cov, out=region)
        else:
            np.maximum(region, cov, out=region)
        if self.bbox is None:
            self.bbox = rect
        else:
            b = self.bbox
            self.bbox = (min(b[0], x0), min(b[1], y0), max(b[2], x1), max(b[3], y1))
        return rect

    def before_patch(self) -> np.ndarray | None:
        """The mask inside the stroke's bounding box as it was before the stroke."""
        if self.bbox is None:
            return None
        x0, y0, x1, y1 = self.bbox
        out = self.mask[y0:y1, x0:x1].copy()
        for (tx, ty), tile in self._saved.items():
            tx0, ty0 = tx * TILE, ty * TILE
            ix0, iy0 = max(x0, tx0), max(y0, ty0)
            ix1, iy1 = min(x1, tx0 + tile.shape[1]), min(y1, ty0 + tile.shape[0])
            if ix0 < ix1 and iy0 < iy1:
                out[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0] = tile[iy0 - ty0:iy1 - ty0, ix0 - tx0:ix1 - tx0]
        return out
