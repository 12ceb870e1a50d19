"""What the vision models find, as plain data: semantic label maps and detector boxes."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from app.engine.vision.labels import resolve_label_ids


@dataclass
class SegMap:
    """A semantic label map, usually smaller than the photo, with its label names."""

    labels: np.ndarray  # h x w int32 class ids
    id2label: dict[int, str]
    scores: np.ndarray | None = None  # h x w float32 confidence of the chosen class
    _ids: dict | None = field(default=None, repr=False)

    @property
    def ids(self) -> dict[str, set[int]]:
        if self._ids is None:
            self._ids = resolve_label_ids(self.id2label)
        return self._ids

    def small_mask(self, ids) -> np.ndarray:
        ids = sorted(ids)
        if not ids:
            return np.zeros(self.labels.shape, bool)
        return np.isin(self.labels, ids)

    def mask(self, ids, shape: tuple[int, int]) -> np.ndarray:
        """Pixels of these classes at photo size (h, w)."""
        return upscale_mask(self.small_mask(ids), shape)


def upscale_mask(small: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    if small.shape == (h, w):
        return small.astype(bool, copy=True)
    if not small.any():
        return np.zeros((h, w), bool)
    return cv2.resize(small.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) >= 0.5


@dataclass
class Detection:
    label: str  # the query phrase it matched
    score: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in photo pixels


def box_iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
