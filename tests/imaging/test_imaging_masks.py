"""Mask morphology: exact geometry on disks and squares, windowed == full-frame."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.imaging import masks as M


def disk(shape, center, radius) -> np.ndarray:
    y, x = np.ogrid[: shape[0], : shape[1]]
    return (x - center[0]) ** 2 + (y - center[1]) ** 2 <= radius**2


def extent_right(mask, cy, cx) -> int:
    """How many pixels the mask reaches to the right of (cx, cy) along its row."""
    row = mask[cy, cx:]
    return int(np.argmin(row)) - 1 if not row.all() else row.size - 1


def test_bounding_box():
    m = np.zeros((50, 80), bool)
    assert M.bounding_box(m) is None
    m[10:20, 30:45] = True
    m[33, 70] = True
    assert M.bounding_box(m) == (30, 10, 71, 34)
    assert M.bounding_box(np.ones((3, 4), bool)) == (0, 0, 4, 3)


def test_grow_is_a_disk_of_exact_radius():
    shape, c = (201, 201), (100, 100)
    m = disk(shape, c, 20)
    g = M.grow(m, 10)
    assert extent_right(g, 100, 100) == 30  # along the axis: exactly R + px
    assert not g[100, 131] and not g[69, 100]
    assert (g >= disk(shape, c, 28.5)).all()  # contains the disk of R + px (lattice slack)
    assert not (g & ~disk(shape, c, 30)).any()  # and nothing beyond R + px
    assert (g >= m).all()
    np.testing.assert_array_equal(M.grow(m, 0), m)


def test_shrink_is_a_disk_of_exact_radius():
    shape, c = (201, 201), (100, 100)
    m = disk(shape, c, 30)
    s = M.shrink(m, 10)
    assert extent_right(s, 100, 100) == 20
    assert (s <= disk(shape, c, 20.5)).all() and (s >= disk(shape, c, 18.5)).all()
    assert not M.shrink(disk(shape, c, 5), 8).any()
    np.testing.assert_array_equal(M.shrink(m, 0), m)


def test_shrink_does_not_eat_from_the_frame_edge():
    m = np.zeros((60, 60), bool)
    m[40:, 10:50] = True  # touches the bottom edge
    s = M.shrink(m, 5)
    assert s[59, 20:40].all()  # bottom row kept
    assert not s[40:45].any()  # but eroded from its free top edge
    assert not s[:, 10:15].any()


def test_windowed_ops_equal_full_frame_reference():
    rng = np.random.default_rng(3)
    m = np.zeros((300, 400), bool)
    m[120:180, 200:260] = rng.random((60, 60)) > 0.3
    m[5, 5] = True
    inv = cv2.distanceTransform((~m).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    ins = cv2.distanceTransform(m.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    np.testing.assert_array_equal(M.grow(m, 7), inv <= 7)
    np.testing.assert_array_equal(M.shrink(m, 2), ins > 2)
    np.testing.assert_array_equal(M.margin_ring(m, 4), (inv <= 4) & ~m)


def test_feather_is_zero_outside_and_one_in_the_core():
    shape, c = (161, 161), (80, 80)
    m = disk(shape, c, 50)
    a = M.feather(m, 12)
    assert a.dtype == np.float32 and a.shape == shape
    assert (a[~m] == 0.0).all()  # exactly zero outside the mask
    assert (a[m] > 0).all()
    core = M.shrink(m, 12)
    assert (a[core] == 1.0).all()
    band = m & ~M.shrink(m, 11)  # within 11 px of the edge: still ramping
    assert (a[band] < 1.0).all()
    row = a[80, 80:]  # from the centre out: non-increasing
    assert (np.diff(row) <= 1e-6).all()
    # feathering a grown mask keeps the whole original fully replaced
    g = M.feather(M.grow(m, 12), 12)
    assert (g[m] == 1.0).all() and (g[~M.grow(m, 12)] == 0.0).all()
    assert (M.feather(m, 0) == m).all()
    assert not M.feather(np.zeros((5, 5), bool), 3).any()


def test_margin_ring_width():
    m = np.zeros((100, 100), bool)
    m[30:70, 30:70] = True
    r = M.margin_ring(m, 5)
    assert not (r & m).any()
    assert r[50, 25:30].all() and not r[50, 24]  # exactly 5 px wide on each side
    assert r[50, 70:75].all() and not r[50, 75]
    assert r[25:30, 50].all() and not r[24, 50]
    assert r.sum() == 4 * 40 * 5 + 4 * int(disk((11, 11), (5, 5), 5)[:5, :5].sum())


def test_fill_holes():
    m = np.zeros((100, 120), bool)
    m[10:60, 10:60] = True
    m[20:30, 20:30] = False  # 100 px hole
    m[35:55, 35:55] = False  # 400 px hole
    m[70:, 80:] = True
    m[80:, 90:] = False  # pocket open to the frame edge: not a hole
    f = M.fill_holes(m)
    assert f[10:60, 10:60].all()
    assert not f[85, 100]
    small_only = M.fill_holes(m, max_area=200)
    assert small_only[20:30, 20:30].all() and not small_only[35:55, 35:55].any()
    assert (M.fill_holes(m) >= m).all()


def test_remove_specks():
    m = np.zeros((60, 60), bool)
    m[1:3, 1:3] = True  # 4 px
    m[10:20, 10:20] = True  # 100 px
    m[40, 40:45] = True  # 5 px
    m[41, 45] = True  # diagonal neighbour joins the 5 px line: 6 px, 8-connected
    r = M.remove_specks(m, 6)
    assert not r[1:3, 1:3].any()
    assert r[10:20, 10:20].all() and r[40, 40:45].all() and r[41, 45]
    assert not M.remove_specks(m, 101).any()


@pytest.mark.parametrize(
    "px,size,expected",
    [
        (8, (1024, 768), 8),
        (8, (6000, 4000), 47),
        (8, (100, 80), 1),
        (0.1, (512, 512), 1),
        (20, (768, 1024), 20),
    ],
)
def test_scale_px(px, size, expected):
    assert M.scale_px(px, size) == expected
