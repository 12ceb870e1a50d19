"""Floor and staging-area geometry for automatic masks: where furniture may go.

Pure numpy: the floor from a semantic label map (or from depth), and the floor plus
a band above it, minus the room's openings and fixtures.
"""

from __future__ import annotations

import numpy as np

from app.engine.automask.objects import SegMap, upscale_mask
from app.imaging import masks

CEILING_BAND = 0.15  # the top of a level interior photo is ceiling and wall, never floor


def floor_band(floor: np.ndarray, band: float = 0.35, ceiling: float = CEILING_BAND) -> np.ndarray:
    """The floor plus a band above it, per column: rows from t(x) - band * (H - t(x)) down.

    t(x) is the floor's top row in column x. Furniture hides the floor behind it and
    pushes t(x) down; seen from inside a room the floor's far edge is a convex curve
    in the image, so t(x) is replaced by its convex hull from above, which bridges
    those notches. Never the top `ceiling` of the frame."""
    H, W = floor.shape
    if not floor.any():
        return np.zeros((H, W), bool)
    has = floor.any(axis=0)
    cols = np.flatnonzero(has).astype(np.float64)
    tops = floor.argmax(axis=0)[has].astype(np.float64)
    if len(tops) >= 5:  # single-column spikes must not drive the hull
        tops = _running_median(tops, 5)
    top = _hull_from_above(cols, tops, W)
    lowest = np.ceil(ceiling * H)
    start = np.maximum(top - band * (H - top), lowest)
    rows = np.arange(H, dtype=np.float32)[:, None]
    # a "floor" label up in the ceiling band is a mislabel: furniture never goes there
    return ((rows >= start[None, :]) | floor) & (rows >= lowest)


def _hull_from_above(xs: np.ndarray, ys: np.ndarray, width: int) -> np.ndarray:
    """The convex hull of points (x, y) from above in the image (smallest y, y grows downwards),
    evaluated at every column 0..width-1 (Andrew's monotone chain, lower chain in y)."""
    hull: list[tuple[float, float]] = []
    for x, y in zip(xs.tolist(), ys.tolist(), strict=True):
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1) <= 0:
                hull.pop()
            else:
                break
        hull.append((x, y))
    hx, hy = zip(*hull, strict=True)
    return np.interp(np.arange(width), hx, hy).astype(np.float32)


def _running_median(v: np.ndarray, k: int) -> np.ndarray:
    pad = k // 2
    p = np.pad(v, pad, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(p, k)
    return np.median(windows, axis=1)


def floor_from_segmentation(seg: SegMap, shape: tuple[int, int]) -> np.ndarray:
    """Floor at photo size: floor classes plus rugs, with what stands on it (enclosed holes) filled in."""
    small = seg.small_mask(seg.ids["floor"] | seg.ids["floor_cover"])
    if not small.any():
        return np.zeros(shape, bool)
    small = masks.remove_specks(small, max(4, small.size // 400))
    small = masks.fill_holes(small)
    floor = upscale_mask(small, shape)
    floor[: int(np.ceil(CEILING_BAND * shape[0]))] = False  # a floor label up there is a mislabel
    return floor


def staging_area_from(shape: tuple[int, int], seg: SegMap | None = None, depth_floor: np.ndarray | None = None,
                      depth_area: np.ndarray | None = None, band: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """(floor, staging area) at photo size from a label map, else from depth.

    With a label map that shows a floor (>= 1 % of the photo) the floor is its floor
    classes and rugs, the area the floor plus a band above it minus ceiling, windows,
    doors, radiators, stairs, fixtures and light fixtures, so furniture goes on the
    floor and the room's openings stay free. Otherwise the depth-based floor and area
    (imaging.guides.staging_area) are used. Both empty when no floor is found: there
    is no fallback."""
    H, W = shape
    if seg is not None:
        floor = floor_from_segmentation(seg, shape)
        if floor.sum() >= 0.01 * H * W:
            area = floor_band(floor, band) if band > 0 else floor.copy()
            blocked = seg.mask(seg.ids["not_staging"], shape)
            area &= ~masks.grow(blocked, masks.scale_px(4, (W, H)))  # a little air around openings
            return floor, area
    empty = np.zeros((H, W), bool)
    floor = depth_floor if depth_floor is not None and depth_floor.shape == (H, W) else empty
    area = depth_area if depth_area is not None and depth_area.shape == (H, W) else floor
    if band <= 0:
        area = floor
    return floor.copy(), area.copy()
