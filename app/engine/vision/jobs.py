"""The vision jobs: click selection (segment, embed) and the guides (Canny, depth, staging area)."""

from __future__ import annotations

import time

from app.engine.requests import EmbedRequest, GuidesRequest, SegmentRequest, array_digest
from app.engine.results import EmbedResult, GuidesResult, SegmentResult
from app.engine.vision.depth import depth_estimator, staging_area
from app.engine.vision.sam_loader import segmenter_for
from app.imaging import guides


def run_segment(request: SegmentRequest, ctx) -> SegmentResult:
    device = ctx.models.device(request.device)
    segmenter = segmenter_for(ctx.models, ctx.models.model_set(request), device)
    return segmenter.segment(request.photo, request.points, request.box, request.multimask, request.mask_index)


def run_embed(request: EmbedRequest, ctx) -> EmbedResult:
    t0 = time.perf_counter()
    device = ctx.models.device(request.device)
    segmenter = segmenter_for(ctx.models, ctx.models.model_set(request), device)
    ctx.progress(0, 0, "analysing the photo for click selection")
    key, cached, _ = segmenter.embed(request.photo)
    return EmbedResult(key=key, cached=cached, timings={"embed_s": time.perf_counter() - t0})


def run_guides(request: GuidesRequest, ctx) -> GuidesResult:
    t0 = time.perf_counter()
    device = ctx.models.device(request.device)
    models = ctx.models.model_set(request)
    photo = request.photo
    h, w = photo.shape[:2]
    key = array_digest(photo)
    ctx.progress(0, 0, "estimating depth")
    area = staging_area(photo, ctx.models, models, device, key=key)
    depth = depth_estimator(ctx.models, models, device).predict(photo, size=(w, h), key=key)
    canny = guides.canny(photo, request.canny_low, request.canny_high)
    return GuidesResult(canny=canny, depth=guides.depth_to_image(depth), staging_area=area,
                        timings={"guides_s": time.perf_counter() - t0})
