"""De-furnishing: the masked objects plus a margin ring become empty room.

Diffusion models re-create furniture where furniture was, and shadows or
fragments left outside a tight mask invite it; so the mask is widened by a
margin ring, the hole is pre-filled from its surroundings, and the ControlNets
see only the structure around the hole.
"""

from __future__ import annotations

from app.engine.inpaint import InpaintJob, check_mask, run_inpaint
from app.engine.presets import defurnish_prompts
from app.engine.requests import DefurnishRequest, GenerationResult
from app.errors import UserError
from app.imaging import masks

MARGIN_AT_1024 = 20  # px of ring at a 1024 px long side


def removal_mask(request: DefurnishRequest):
    check_mask(request.photo, request.mask)
    if request.mask is None or not request.mask.any():
        raise UserError("de-furnishing needs a mask of the objects to remove (the mask is empty)")
    h, w = request.mask.shape
    margin = request.margin_px if request.margin_px is not None else masks.scale_px(MARGIN_AT_1024, (w, h))
    return request.mask | masks.margin_ring(request.mask, margin) if margin > 0 else request.mask


def run_defurnish(request: DefurnishRequest, ctx) -> GenerationResult:
    prompt, negative = defurnish_prompts(request.prompt, request.negative)
    job = InpaintJob(prompt=prompt, negative=negative, mask=removal_mask(request), prefill=request.prefill,
                     lora=request.lora, lora_scale=request.lora_scale, blank_guides_in_mask=True)
    return run_inpaint(request, job, ctx)
