"""Repaint: a new background around what stays, a new view through the windows, new walls,
floor, ceiling or sky — on the same inpaint core as staging (crop -> guides -> pipeline ->
paste back), so every pixel outside the repainted region is the original's.

- keep: everything except the mask is repainted; the mask is softened outward by the blur
  and inverted, so the kept object itself is never touched;
- region: the region comes from semantic segmentation (automask.regions);
- mask: the mask is the region.
The region is never grown: `blur_px` fades the repaint in from the region's edge.
Surfaces (walls, floor, ceiling) keep the room's lines: the Canny and depth guides of the
photo itself, so a new floor follows the perspective and stops at the skirting. A new view
or sky, and `noise_background`, guide only by the structure around the region, and
`noise_background` starts from noise (strength 1) instead of what is there.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from app.engine.automask.regions import SURFACES, find_region
from app.engine.diffusion.inpaint import InpaintJob, run_inpaint
from app.engine.requests import RepaintRequest
from app.engine.results import GenerationResult
from app.imaging import masks

BLUR_AT_1024 = 8  # px of soft edge at a 1024 px long side
_CONTEXT = {
    "window-view": "the view through the window, realistic photo, natural daylight",
    "sky": "the sky, realistic photo",
    "walls": "the walls of the room, realistic interior photo, even light",
    "floor": "the floor of the room, realistic interior photo, perspective",
    "ceiling": "the ceiling of the room, realistic interior photo",
    None: "realistic photo, natural light, professional real estate photography",
}
REPAINT_NEGATIVE = "people, text, watermark, blurry, distorted, warped lines, lowres, cartoon, illustration"


def repaint_region(request: RepaintRequest, ctx) -> tuple[np.ndarray, str | None]:
    """(the region to repaint at photo size, the model that found it or None)."""
    if request.mode == "keep":
        return ~np.asarray(request.mask, bool), None
    if request.mode == "mask":
        return np.asarray(request.mask, bool).copy(), None
    return find_region(request, ctx)


def prompts_for(request: RepaintRequest) -> tuple[tuple[str, ...], str]:
    """The user's prompts with a few words on what the region is, and the negative prompt."""
    context = _CONTEXT.get(request.region if request.mode == "region" else None, _CONTEXT[None])
    prompts = tuple(f"{p}, {context}" for p in request.all_prompts)
    negatives = [n for n in (request.negative.strip(), REPAINT_NEGATIVE) if n]
    return prompts, ", ".join(negatives)


def run_repaint(request: RepaintRequest, ctx) -> GenerationResult:
    h, w = request.photo.shape[:2]
    region, found_by = repaint_region(request, ctx)
    blur = request.blur_px if request.blur_px is not None else masks.scale_px(BLUR_AT_1024, (w, h))
    surface = request.mode == "region" and request.region in SURFACES
    # the region exactly (never grown), faded in over `blur` px from its edge
    run = dataclasses.replace(request, grow_px=0, feather_px=blur,
                              strength=1.0 if request.noise_background else request.strength)
    prompts, negative = prompts_for(request)
    job = InpaintJob(prompt=prompts[0], negative=negative, mask=region, prompts=prompts,
                     blank_guides_in_mask=request.noise_background or (request.mode == "region" and not surface))
    result = run_inpaint(run, job, ctx)
    # the prompts as the user wrote them, one per image (the context words are the app's)
    per_prompt = len(result.images) // len(prompts)
    result.prompts = [p for p in request.all_prompts for _ in range(per_prompt)]
    result.timings["region_px"] = int(region.sum())
    if found_by:
        result.timings["region_model"] = found_by
    return result
