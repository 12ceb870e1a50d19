"""Crop planning, extraction, paste-back and colour matching."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.errors import UserError
from app.imaging import compose as C
from app.imaging import masks as M


def rect_mask(W, H, x0, y0, x1, y1):
    m = np.zeros((H, W), bool)
    m[y0:y1, x0:x1] = True
    return m


CASES = [
    (6000, 4000, (2000, 1500, 4400, 3000)),  # big central object
    (6000, 4000, (100, 100, 200, 150)),  # tiny, near a corner
    (6000, 4000, (5900, 3950, 6000, 4000)),  # in the bottom-right corner
    (4032, 3024, (0, 0, 4032, 3024)),  # whole photo
    (3000, 1999, (10, 10, 2990, 1990)),  # odd aspect, almost whole
    (6000, 4000, (0, 3900, 6000, 4000)),  # thin strip along the bottom
    (1000, 1000, (450, 0, 460, 1000)),  # thin vertical strip
    (800, 3000, (100, 1000, 700, 1200)),  # portrait panorama
    (300, 200, (140, 90, 160, 110)),  # photo smaller than the model
]


@pytest.mark.parametrize("W,H,box", CASES)
@pytest.mark.parametrize("native,multiple", [(512, 8), (1024, 64), (768, 8)])
def test_plan_keeps_aspect_and_grid(W, H, box, native, multiple):
    m = rect_mask(W, H, *box)
    plan = C.plan_crop(m, (W, H), native=native, multiple=multiple)
    x0, y0, x1, y1 = plan.box
    assert 0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H
    assert x0 <= box[0] and y0 <= box[1] and x1 >= box[2] and y1 >= box[3]  # mask inside
    mw, mh = plan.model_size
    assert mw % multiple == 0 and mh % multiple == 0
    box_aspect, model_aspect = (x1 - x0) / (y1 - y0), mw / mh
    assert abs(box_aspect / model_aspect - 1) < 0.01  # no stretch, no letterbox
    assert 0.7 < mw * mh / native**2 < 1.35  # about the model's native area
    assert plan.scale == pytest.approx(mw / (x1 - x0))


def test_plan_context_and_whole_photo():
    W, H = 6000, 4000
    small = C.plan_crop(rect_mask(W, H, 3000, 2000, 3100, 2100), (W, H))
    x0, y0, x1, y1 = small.box
    assert x0 <= 3000 - 32 and x1 >= 3100 + 32 and y0 <= 2000 - 32 and y1 >= 2100 + 32
    assert (x1 - x0) < 400  # a small mask gets a small crop, enlarged for the model
    assert small.scale > 1
    big = C.plan_crop(rect_mask(W, H, 1000, 800, 5000, 3300), (W, H))
    assert big.box == (0, 0, W, H)


def test_plan_rejects_empty_mask():
    with pytest.raises(UserError, match="the mask is empty: nothing to edit"):
        C.plan_crop(np.zeros((40, 60), bool), (60, 40))
    with pytest.raises(ValueError):
        C.plan_crop(np.ones((40, 60), bool), (40, 60))


def test_extract_and_extract_mask():
    rng = np.random.default_rng(0)
    W, H = 1200, 800
    photo = rng.integers(0, 256, (H, W, 3), np.uint8)
    m = rect_mask(W, H, 500, 300, 650, 420)
    m[600, 100] = True  # a lone pixel far away still lands in the model mask
    plan = C.plan_crop(m, (W, H))
    crop = C.extract(photo, plan)
    mw, mh = plan.model_size
    assert crop.shape == (mh, mw, 3) and crop.dtype == np.uint8
    small = C.extract_mask(m, plan)
    assert small.shape == (mh, mw) and small.dtype == bool
    # every masked photo pixel maps onto a masked model pixel
    x0, y0, x1, y1 = plan.box
    ys, xs = np.nonzero(m[y0:y1, x0:x1])
    mx = np.minimum((xs * mw / (x1 - x0)).astype(int), mw - 1)
    my = np.minimum((ys * mh / (y1 - y0)).astype(int), mh - 1)
    assert small[my, mx].all()
    assert small.mean() < 0.5
    flat = np.full((H, W, 3), 77, np.uint8)
    assert (C.extract(flat, plan) == 77).all()
    assert C.extract(photo[..., 0], plan).shape == (mh, mw)


def _job(W, H, seed=0):
    rng = np.random.default_rng(seed)
    photo = rng.integers(0, 256, (H, W, 3), np.uint8)
    m = np.zeros((H, W), np.uint8)
    cv2.ellipse(m, (W // 2, H // 2), (W // 6, H // 7), 0, 0, 360, 1, -1)
    grown = M.grow(m.astype(bool), 6)
    alpha = M.feather(grown, 6)
    plan = C.plan_crop(alpha > 0, (W, H))
    gen = rng.integers(0, 256, (plan.model_size[1], plan.model_size[0], 3), np.uint8)
    return photo, m.astype(bool), alpha, plan, gen


def test_paste_back_keeps_every_unmasked_byte():
    photo, m, alpha, plan, gen = _job(900, 600)
    keep = photo.copy()
    out = C.paste_back(photo, gen, plan, alpha)
    np.testing.assert_array_equal(photo, keep)  # the input is not modified
    outside = alpha == 0
    np.testing.assert_array_equal(out[outside], photo[outside])  # bit for bit
    assert (out[m] != photo[m]).any(axis=1).mean() > 0.9  # the inside did change
    # where alpha is 1 the output is exactly the resized generated crop
    x0, y0, x1, y1 = plan.box
    resized = cv2.resize(
        gen, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA if plan.scale > 1 else cv2.INTER_CUBIC
    )
    full = alpha[y0:y1, x0:x1] == 1.0
    np.testing.assert_array_equal(out[y0:y1, x0:x1][full], resized[full])
    # half alpha gives the average
    half = np.zeros_like(alpha)
    half[y0:y1, x0:x1] = 0.5
    mid = C.paste_back(photo, gen, plan, half)[y0:y1, x0:x1].astype(int)
    expect = (photo[y0:y1, x0:x1].astype(int) + resized) / 2
    assert np.abs(mid - expect).max() <= 1


def test_paste_back_box_alpha_and_outside_alpha_rejected():
    photo, m, alpha, plan, gen = _job(600, 400, seed=1)
    x0, y0, x1, y1 = plan.box
    a = C.paste_back(photo, gen, plan, alpha)
    b = C.paste_back(photo, gen, plan, alpha[y0:y1, x0:x1].copy())
    np.testing.assert_array_equal(a, b)
    assert x0 > 0 and y0 > 0
    bad = alpha.copy()
    bad[0, 0] = 0.5
    with pytest.raises(ValueError, match="outside the crop box"):
        C.paste_back(photo, gen, plan, bad)


def test_color_match_moves_towards_reference():
    rng = np.random.default_rng(4)
    ref = np.clip(rng.normal(120, 25, (256, 320, 3)), 0, 255).astype(np.uint8)
    m = np.zeros((256, 320), bool)
    m[80:180, 100:220] = True
    cast = ref.astype(int) + (40, -10, -25)
    gen = np.clip(cast, 0, 255).astype(np.uint8)
    out = C.color_match(gen, ref, m)
    assert out.dtype == np.uint8 and out.shape == gen.shape
    ring = M.margin_ring(m, 10)
    before = np.abs(gen[ring].mean(0) - ref[ring].mean(0))
    after = np.abs(out[ring].mean(0) - ref[ring].mean(0))
    assert (after < before / 4).all()
    assert np.abs(out[m].mean(0) - ref[m].mean(0)).max() < 4  # the inside is corrected too
    np.testing.assert_array_equal(C.color_match(gen, ref, np.ones_like(m)), gen)  # no ring: unchanged
