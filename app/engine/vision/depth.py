"""Monocular depth (Depth Anything through transformers) for guides, the floor and the staging area."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from app.engine.models.entries import ModelSet
from app.engine.runtime.device import DeviceInfo
from app.errors import UserError
from app.imaging import guides

log = logging.getLogger(__name__)

AREA_SIDE = 768  # the floor and staging area are coarse regions: estimated on a small copy


class DepthEstimator:
    """Relative inverse depth (near = larger), as Depth Anything predicts it."""

    def __init__(self, path: Path, device: str, dtype):
        # heavy: imported with the first depth model, not with the engine
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation

        self.processor = AutoImageProcessor.from_pretrained(path, local_files_only=True)
        self.model = AutoModelForDepthEstimation.from_pretrained(
            path, local_files_only=True, dtype=dtype
        ).to(device).eval()
        self.device, self.dtype = device, dtype
        self._last: tuple[str, np.ndarray] | None = None

    def predict(self, image: np.ndarray, size: tuple[int, int] | None = None, key: str | None = None) -> np.ndarray:
        """Depth as float32 at `size` (w, h), default the image's size. `key` caches the last photo."""
        import torch  # heavy: loaded with the first depth model

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


def depth_estimator(manager, models: ModelSet, device: DeviceInfo) -> DepthEstimator:
    """The set's depth model on this device, loaded once."""
    if models.depth is None:
        raise UserError(f"model set '{models.name}' has no depth model")
    return manager.cached("depth", models.depth, device,
                          lambda: DepthEstimator(models.depth, device.device, device.dtype))


def depth_of_small_copy(photo: np.ndarray, manager, models: ModelSet, device: DeviceInfo,
                        key: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(small copy, its depth): floor and staging area are coarse regions, estimated at <= 768 px."""
    h, w = photo.shape[:2]
    scale = min(1.0, AREA_SIDE / max(h, w))
    small = cv2.resize(photo, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return small, depth_estimator(manager, models, device).predict(small, key=key)


def staging_area(photo: np.ndarray, manager, models: ModelSet, device: DeviceInfo,
                 key: str | None = None) -> np.ndarray:
    """The floor and a band above it, at full photo size (bool); empty when no floor is found."""
    h, w = photo.shape[:2]
    small, depth = depth_of_small_copy(photo, manager, models, device, key)
    area = guides.staging_area(depth, small)
    return cv2.resize(area.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
