"""De-furnishing: the masked objects plus a margin ring become empty room.

Diffusion models re-create furniture where furniture was, and shadows or
fragments left outside a tight mask invite it. So:
1. the mask is widened by a margin ring (shadows and contact marks go too);
2. the hole is pre-filled from its surroundings before diffusion: a classical
   fill that needs no weights, or a dedicated erase model (LaMa) from the catalog
   (`prefill="erase"`), so nothing of the object survives into the init image;
3. the ControlNets see only the room's structure: Canny edges of the
   surroundings with their long lines (floor/wall junctions, skirting, window
   frames) bridged across the hole, and the depth of the surroundings continued
   across it instead of the ghost of the sofa;
4. empty-room prompts with furniture negatives, and the optional de-furnishing LoRA.
"""

from __future__ import annotations

from app import settings
from app.engine.diffusion.eraser import eraser_for
from app.engine.diffusion.inpaint import InpaintJob, run_inpaint
from app.engine.diffusion.prompts import defurnish_prompts
from app.engine.requests import DefurnishRequest
from app.engine.results import GenerationResult
from app.imaging import masks


def removal_mask(request: DefurnishRequest):
    """The objects plus their margin ring (the request has checked that the mask is not empty)."""
    w, h = request.size
    margin = request.margin_px if request.margin_px is not None else masks.scale_px(settings.MARGIN_AT_1024, (w, h))
    return request.mask | masks.margin_ring(request.mask, margin) if margin > 0 else request.mask


def run_defurnish(request: DefurnishRequest, ctx) -> GenerationResult:
    prompt, negative = defurnish_prompts(request.prompt, request.negative)
    mask = removal_mask(request)
    prefill_fn = eraser_for(request, ctx) if request.prefill == "erase" else None
    job = InpaintJob(prompt=prompt, negative=negative, mask=mask,
                     prefill="none" if prefill_fn is not None else request.prefill,
                     lora=ctx.models.lora_file(request), lora_scale=request.lora_scale, blank_guides_in_mask=True,
                     prefill_fn=prefill_fn)
    return run_inpaint(request, job, ctx)
