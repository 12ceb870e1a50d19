"""Monocular depth (Depth Anything through transformers) for guides and the staging area."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)


class DepthEstimator:
    """Relative inverse depth (near = larger), as Depth Anything predicts it."""

    def __init__(self, path: Path, device: str, dtype):
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation

        self.processor = AutoImageProcessor.from_pretrained(path, local_files_only=True)
        self.model = AutoModelForDepthEstimation.from_pretrained(
            path, local_files_only=True, dtype=dtype
        ).to(device).eval()
        self.device, self.dtype = device, dtype
        self._last: tuple[str, np.ndarray] | None = None

    def predict(self, image: np.ndarray, size: tuple[int, int] | None = None, key: str | None = None) -> np.ndarray:
        """Depth as float32 at `size` (w, h), default the image's size. `key` caches the last photo."""
        import torch

        if key is not None and self._last is not None and self._last[0] == key:
            raw = self._last[1]
        else:
            inputs = self.processor(images=image, return_tensors="pt")
            pixels = inputs["pixel_values"].to(self.device, self.dtype)
            with torch.inference_mode():
                raw = self.model(pixel_values=pixels).predicted_depth[0].float().cpu().numpy()
            if key is not None:
                self._last = (key, raw)
        w, h = size or (image.shape[1], image.shape[0])
        return cv2.resize(raw, (w, h), interpolation=cv2.INTER_CUBIC)
