"""Staging and de-furnishing through the real engine with the tiny models."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from app.engine import (
    Cancelled,
    DefurnishRequest,
    Failed,
    Finished,
    InvalidRequest,
    Progress,
    SegmentRequest,
    StageRequest,
    Started,
)
from app.engine.diffusion.pipelines import pipelines_for
from app.errors import JobCancelled, UserError


def stage(engine, photo, mask, **kw):
    kw.setdefault("steps", 3)
    kw.setdefault("seed", 7)
    return engine.run(StageRequest(photo=photo, mask=mask, models="tiny", model_set="tiny", **kw))


def test_stage_changes_only_the_mask(engine, room, room_mask):
    result = stage(engine, room, room_mask)
    (out,) = result.images
    assert out.shape == room.shape and out.dtype == np.uint8
    assert result.mask.shape == room_mask.shape
    assert result.mask[room_mask].all(), "the edit mask covers the user's mask"
    outside = ~result.mask
    assert np.array_equal(out[outside], room[outside]), "pixels outside the mask are the original's"
    assert (out[room_mask] != room[room_mask]).any(axis=-1).mean() > 0.5, "the masked region was repainted"


def test_same_request_and_seed_reproduce(engine, room, room_mask):
    a = stage(engine, room, room_mask, seed=11).images[0]
    b = stage(engine, room, room_mask, seed=11).images[0]
    c = stage(engine, room, room_mask, seed=12).images[0]
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_variations_have_their_own_seeds(engine, room, room_mask):
    result = stage(engine, room, room_mask, seed=100, variations=2, steps=2)
    assert result.seeds == [100, 101]
    assert len(result.images) == 2 and not np.array_equal(*result.images)
    single = stage(engine, room, room_mask, seed=101, steps=2)
    assert np.array_equal(single.images[0], result.images[1]), "variation 2 is the job with its seed"


def test_second_job_reloads_nothing(engine, room, room_mask):
    stage(engine, room, room_mask, steps=2)
    before = engine.models.loads
    stage(engine, room, room_mask, steps=2, style="industrial", room="bedroom")
    engine.run(DefurnishRequest(photo=room, mask=room_mask, models="tiny", model_set="tiny", steps=2, seed=1))
    assert engine.models.loads == before


def test_progress_every_step_with_preview(engine, room, room_mask):
    events = []
    result = engine.run(
        StageRequest(photo=room, mask=room_mask, models="tiny", model_set="tiny", steps=4, seed=3),
        sink=events.append,
    )
    steps = [e for e in events if isinstance(e, Progress) and e.total]
    assert [e.step for e in steps] == [1, 2, 3, 4]
    h, w = result.timings["model_size"][1] // 8, result.timings["model_size"][0] // 8
    assert all(e.preview is not None and e.preview.shape == (h, w, 3) for e in steps)
    assert isinstance(events[0], Started) and isinstance(events[-1], Finished)


def test_cancel_takes_effect_within_a_step(engine, room, room_mask):
    seen = []
    job_box = {}

    def sink(event):
        seen.append(event)
        if isinstance(event, Progress) and event.step == 2:
            job_box["job"].cancel()

    request = StageRequest(photo=room, mask=room_mask, models="tiny", model_set="tiny", steps=40, seed=1)
    job_box["job"] = job = engine.submit(request, sink)
    with pytest.raises(JobCancelled):
        job.future.result(timeout=120)
    steps = [e.step for e in seen if isinstance(e, Progress) and e.total]
    assert max(steps) <= 3, f"cancel landed late: steps {steps}"
    assert isinstance(seen[-1], Cancelled)
    # the worker is still alive and serves the next job
    assert stage(engine, room, room_mask, steps=1).images[0].shape == room.shape


def test_invalid_request_is_refused_before_it_is_queued(engine, room):
    bad = np.zeros((10, 10), bool)
    events = []
    with pytest.raises(InvalidRequest, match="mask is 10x10 but the photo is 960x640") as info:
        engine.submit(StageRequest(photo=room, mask=bad, models="tiny", model_set="tiny"), events.append)
    assert info.value.field == "mask" and events == []


def test_failed_job_reports_and_worker_survives(engine, room, room_mask):
    events = []
    job = engine.submit(StageRequest(photo=room, mask=room_mask, models="tiny", model_set="tiny", steps=1,
                                     lora="no-such-lora.safetensors"), events.append)
    with pytest.raises(UserError, match="no-such-lora.safetensors: LoRA not found"):
        job.future.result(timeout=60)
    assert isinstance(events[-1], Failed) and events[-1].user_error
    assert stage(engine, room, room_mask, steps=1).images, "the worker runs the next job"


def test_stage_without_mask_uses_the_staging_area(engine, room, room_depth):
    result = stage(engine, room, None, steps=2)
    assert result.mask.any()
    assert result.mask[-1].all(), "the floor at the bottom of the frame is staged"
    rows = np.flatnonzero(result.mask.any(axis=1))
    assert rows.min() > room.shape[0] * 0.15, "the staging area leaves the ceiling alone"
    assert np.array_equal(result.images[0][~result.mask], room[~result.mask])


def test_stage_without_mask_and_no_floor_says_so(engine, room, monkeypatch):
    from app.engine.vision.depth import DepthEstimator

    monkeypatch.setattr(DepthEstimator, "predict", lambda self, image, size=None, key=None:
                        np.ones(image.shape[:2], np.float32))  # a flat wall: no floor anywhere
    with pytest.raises(UserError, match="no floor was found"):
        stage(engine, room, None, steps=1)


def test_sdxl_layout_stages_too(engine, room, room_mask):
    result = engine.run(StageRequest(photo=room, mask=room_mask, models="tiny", model_set="tiny-sdxl",
                                        steps=2, seed=5))
    out = result.images[0]
    assert out.shape == room.shape
    assert result.timings["model_size"][0] % 64 == 0 and result.timings["model_size"][1] % 64 == 0
    assert np.array_equal(out[~result.mask], room[~result.mask])


def test_inpaint_controlnet_variant_shares_components(engine, room, room_mask):
    stage(engine, room, room_mask, steps=1)
    cache = pipelines_for(engine.models, engine.models.device("cpu"))
    models = engine.models.model_set(StageRequest(photo=room, models="tiny", model_set="tiny"))
    base = cache.get(models)
    result = stage(engine, room, room_mask, steps=2, inpaint_scale=0.5)
    variant = cache.get(models, with_inpaint_controlnet=True)
    assert variant is not base and len(variant.controlnet.nets) == 3
    assert variant.unet is base.unet and variant.vae is base.vae and variant.text_encoder is base.text_encoder
    assert np.array_equal(result.images[0][~result.mask], room[~result.mask])


def test_inpaint_control_hint_marks_masked_pixels_minus_one():
    from app.engine.diffusion.inpaint import inpaint_control_image

    image = np.full((16, 16, 3), 255, np.uint8)
    mask = np.zeros((16, 16), bool)
    mask[4:8, 4:8] = True
    hint = inpaint_control_image(image, mask)
    assert tuple(hint.shape) == (1, 3, 16, 16)
    assert float(hint[0, :, 5, 5].max()) == -1.0 and float(hint[0, :, 0, 0].min()) == 1.0


def test_defurnish_widens_the_mask_and_keeps_the_rest(engine, room, room_mask):
    result = engine.run(DefurnishRequest(photo=room, mask=room_mask, models="tiny", model_set="tiny",
                                            steps=2, seed=2, margin_px=20, grow_px=0))
    ring = result.mask & ~room_mask
    ys, xs = np.nonzero(room_mask)
    assert result.mask[ys.min() - 19, xs.min() + 5] and not result.mask[ys.min() - 22, xs.min() + 5]
    assert ring.any()
    out = result.images[0]
    assert np.array_equal(out[~result.mask], room[~result.mask])


def test_defurnish_refuses_an_empty_mask(engine, room):
    with pytest.raises(UserError, match="mask is empty"):
        engine.run(DefurnishRequest(photo=room, mask=np.zeros(room.shape[:2], bool), models="tiny",
                                       model_set="tiny"))


def test_jobs_run_one_at_a_time_in_priority_order(engine, room, room_mask):
    order = []
    lock = threading.Lock()

    def track(name):
        def sink(event):
            if isinstance(event, Started):
                with lock:
                    order.append(name)
        return sink

    gate = threading.Event()

    def hold(event):
        if isinstance(event, Started):
            gate.wait(30)

    first = engine.submit(StageRequest(photo=room, mask=room_mask, models="tiny", model_set="tiny", steps=1),
                          hold)
    second = engine.submit(StageRequest(photo=room, mask=room_mask, models="tiny", model_set="tiny", steps=1),
                           track("stage"))
    click = engine.submit(SegmentRequest(photo=room, points=[(500, 400, True)], models="tiny", model_set="tiny"),
                          track("segment"))
    gate.set()
    for job in (first, second, click):
        job.future.result(timeout=120)
    assert order == ["segment", "stage"], "a click jumps ahead of queued generations"
