"""Planes in a point cloud: the floor by RANSAC, the room's axes and its ceiling.

A short numpy RANSAC: no library the app already ships fits a plane robustly (scikit-learn's
RANSACRegressor would be a 40 MB dependency for 30 lines; Open3D's segment_plane 400 MB).
Camera coordinates: x right, y down, z forward (OpenCV), metres.
"""

from __future__ import annotations

import numpy as np

CAMERA_UP = np.array([0.0, -1.0, 0.0])


def fit_plane(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares plane n.p + d = 0 (|n| = 1) through points (SVD of the centred points)."""
    centre = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - centre, full_matrices=False)
    n = vt[-1]
    return n, -float(n @ centre)


def floor_plane(points: np.ndarray, candidates: np.ndarray | None = None, threshold: float = 0.03,
                iterations: int = 300, max_tilt_deg: float = 50.0, seed: int = 0
                ) -> tuple[np.ndarray, float, np.ndarray]:
    """The floor: the plane below the camera, roughly level, with the most points within
    `threshold` metres (RANSAC), refined by least squares on its inliers.

    Returns (normal pointing up, d, inlier mask); n.p + d is then the height above the floor.
    `candidates` (bool per point) is where to draw the samples from, e.g. the lower half of the photo."""
    rng = np.random.default_rng(seed)
    pool = np.flatnonzero(candidates) if candidates is not None and candidates.sum() >= 3 else np.arange(len(points))
    if len(pool) < 3:
        raise ValueError("too few points to find the floor")
    cos_tilt = np.cos(np.radians(max_tilt_deg))
    best, best_count = None, 0
    picks = rng.choice(pool, size=(iterations, 3))
    for a, b, c in picks:
        n = np.cross(points[b] - points[a], points[c] - points[a])
        norm = np.linalg.norm(n)
        if norm < 1e-9:
            continue
        n /= norm
        if n @ CAMERA_UP < 0:
            n = -n
        d = -float(n @ points[a])
        if n @ CAMERA_UP < cos_tilt or d < 0.2:  # not level, or not below the camera (d = camera height)
            continue
        count = int(np.count_nonzero(np.abs(points @ n + d) < threshold))
        if count > best_count:
            best, best_count = (n, d), count
    if best is None:
        raise ValueError("no level plane below the camera: the floor is not in view")
    n, d = best
    for _ in range(2):  # refine on the inliers, then re-select them
        inliers = np.abs(points @ n + d) < threshold
        n, d = fit_plane(points[inliers])
        if n @ CAMERA_UP < 0:
            n, d = -n, -d
    return n, d, np.abs(points @ n + d) < threshold


def level_frame(n: np.ndarray, d: float) -> tuple[np.ndarray, np.ndarray]:
    """Rotation R and translation t taking camera coordinates to a world frame with Y up and the
    floor at y = 0, the camera straight above the origin, looking along -Z (glTF's convention)."""
    up = n / np.linalg.norm(n)
    forward = np.array([0.0, 0.0, 1.0]) - up * up[2]  # the optical axis, levelled
    if np.linalg.norm(forward) < 1e-6:  # looking straight down: any heading will do
        forward = np.array([0.0, -1.0, 0.0]) - up * -up[1]
    forward /= np.linalg.norm(forward)
    back = -forward  # glTF: the camera looks along -Z
    rot = np.stack([np.cross(up, back), up, back])  # rows: world x (to the camera's right), y, z
    t = np.array([0.0, d, 0.0])  # the camera's height above the floor
    return rot, t


def manhattan_yaw(xz: np.ndarray, bin_m: float = 0.05) -> float:
    """The rotation about the vertical (radians, in (-pi/4, pi/4]) that lines the walls up with the axes:
    seen from above, walls are lines, and their points pile up in few bins along both axes."""
    if len(xz) < 10:
        return 0.0
    span = float(np.ptp(xz, axis=0).max()) + bin_m
    bins = max(8, int(span / bin_m))

    def sharpness(angle: float) -> float:
        c, s = np.cos(angle), np.sin(angle)
        u = xz[:, 0] * c + xz[:, 1] * s
        v = -xz[:, 0] * s + xz[:, 1] * c
        hu = np.histogram(u, bins=bins)[0].astype(np.float64)
        hv = np.histogram(v, bins=bins)[0].astype(np.float64)
        return float((hu**2).sum() + (hv**2).sum())

    coarse = np.radians(np.arange(0.0, 90.0, 1.0))
    best = coarse[int(np.argmax([sharpness(a) for a in coarse]))]
    fine = best + np.radians(np.arange(-1.0, 1.01, 0.1))
    angle = float(fine[int(np.argmax([sharpness(a) for a in fine]))] % (np.pi / 2))
    return angle - np.pi / 2 if angle > np.pi / 4 else angle  # the smallest turn: width stays across the view


def ceiling_height(heights: np.ndarray, bin_m: float = 0.02) -> tuple[float | None, str]:
    """The ceiling's height above the floor: a level plane is a sharp peak in the heights of the
    points high up (walls spread evenly over every height). (height, how it was found)."""
    h = heights[np.isfinite(heights)]
    if len(h) < 50:
        return None, "too few points"
    top = float(np.percentile(h, 99.5))
    high = h[h > max(1.5, 0.5 * top)]
    if len(high) < 50:
        return None, "no ceiling in view"
    counts, edges = np.histogram(high, bins=max(4, int(np.ptp(high) / bin_m) + 1))
    peak = int(np.argmax(counts))
    typical = float(np.median(counts[counts > 0])) if (counts > 0).any() else 0.0
    if counts[peak] < max(20, 4 * typical):
        return top, "highest points (no level ceiling found: a lower bound)"
    lo, hi = edges[max(0, peak - 1)], edges[min(len(edges) - 1, peak + 2)]
    near = high[(high >= lo) & (high <= hi)]
    return float(np.median(near)), "ceiling plane"
