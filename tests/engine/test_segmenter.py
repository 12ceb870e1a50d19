"""Segment Anything: full-resolution masks, content-keyed embedding cache, SAM's own geometry."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine import EmbedRequest, SegmentRequest
from app.engine.vision.sam_loader import segmenter_for
from app.engine.vision.segmenter import upscale_logits
from app.errors import UserError


def segment(engine, photo, **kw):
    return engine.run(SegmentRequest(photo=photo, models="tiny", model_set="tiny", **kw))


def test_click_gives_a_photo_sized_mask_and_candidates(engine, room):
    result = segment(engine, room, points=[(480, 380, True), (100, 100, False)])
    assert result.mask.shape == room.shape[:2] and result.mask.dtype == bool
    assert len(result.scores) == 3 and result.chosen == int(np.argmax(result.scores))
    picked = segment(engine, room, points=[(480, 380, True), (100, 100, False)], mask_index=1)
    assert picked.chosen == 1


def test_box_prompt(engine, room):
    result = segment(engine, room, box=(300, 250, 700, 500), multimask=False)
    assert result.mask.shape == room.shape[:2] and len(result.scores) == 1


def test_embedding_is_cached_by_content_not_name(engine, room):
    seg = segmenter_for(engine.models, engine.models.model_set(SegmentRequest(photo=room, models="tiny",
                                                                           model_set="tiny")),
                                  engine.models.device("cpu"))
    photo = room.copy()
    photo[0, 0] = (1, 2, 3)  # content no other test uses
    first = engine.run(EmbedRequest(photo=photo, photo_path="a.jpg", models="tiny", model_set="tiny"))
    encodes = seg.encodes
    twin = photo.copy()  # the same pixels from another file: another array object
    second = engine.run(EmbedRequest(photo=twin, photo_path="copy of a.jpg", models="tiny", model_set="tiny"))
    assert not first.cached and second.cached and second.key == first.key
    assert seg.encodes == encodes
    edited = photo.copy()
    edited[10, 10] = 0
    third = engine.run(EmbedRequest(photo=edited, models="tiny", model_set="tiny"))
    assert third.key != first.key and not third.cached


def test_embedding_cache_survives_a_restart(tiny_models, room):
    from app.engine import Engine
    photo = room.copy()
    photo[1, 1] = (9, 9, 9)
    first = Engine(models="tiny", device="cpu")
    try:
        assert not first.run(EmbedRequest(photo=photo, model_set="tiny")).cached
    finally:
        first.shutdown()
    second = Engine(models="tiny", device="cpu")
    try:
        assert second.run(EmbedRequest(photo=photo.copy(), model_set="tiny")).cached
        request = EmbedRequest(photo=photo, model_set="tiny")
        seg = segmenter_for(second.models, second.models.model_set(request), second.models.device())
        assert seg.encodes == 0, "the embedding came from the disk cache"
    finally:
        second.shutdown()


def test_points_outside_the_photo_are_refused(engine, room):
    with pytest.raises(UserError, match="outside the 960x640 photo"):
        segment(engine, room, points=[(2000, 10, True)])
    with pytest.raises(UserError, match="at least one point or a box"):
        segment(engine, room, points=[])


def test_upscale_matches_sam_postprocessing():
    """Our windowed int16 upscale agrees with SAM's float post-processing."""
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    low = rng.normal(0, 4, (256, 256)).astype(np.float32)
    low[:, 200:] = -20  # a region with no object: the window logic must leave it empty
    for original in [(3000, 4500), (640, 960), (1200, 801)]:
        oh, ow = original
        scale = 1024 / max(oh, ow)
        input_size = (int(oh * scale + 0.5), int(ow * scale + 0.5))
        t = torch.from_numpy(low)[None, None]
        ref = F.interpolate(t, (1024, 1024), mode="bilinear", align_corners=False)
        ref = ref[..., : input_size[0], : input_size[1]]
        ref = F.interpolate(ref, original, mode="bilinear", align_corners=False)[0, 0].numpy() > 0
        ours = upscale_logits(low, input_size, original)
        assert ours.shape == ref.shape
        assert (ours == ref).mean() > 0.999


def test_upscale_of_a_small_object_stays_in_its_window():
    low = np.full((256, 256), -10, np.float32)
    low[100:110, 50:60] = 10
    mask = upscale_logits(low, (683, 1024), (4000, 6000))
    ys, xs = np.nonzero(mask)
    # 6000/1024 photo px per frame px, 4 frame px per logit
    assert abs(xs.min() - 50 * 4 * 6000 / 1024) < 30 and abs(ys.min() - 100 * 4 * 4000 / 683) < 30
    assert mask.sum() == pytest.approx((10 * 4 * 6000 / 1024) * (10 * 4 * 4000 / 683), rel=0.1)


def test_disk_cache_keeps_the_recently_used_within_its_budget(tiny_models, tmp_path, room):
    import os
    import time

    from app.engine.tiny.models import TINY_SAM_CONFIG
    from app.engine.vision.sam_model import build_sam
    from app.engine.vision.segmenter import Segmenter
    sam = build_sam(TINY_SAM_CONFIG)
    probe = Segmenter(sam, "cpu", "budget-test", cache_dir=tmp_path, cache_budget=10**12)
    photos = []
    for i in range(3):
        p = room.copy()
        p[0, 0] = (i, i, i)
        photos.append(p)
    probe.embed(photos[0])
    one = next(probe.cache_dir.glob("*.pt")).stat().st_size
    seg = Segmenter(sam, "cpu", "budget-test", cache_dir=tmp_path, cache_budget=int(2.5 * one))
    seg.embed(photos[1])
    old = time.time() - 100
    for f in seg.cache_dir.glob("*.pt"):
        os.utime(f, (old, old))
    fresh = Segmenter(sam, "cpu", "budget-test", cache_dir=tmp_path, cache_budget=int(2.5 * one))
    assert fresh.embed(photos[0].copy())[1], "served from disk, and marked recently used"
    fresh.embed(photos[2])  # a third entry: over budget, the least recently used (photo 1) goes
    keys = {f.stem for f in seg.cache_dir.glob("*.pt")}
    assert len(keys) == 2
    assert fresh.embed(photos[0].copy())[1] and fresh.embed(photos[2].copy())[1]
    assert not Segmenter(sam, "cpu", "budget-test", cache_dir=tmp_path).embed(photos[1].copy())[1]
