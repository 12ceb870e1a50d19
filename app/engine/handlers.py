"""Request type -> the function that runs it on the worker thread."""

from __future__ import annotations

import time

from app.engine import requests as rq
from app.errors import UserError


def run_segment(request: rq.SegmentRequest, ctx) -> rq.SegmentResult:
    device = ctx.models.device(request.device)
    segmenter = ctx.models.segmenter(ctx.models.model_set(request), device)
    return segmenter.segment(request.photo, request.points, request.box, request.multimask, request.mask_index)


def run_embed(request: rq.EmbedRequest, ctx) -> rq.EmbedResult:
    t0 = time.perf_counter()
    device = ctx.models.device(request.device)
    segmenter = ctx.models.segmenter(ctx.models.model_set(request), device)
    ctx.progress(0, 0, "analysing the photo for click selection")
    key, cached, _ = segmenter.embed(request.photo)
    return rq.EmbedResult(key=key, cached=cached, timings={"embed_s": time.perf_counter() - t0})


def run_guides(request: rq.GuidesRequest, ctx) -> rq.GuidesResult:
    from app.engine.staging import staging_area
    from app.imaging import guides

    t0 = time.perf_counter()
    device = ctx.models.device(request.device)
    models = ctx.models.model_set(request)
    photo = request.photo
    h, w = photo.shape[:2]
    key = rq.array_digest(photo)
    ctx.progress(0, 0, "estimating depth")
    area = staging_area(photo, ctx, models, device, key=key)
    depth = ctx.models.depth(models, device).predict(photo, size=(w, h), key=key)
    canny = guides.canny(photo, request.canny_low, request.canny_high)
    return rq.GuidesResult(canny=canny, depth=guides.depth_to_image(depth), staging_area=area,
                           timings={"guides_s": time.perf_counter() - t0})


def handler_for(request):
    from app.engine.automask import run_automask
    from app.engine.defurnish import run_defurnish
    from app.engine.diffusion.repaint import run_repaint
    from app.engine.geometry.room3d import run_room3d
    from app.engine.staging import run_stage

    table = {
        rq.StageRequest: run_stage,
        rq.DefurnishRequest: run_defurnish,
        rq.SegmentRequest: run_segment,
        rq.EmbedRequest: run_embed,
        rq.GuidesRequest: run_guides,
        rq.AutoMaskRequest: run_automask,
        rq.RepaintRequest: run_repaint,
        rq.Room3DRequest: run_room3d,
    }
    try:
        return table[type(request)]
    except KeyError:
        raise UserError(f"the engine does not know the request type {type(request).__name__}") from None
