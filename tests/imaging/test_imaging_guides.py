"""Canny, depth image and the floor-derived staging area on synthetic rooms."""

from __future__ import annotations

import numpy as np
import pytest

from app.imaging import guides as G


def test_canny_finds_the_square_outline():
    img = np.full((120, 160, 3), 30, np.uint8)
    img[40:80, 60:110] = 220
    e = G.canny(img)
    assert e.dtype == np.uint8 and e.shape == (120, 160) and set(np.unique(e)) <= {0, 255}
    assert e[38:42, 70:100].any(axis=0).all()  # top edge found along its length
    assert e[50:70, 58:62].any(axis=1).all()  # left edge
    assert not e[50:70, 70:100].any() and not e[:30].any()  # flat areas have no edges
    assert G.canny(img[..., 0]).shape == (120, 160)


def test_depth_to_image_near_is_bright_and_robust():
    d = np.tile(np.linspace(0.0, 1.0, 100, dtype=np.float32), (50, 1))
    d[0, 0] = 1e6  # one wild value must not squash the rest
    d[0, 1] = np.nan
    img = G.depth_to_image(d)
    assert img.dtype == np.uint8 and img.shape == (50, 100)
    assert img[25, 99] == 255 and img[25, 0] == 0 and 100 < img[25, 50] < 155
    assert G.depth_to_image(d, size=(40, 30)).shape == (30, 40)
    assert not G.depth_to_image(np.full((5, 5), 3.0)).any()


def room_depth(W=600, H=400, f=300.0, cam_height=1.5, ceiling=1.0, half_width=2.0, back=6.0):
    """Inverse depth of a box room seen from inside (pinhole camera looking at the
    back wall), and which surface each pixel sees: 0 floor, 1 ceiling, 2 side, 3 back."""
    u, v = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    dx, dy = (u - W / 2) / f, (v - H / 2) / f
    with np.errstate(divide="ignore"):
        t = np.stack(
            [
                np.where(dy > 0, cam_height / dy, np.inf),
                np.where(dy < 0, -ceiling / dy, np.inf),
                np.where(dx != 0, half_width / np.abs(dx), np.inf),
                np.full((H, W), back),
            ]
        )
    return (1.0 / t.min(0)).astype(np.float32), t.argmin(0)


def test_staging_area_covers_the_floor_not_the_ceiling():
    depth, surface = room_depth()
    m = G.staging_area(depth)
    H = depth.shape[0]
    floor = surface == 0
    assert m.dtype == bool and m.shape == depth.shape
    assert m[floor].mean() > 0.99
    assert not m[surface == 1].any()
    assert not m[: int(0.15 * H)].any()
    # a band above the back wall's base where furniture stands, but not the whole wall
    base = floor[:, 300].argmax()  # first floor row in the middle column
    height = H - base
    assert m[base - int(0.25 * height) : base, 300].all()
    assert not m[: base - int(0.5 * height), 300].any()


def test_staging_area_bridges_furniture_hiding_the_floor():
    depth, surface = room_depth()
    sofa = depth.copy()
    sofa[240:320, 200:350] = 0.5  # a front face: flat in depth, hides the floor behind
    m = G.staging_area(sofa)
    clear = G.staging_area(depth)
    assert m[240:, 200:350].all()  # the sofa itself is in the area
    assert (m == clear).mean() > 0.98


def test_staging_area_at_image_size_and_no_guess():
    depth, _ = room_depth(W=300, H=200, f=150.0)
    img = np.zeros((400, 600, 3), np.uint8)
    m = G.staging_area(depth, image=img)
    assert m.shape == (400, 600) and m[-1].all()
    flat = G.staging_area(np.full((100, 150), 2.0, np.float32))  # no floor to be found
    assert flat.shape == (100, 150) and not flat.any(), "no floor: an empty mask, never a guessed half frame"


@pytest.mark.parametrize("band", [0.0, 0.35, 0.8])
def test_staging_area_band_grows_upwards(band):
    depth, surface = room_depth()
    m = G.staging_area(depth, band=band)
    base = (surface == 0)[:, 300].argmax()
    top = m[:, 300].argmax()
    expected = max(base - band * (depth.shape[0] - base), 0.15 * depth.shape[0])
    assert abs(top - expected) <= 6
