"""The "Virtually staged" label and the before/after image."""

from __future__ import annotations

import numpy as np
import pytest

from app.imaging import disclosure as D


def changed_box(a, b):
    ys, xs = np.nonzero((a != b).any(axis=2))
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


@pytest.mark.parametrize("corner", D.CORNERS)
def test_stamp_touches_only_its_corner(corner):
    img = np.random.default_rng(0).integers(60, 200, (600, 900, 3), np.uint8)
    keep = img.copy()
    out = D.stamp(img, corner=corner)
    np.testing.assert_array_equal(img, keep)  # input untouched
    x0, y0, x1, y1 = changed_box(img, out)
    H, W = img.shape[:2]
    if corner.endswith("left"):
        assert x0 >= 0 and x1 < W / 2 and x0 < 40
    else:
        assert x0 > W / 2 and x1 > W - 40
    if corner.startswith("top"):
        assert y1 < H / 4 and y0 < 40
    else:
        assert y0 > 3 * H / 4 and y1 > H - 40


def test_stamp_is_legible_on_a_listing_thumbnail():
    img = np.full((267, 400, 3), 128, np.uint8)
    out = D.stamp(img)
    x0, y0, x1, y1 = changed_box(img, out)
    assert y1 - y0 >= 14 and x1 - x0 >= 80
    label = out[y0:y1, x0:x1].astype(int)
    assert (label.min(axis=2) > 230).sum() > 40  # white text strokes
    assert (label.max(axis=2) < 80).sum() > 200  # on a dark box
    # bigger image, bigger label
    big = D.stamp(np.full((1334, 2000, 3), 128, np.uint8))
    bx0, by0, bx1, by1 = changed_box(np.full((1334, 2000, 3), 128, np.uint8), big)
    assert by1 - by0 > 3 * (y1 - y0)


def test_stamp_rejects_unknown_corner_and_fits_narrow_images():
    with pytest.raises(ValueError, match="corner"):
        D.stamp(np.zeros((50, 50, 3), np.uint8), corner="middle")
    narrow = np.full((300, 90, 3), 128, np.uint8)
    x0, y0, x1, y1 = changed_box(narrow, D.stamp(narrow))
    assert x1 <= 90 and x1 - x0 < 90


@pytest.mark.parametrize("split", [None, 0.5])
def test_before_after(split):
    before = np.full((200, 300, 3), 40, np.uint8)
    after = np.full((200, 300, 3), 210, np.uint8)
    out = D.before_after(before, after, split=split)
    if split is None:
        assert out.shape[0] == 200 and out.shape[1] > 600
        assert (out[150:, :300] == 40).all() and (out[150:, -300:] == 210).all()
        assert (out[:, 300:-300] == 255).all()  # the divider
    else:
        assert out.shape == (200, 300, 3)
        assert (out[150:, :140] == 40).all() and (out[150:, 160:] == 210).all()
    # the labels sit in the top corners
    assert (out[:40, :80] != 40).any()
    assert (out[:40, -80:] != 210).any()
    # a before of another size is scaled to the after
    resized = D.before_after(np.zeros((100, 150, 3), np.uint8), after, split=split)
    assert resized.shape == out.shape
