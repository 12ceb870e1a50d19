"""Furniture-shaped masks and furniture painted into them, for the de-furnishing evaluation.

Silhouettes standing on the floor of an empty-room photo (sofa, table, chair, lamp,
plant, cabinet, bed), and furniture painted into such a mask with a contact shadow
reaching just outside it (the case the margin ring exists for).
"""

from __future__ import annotations

import cv2
import numpy as np

from app.imaging import masks


def _poly(mask, pts):
    cv2.fillPoly(mask, [np.round(np.asarray(pts)).astype(np.int32)], 1)


def furniture_shape(kind: str, w: int, h: int, x: float, bottom: float, size: float) -> np.ndarray:
    """A silhouette standing on the floor: its base at row `bottom`, centred at column `x`,
    `size` = its width in pixels. Kinds: sofa, table, chair, lamp, plant, cabinet, bed."""
    m = np.zeros((h, w), np.uint8)
    s = size
    b = bottom
    if kind == "sofa":
        cv2.rectangle(m, (int(x - s / 2), int(b - 0.42 * s)), (int(x + s / 2), int(b - 0.06 * s)), 1, -1)
        cv2.rectangle(m, (int(x - s / 2), int(b - 0.62 * s)), (int(x + s / 2), int(b - 0.3 * s)), 1, -1)
        for sx in (-1, 1):
            cv2.rectangle(m, (int(x + sx * s / 2 - 0.08 * s), int(b - 0.5 * s)), (int(x + sx * s / 2), int(b - 0.06 * s)),
                          1, -1)
            cv2.rectangle(m, (int(x + sx * 0.42 * s), int(b - 0.06 * s)), (int(x + sx * 0.45 * s), int(b)), 1, -1)
    elif kind == "table":
        cv2.ellipse(m, (int(x), int(b - 0.45 * s)), (int(s / 2), int(0.1 * s)), 0, 0, 360, 1, -1)
        for sx in (-0.38, 0.38):
            cv2.rectangle(m, (int(x + sx * s - 0.03 * s), int(b - 0.45 * s)), (int(x + sx * s + 0.03 * s), int(b)), 1, -1)
    elif kind == "chair":
        cv2.rectangle(m, (int(x - 0.3 * s), int(b - 1.1 * s)), (int(x + 0.3 * s), int(b - 0.5 * s)), 1, -1)
        cv2.rectangle(m, (int(x - 0.4 * s), int(b - 0.55 * s)), (int(x + 0.4 * s), int(b - 0.42 * s)), 1, -1)
        for sx in (-0.35, 0.35):
            cv2.rectangle(m, (int(x + sx * s - 0.04 * s), int(b - 0.45 * s)), (int(x + sx * s + 0.04 * s), int(b)), 1, -1)
    elif kind == "lamp":
        _poly(m, [(x - 0.5 * s, b - 1.6 * s), (x + 0.5 * s, b - 1.6 * s), (x + 0.3 * s, b - 2.1 * s),
                  (x - 0.3 * s, b - 2.1 * s)])
        cv2.rectangle(m, (int(x - 0.05 * s), int(b - 1.6 * s)), (int(x + 0.05 * s), int(b)), 1, -1)
        cv2.ellipse(m, (int(x), int(b - 0.03 * s)), (int(0.3 * s), int(0.06 * s)), 0, 0, 360, 1, -1)
    elif kind == "plant":
        _poly(m, [(x - 0.3 * s, b - 0.5 * s), (x + 0.3 * s, b - 0.5 * s), (x + 0.22 * s, b), (x - 0.22 * s, b)])
        cv2.ellipse(m, (int(x), int(b - 0.95 * s)), (int(0.5 * s), int(0.5 * s)), 0, 0, 360, 1, -1)
    elif kind == "cabinet":
        cv2.rectangle(m, (int(x - s / 2), int(b - 1.3 * s)), (int(x + s / 2), int(b)), 1, -1)
    elif kind == "bed":
        cv2.rectangle(m, (int(x - s / 2), int(b - 0.35 * s)), (int(x + s / 2), int(b)), 1, -1)
        cv2.rectangle(m, (int(x - s / 2), int(b - 0.75 * s)), (int(x - 0.42 * s), int(b)), 1, -1)
    else:
        raise ValueError(kind)
    return m.astype(bool)


KINDS = ("sofa", "table", "chair", "lamp", "plant", "cabinet", "bed")
_REL_SIZE = {"sofa": 0.35, "table": 0.22, "chair": 0.1, "lamp": 0.07, "plant": 0.09, "cabinet": 0.16, "bed": 0.4}


def generate_mask(shape: tuple[int, int], rng: np.random.Generator, count: int | None = None) -> np.ndarray:
    """1-3 (or `count`) furniture silhouettes standing in the lower part of the frame."""
    h, w = shape
    count = int(rng.integers(1, 4)) if count is None else int(count)
    out = np.zeros((h, w), bool)
    for _ in range(count):
        kind = KINDS[int(rng.integers(len(KINDS)))]
        size = _REL_SIZE[kind] * w * float(rng.uniform(0.8, 1.2))
        bottom = h * float(rng.uniform(0.72, 0.95))
        x = w * float(rng.uniform(0.2, 0.8))
        out |= furniture_shape(kind, w, h, x, bottom, size)
    if not out.any():  # a photo so small the shapes vanished
        out[int(h * 0.6):int(h * 0.85), int(w * 0.35):int(w * 0.65)] = True
    return out


def paint_furniture(photo: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
                    shadow_px: int) -> np.ndarray:
    """Furniture painted into `mask` (shaded fabric/wood colours, some texture) with a soft
    contact shadow that reaches up to `shadow_px` beyond the mask's lower edge."""
    out = photo.astype(np.float32)
    h, w = mask.shape
    if shadow_px > 0:
        below = masks.grow(mask, shadow_px) & ~mask
        dist = cv2.distanceTransform((~mask).view(np.uint8), cv2.DIST_L2, 3)
        strength = np.clip(1.0 - dist / max(1, shadow_px), 0, 1) * 0.45
        ys = np.arange(h, dtype=np.float32)[:, None]
        rows = np.flatnonzero(mask.any(axis=1))
        # shadows fall mostly on the floor: weaker above the object's middle
        mid = (rows[0] + rows[-1]) / 2 if len(rows) else h / 2
        strength *= np.clip((ys - mid) / max(1.0, (rows[-1] - mid) if len(rows) else 1.0), 0.2, 1.0)
        out[below] *= (1.0 - strength[below])[:, None]
    colour = rng.uniform(30, 200, 3).astype(np.float32)
    grad = np.linspace(1.15, 0.75, h, dtype=np.float32)[:, None, None]
    texture = rng.normal(0, 6, (h, w, 1)).astype(np.float32)
    painted = np.clip(colour[None, None] * grad + texture, 0, 255)
    out[mask] = painted[mask]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
