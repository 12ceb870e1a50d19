"""Staging: styles and room types -> prompts, ControlNet-guided inpaint of the mask or staging area."""

from __future__ import annotations

from app.engine.diffusion.inpaint import InpaintJob, run_inpaint
from app.engine.diffusion.prompts import staging_prompts
from app.engine.requests import StageRequest
from app.engine.results import GenerationResult
from app.engine.vision.depth import staging_area
from app.errors import UserError


def run_stage(request: StageRequest, ctx) -> GenerationResult:
    prompt, negative = staging_prompts(request.style, request.room, request.prompt, request.negative, request.avoid)
    mask = request.mask
    if mask is None:
        device = ctx.models.device(request.device)
        mask = staging_area(request.photo, ctx.models, ctx.models.model_set(request), device)
        if not mask.any():
            raise UserError("no floor was found to stage on: draw or select the area to furnish")
    job = InpaintJob(prompt=prompt, negative=negative, mask=mask, inpaint_scale=request.inpaint_scale,
                     lora=ctx.models.lora_file(request), lora_scale=request.lora_scale)
    return run_inpaint(request, job, ctx)
