"""Staging: styles and room types -> prompts, ControlNet-guided inpaint of the mask or staging area."""

from __future__ import annotations

import cv2
import numpy as np

from app.engine.inpaint import InpaintJob, check_mask, run_inpaint
from app.engine.presets import staging_prompts
from app.engine.requests import GenerationResult, StageRequest
from app.errors import UserError
from app.imaging import guides

AREA_SIDE = 768  # the staging area is a coarse region: estimate it on a small copy


def depth_of_small_copy(photo: np.ndarray, ctx, models, device, key: str | None = None):
    """(small copy, its depth): floor and staging area are coarse regions, estimated at <= 768 px."""
    h, w = photo.shape[:2]
    scale = min(1.0, AREA_SIDE / max(h, w))
    small = cv2.resize(photo, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return small, ctx.models.depth(models, device).predict(small, key=key)


def staging_area(photo: np.ndarray, ctx, models, device, key: str | None = None) -> np.ndarray:
    """The floor and a band above it, at full photo size (bool); empty when no floor is found."""
    h, w = photo.shape[:2]
    small, depth = depth_of_small_copy(photo, ctx, models, device, key)
    area = guides.staging_area(depth, small)
    return cv2.resize(area.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)


def run_stage(request: StageRequest, ctx) -> GenerationResult:
    prompt, negative = staging_prompts(request.style, request.room, request.prompt, request.negative, request.avoid)
    mask = request.mask
    check_mask(request.photo, mask)
    if mask is None:
        device = ctx.models.device(request.device)
        mask = staging_area(request.photo, ctx, ctx.models.model_set(request), device)
        if not mask.any():
            raise UserError("no floor was found to stage on: draw or select the area to furnish")
    elif not mask.any():
        raise UserError("the mask is empty: select the area to furnish")
    job = InpaintJob(prompt=prompt, negative=negative, mask=mask, inpaint_scale=request.inpaint_scale,
                     lora=ctx.models.lora_file(request), lora_scale=request.lora_scale)
    return run_inpaint(request, job, ctx)
