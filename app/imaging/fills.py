"""Hole fills from the surroundings, needing no weights: classical (OpenCV) and smooth (Laplace).

Used to pre-fill a hole before diffusion (nothing of a removed object survives into
the init image) and to continue a depth map across where furniture stood."""

from __future__ import annotations

import cv2
import numpy as np

from app.imaging import masks


def classical_fill(image: np.ndarray, mask: np.ndarray, method: str = "telea") -> np.ndarray:
    """Fill `mask` from its surroundings (OpenCV Telea / Navier-Stokes), needing no weights.

    A wide hole is filled on a reduced copy (hole half-width ~12 px there) and scaled
    back, then only a thin rim is refined at full size: no long streaks smeared from
    the edge into the middle, and the cost no longer grows with hole area x radius.
    Works on RGB and single-channel uint8 images."""
    flags = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}[method]
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    if not m.any():
        return image
    h, w = m.shape
    half_width = float(cv2.distanceTransform(m, cv2.DIST_L2, 3).max())
    if half_width <= 12:
        return cv2.inpaint(image, m * 255, max(3, int(0.01 * max(h, w))), flags)
    f = max(12.0 / half_width, 16.0 / min(h, w))
    sw, sh = max(8, round(w * f)), max(8, round(h * f))
    small = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
    small_mask = (cv2.resize(m.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA) > 0).astype(np.uint8)
    filled = cv2.inpaint(small, small_mask * 255, 3, flags)
    up = cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC)
    out = image.copy()
    hole = m.astype(bool)
    out[hole] = up[hole]
    rim = hole & ~masks.shrink(hole, 3)
    return cv2.inpaint(out, rim.astype(np.uint8) * 255, 3, flags)


def smooth_fill(image: np.ndarray, mask: np.ndarray, work: int = 128) -> np.ndarray:
    """Fill `mask` in a single-channel image with the smoothest surface that meets the
    surroundings (Laplace's equation, solved coarse to fine on a copy of at most `work` px).

    A plane's inverse depth is affine in image coordinates, and an affine ramp is filled
    exactly: floors and walls continue straight across where the furniture stood."""
    hole = np.asarray(mask, bool)
    if not hole.any() or hole.all():
        return image
    h, w = hole.shape
    valid = (~hole).astype(np.float32)
    values = image.astype(np.float32) * valid
    levels = []
    size = (w, h)
    while True:
        levels.append(size)
        if max(size) <= 16:
            break
        size = (max(1, size[0] // 2), max(1, size[1] // 2))
    levels = [s for s in levels if max(s) <= work] or [levels[-1]]
    u = None
    for lw, lh in reversed(levels):  # coarse to fine
        wsum = cv2.resize(valid, (lw, lh), interpolation=cv2.INTER_AREA)
        vsum = cv2.resize(values, (lw, lh), interpolation=cv2.INTER_AREA)
        known = wsum > 0.999  # cells with no hole pixel in them keep their average
        target = np.where(known, vsum / np.maximum(wsum, 1e-6), 0).astype(np.float32)
        if u is None:
            u = np.full((lh, lw), float(target[known].mean()) if known.any() else 0.0, np.float32)
        else:
            u = cv2.resize(u, (lw, lh), interpolation=cv2.INTER_LINEAR)
        u[known] = target[known]
        for _ in range(60 if max(lw, lh) <= 16 else 40):
            p = np.pad(u, 1, mode="edge")
            avg = 0.25 * (p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:])
            u = np.where(known, u, avg)
    up = cv2.resize(u, (w, h), interpolation=cv2.INTER_LINEAR)
    out = image.copy()
    out[hole] = np.clip(np.rint(up[hole]), 0, 255).astype(image.dtype) if image.dtype == np.uint8 else up[hole]
    return out
