"""Metric depth (metres) from one photo, through transformers: Depth Pro (which also estimates
the field of view) or a Depth Anything metric model (depth_estimation_type = "metric")."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from app.engine.geometry.camera import DEFAULT_HFOV_DEG
from app.errors import UserError

log = logging.getLogger(__name__)

WORK_SIDE = 1536  # the photo is reduced to this long side first (Depth Pro's own working size)
NEAR_M, FAR_M = 0.05, 200.0  # depths outside this are not a room's
MIN_FOV, MAX_FOV = 15.0, 160.0  # a field of view outside this is not a camera's (fisheyes aside)


class MetricDepth:
    """`predict(photo, focal_px)` -> (depth in metres at the reduced photo's size, the model's
    horizontal field of view in degrees or None)."""

    def __init__(self, path: Path, device: str, dtype):
        # transformers and torch load lazily: the engine imports without them until a job needs a model
        from transformers import AutoConfig, AutoImageProcessor, AutoModelForDepthEstimation

        config = AutoConfig.from_pretrained(path, local_files_only=True)
        self.kind = config.model_type
        if self.kind == "depth_anything" and getattr(config, "depth_estimation_type", "relative") != "metric":
            raise UserError(f"{Path(path).name}: a relative depth model; the room in 3D needs a metric one "
                            f"(Depth Pro, or a Depth Anything 'metric' model)")
        if self.kind not in ("depth_pro", "depth_anything"):
            raise UserError(f"{Path(path).name}: '{self.kind}' is not a metric depth model RoomStager knows "
                            f"(Depth Pro or Depth Anything metric)")
        self.processor = AutoImageProcessor.from_pretrained(path, local_files_only=True)
        self.model = AutoModelForDepthEstimation.from_pretrained(path, local_files_only=True, dtype=dtype)
        self.model = self.model.to(device).eval()
        self.device, self.dtype = device, dtype

    def predict(self, photo: np.ndarray, focal_px: float | None = None) -> tuple[np.ndarray, float | None]:
        """Depth along the optical axis in metres, HxW float32 of the photo reduced to WORK_SIDE.

        `focal_px` (at the photo's own size) is the known focal length, e.g. from EXIF: Depth Pro
        scales its canonical inverse depth with it instead of with its own field of view."""
        import torch  # lazily, as above

        H, W = photo.shape[:2]
        s = min(1.0, WORK_SIDE / max(H, W))
        small = photo if s >= 1.0 else cv2.resize(photo, (max(1, round(W * s)), max(1, round(H * s))),
                                                  interpolation=cv2.INTER_AREA)
        h, w = small.shape[:2]
        inputs = self.processor(images=small, return_tensors="pt")
        pixels = inputs["pixel_values"].to(self.device, self.dtype)
        with torch.inference_mode():
            out = self.model(pixel_values=pixels)
        raw = out.predicted_depth[0].float().cpu().numpy()
        raw = cv2.resize(raw, (w, h), interpolation=cv2.INTER_LINEAR)
        fov = None
        if self.kind == "depth_pro":
            fov_t = getattr(out, "field_of_view", None)
            fov = float(fov_t.reshape(-1)[0]) if fov_t is not None else None
            if fov is not None and not (MIN_FOV < fov < MAX_FOV):
                log.warning("the depth model's field of view %.1f deg is not a camera's; ignored", fov)
                fov = None
            # canonical inverse depth: 1 / metres = raw * width / focal (focal and width in the same pixels)
            f_over_w = (focal_px / W) if focal_px else (0.5 / np.tan(np.radians(fov) / 2) if fov else None)
            if f_over_w is None:
                f_over_w = 0.5 / np.tan(np.radians(DEFAULT_HFOV_DEG) / 2)
            depth = f_over_w / np.maximum(raw, 1e-6)
        else:
            depth = raw  # Depth Anything metric: metres already
        return np.clip(np.nan_to_num(depth, nan=FAR_M, posinf=FAR_M), NEAR_M, FAR_M).astype(np.float32), fov


def load_metric_depth(manager, path: Path, device) -> MetricDepth:
    return manager.cached("metric_depth", path, device, lambda: MetricDepth(path, device.device, device.dtype))
