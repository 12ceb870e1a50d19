"""Synthetic photos for the benchmarks: room-like content at any size."""

from __future__ import annotations

import cv2
import numpy as np


def synthetic_room(w: int, h: int, seed: int = 0) -> np.ndarray:
    """A room-like photo: wall, floor, a few boxes, fine noise (so JPEG and SAM see texture)."""

    rng = np.random.default_rng(seed)
    img = np.empty((h, w, 3), np.uint8)
    img[: int(h * 0.6)] = (205, 198, 186)
    img[int(h * 0.6):] = (128, 96, 70)
    for _ in range(6):
        x, y = int(rng.integers(0, w * 0.8)), int(rng.integers(h * 0.4, h * 0.8))
        cv2.rectangle(img, (x, y), (x + w // 8, y + h // 8), tuple(int(c) for c in rng.integers(20, 230, 3)), -1)
    noise = rng.integers(-6, 7, (h // 4, w // 4, 1), dtype=np.int16)
    noise = cv2.resize(noise.astype(np.float32), (w, h))[..., None]
    return np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
