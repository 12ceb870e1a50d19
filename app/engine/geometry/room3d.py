"""The room3d job: Room3DRequest -> Room3DResult (metric depth model, camera, the room)."""

from __future__ import annotations

import time

from app.engine.geometry.camera import focal_px_from_35mm, make_intrinsics
from app.engine.geometry.metric_depth import load_metric_depth
from app.engine.geometry.room import reconstruct
from app.engine.models.optional import require_optional
from app.engine.requests import Room3DRequest
from app.engine.results import Room3DResult


def run_room3d(request: Room3DRequest, ctx) -> Room3DResult:
    t0 = time.perf_counter()
    photo = request.photo
    H, W = photo.shape[:2]
    device = ctx.models.device(request.device)
    models = ctx.models.model_set(request)
    catalog = ctx.models.catalog(request.models)
    name, path = require_optional(catalog, models.name, "metric_depth")
    ctx.progress(0, 0, "estimating the room's depth in metres")
    estimator = load_metric_depth(ctx.models, path, device)
    t1 = time.perf_counter()
    focal = focal_px_from_35mm(request.focal_35mm, (W, H)) if request.focal_35mm else None
    depth, fov = estimator.predict(photo, focal_px=focal)
    t2 = time.perf_counter()
    ctx.check_cancel()
    camera = make_intrinsics((W, H), focal_35mm=request.focal_35mm, hfov_deg=fov)
    ctx.progress(0, 0, "building the room")
    result = reconstruct(depth, camera, request.result if request.result is not None else photo,
                         max_side=request.max_side, points_only=request.points)
    result.measurements["depth_model"] = name
    result.timings.update(load_s=t1 - t0, depth_s=t2 - t1, build_s=time.perf_counter() - t2)
    return result
