"""Control images for the diffusion model (Canny edges, depth) and the staging area
(where furniture may go) derived from a depth map."""

from __future__ import annotations

import cv2
import numpy as np

from .masks import fill_holes, remove_specks

CEILING = 0.15  # the top 15% of the frame is never staging area
_WORK = 256  # staging_area works on a depth map of this long side


def canny(image: np.ndarray, low: int = 100, high: int = 200) -> np.ndarray:
    """Canny edges (HxW uint8, 0 / 255) of an RGB or grey image, after a light blur
    so JPEG noise and fine texture do not become edges."""
    img = np.asarray(image)
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img
    gray = cv2.GaussianBlur(np.ascontiguousarray(gray, dtype=np.uint8), (3, 3), 0)
    return cv2.Canny(gray, low, high)


def _normalise(depth: np.ndarray) -> np.ndarray:
    """Depth -> float32 in [0, 1] by robust (2nd/98th) percentiles; larger = nearer."""
    d = np.asarray(depth, dtype=np.float32)
    finite = np.isfinite(d)
    if not finite.any():
        return np.zeros(d.shape, np.float32)
    lo, hi = np.percentile(d[finite], [2, 98])
    if hi - lo <= 1e-12:
        return np.zeros(d.shape, np.float32)
    out = (np.where(finite, d, lo) - lo) / (hi - lo)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def depth_to_image(depth: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """Depth (larger = nearer, e.g. Depth Anything's relative inverse depth) as a uint8
    image, near = bright, optionally resized to size = (w, h)."""
    d = _normalise(depth)
    if size is not None and (d.shape[1], d.shape[0]) != tuple(size):
        d = cv2.resize(d, tuple(size), interpolation=cv2.INTER_LINEAR)
    return np.clip(np.rint(d * 255.0), 0, 255).astype(np.uint8)


def _floor(d: np.ndarray) -> np.ndarray:
    """Floor pixels of a small normalised depth map (see staging_area)."""
    h, w = d.shape
    d = cv2.GaussianBlur(d, (0, 0), max(1.0, h / 128))
    gy = np.zeros_like(d)
    gy[1:-1] = (d[2:] - d[:-2]) * 0.5  # change of nearness per row going down
    gy[0], gy[-1] = gy[1], gy[-2]
    bottom = gy[int(h * 0.85) :]
    typical = float(np.median(bottom[bottom > 0])) if (bottom > 0).any() else 0.0
    # A floor's inverse depth grows steadily towards the camera: a clearly positive
    # gradient. Walls (gy ~ 0) and the ceiling (gy < 0) fail this test.
    thr = max(0.25 * typical, 0.05 / h)
    cand = (gy > thr).astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    cand = cv2.morphologyEx(cand, cv2.MORPH_OPEN, k)
    n, labels = cv2.connectedComponents(cand, connectivity=8)
    touching = np.unique(labels[-max(3, h // 25) :])  # the floor reaches the bottom edge
    floor = np.isin(labels, touching[touching > 0])
    floor = remove_specks(floor, max(4, h * w // 200))
    return fill_holes(floor)


def _lower_hull(xs: np.ndarray, ys: np.ndarray, width: int) -> np.ndarray:
    """The greatest convex function below the points (xs, ys): their lower convex hull
    in numbers, which is the upper envelope in the image (y grows downwards),
    evaluated at every column 0..width-1."""
    hull: list[tuple[float, float]] = []
    for p in zip(xs.tolist(), ys.tolist(), strict=True):
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) <= 0:
                hull.pop()  # hull[-1] is not below the chord hull[-2] -> p: drop it
            else:
                break
        hull.append(p)
    hx, hy = zip(*hull, strict=True)
    return np.interp(np.arange(width), hx, hy).astype(np.float32)


def staging_area(depth: np.ndarray, image: np.ndarray | None = None, band: float = 0.35) -> np.ndarray:
    """Where furniture may be placed: the floor plus a band above it (HxW bool).

    Heuristic, for an interior photo taken at standing height:
    1. the floor is where nearness (inverse depth) rises steadily towards the bottom
       of the frame: vertical gradient clearly positive (a quarter of the gradient
       typical of the bottom rows). Walls have ~0 vertical gradient, the ceiling a
       negative one. Of those pixels keep the regions touching the bottom edge,
       drop specks and fill holes (furniture standing on it);
    2. per column, the floor's top row t(x), median-filtered across columns;
    3. furniture hides the floor behind it and pushes t(x) down. Seen from inside a
       room, the floor's far edge (wall bases, corners) is a convex curve in image
       coordinates (y down), so t(x) is replaced by the greatest convex function
       below it (its lower hull), which bridges those occlusion notches;
    4. the area is every row from t(x) - band * (H - t(x)) down to the bottom edge,
       so objects standing on the floor fit, but never the top 15% (ceiling).
    When no floor is found the mask is empty: callers say so rather than guess.
    The mask has the size of `image` when given (depth maps are often smaller than
    the photo), else of `depth`."""
    depth = np.asarray(depth, dtype=np.float32)
    H, W = depth.shape[:2] if image is None else np.asarray(image).shape[:2]
    s = _WORK / max(depth.shape)
    small = cv2.resize(
        _normalise(depth),
        (max(8, round(depth.shape[1] * s)), max(8, round(depth.shape[0] * s))),
        interpolation=cv2.INTER_AREA,
    )
    h, w = small.shape
    floor = _floor(small)

    has = floor.any(axis=0)
    if not has.any():
        return np.zeros((H, W), bool)
    cols = np.flatnonzero(has).astype(np.float32)
    tops = floor.argmax(axis=0)[has].astype(np.float32)
    if tops.size >= 5:  # single-column spikes must not drive the hull
        tops = cv2.medianBlur(tops.reshape(1, -1), 5).ravel()
    top = _lower_hull(cols, tops, w)
    start = np.maximum(top - band * (h - top), CEILING * h)
    # Build the mask at full size from the per-column start rows (no blocky upsampling).
    start_full = cv2.resize(start.reshape(1, -1) / h, (W, 1), interpolation=cv2.INTER_LINEAR).ravel() * H
    start_full = np.maximum(start_full, np.ceil(CEILING * H))
    rows = np.arange(H, dtype=np.float32)[:, None]
    return rows >= start_full[None, :]
