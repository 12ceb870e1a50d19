"""De-furnishing flow: classical pre-fill, erase model, structure-only guides."""

from __future__ import annotations

import numpy as np
import pytest
from automask_rooms import draw_room

from app.engine import DefurnishRequest
from app.engine.diffusion.eraser import Eraser
from app.errors import UserError
from app.imaging.fills import classical_fill, smooth_fill
from app.imaging.structure import structure_edges


def test_structure_lines_are_bridged_across_the_hole_and_furniture_edges_go():
    edges = np.zeros((200, 300), np.uint8)
    edges[120, :] = 255  # the floor / wall junction, running behind the sofa
    edges[40:60, 200] = 255  # a short vertical edge far from the hole
    hole = np.zeros((200, 300), bool)
    hole[90:170, 100:200] = True
    edges[hole] = 0
    edges[100:160, 130] = 255  # an edge of the sofa itself (inside the hole)
    out = structure_edges(edges, hole)
    assert out[120, 100:200].mean() > 250, "the junction line runs across the hole"
    assert not out[hole & (np.arange(200)[:, None] != 120)].any(), "nothing else inside the hole"
    assert np.array_equal(out[~hole], edges[~hole]), "outside the hole the edges are the photo's"

    one_sided = np.zeros((200, 300), np.uint8)
    one_sided[120, :100] = 255  # a line that ends where the hole starts: nothing to connect to
    assert not structure_edges(one_sided, hole)[hole].any()

    to_frame = np.zeros((200, 300), np.uint8)
    to_frame[150, :100] = 255
    hole2 = np.zeros((200, 300), bool)
    hole2[130:180, 100:300] = True  # the hole reaches the frame's right edge
    bridged = structure_edges(to_frame, hole2)
    assert bridged[150, 100:300].all(), "a line running into the frame's edge is continued"


def test_classical_fill_of_a_wide_hole_continues_the_surroundings():
    h, w = 240, 320
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    image = np.dstack([60 + 0.4 * xx, 80 + 0.5 * yy, 120 + 0.1 * (xx + yy)]).astype(np.uint8)
    hole = np.zeros((h, w), bool)
    hole[60:200, 80:260] = True
    damaged = image.copy()
    damaged[hole] = (200, 30, 30)  # the sofa
    for method in ("telea", "ns"):
        filled = classical_fill(damaged, hole, method)
        assert np.array_equal(filled[~hole], damaged[~hole])
        err = np.abs(filled[hole].astype(int) - image[hole].astype(int)).mean()
        assert err < 12, (method, err)
        assert not (filled[hole] == (200, 30, 30)).all(axis=-1).any(), "nothing of the object survives"

def test_depth_of_a_plane_continues_straight_across_the_hole():
    h, w = 240, 320
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    floor = np.clip(20 + 0.8 * yy + 0.1 * xx, 0, 255).astype(np.uint8)  # a plane's inverse depth: affine
    hole = np.zeros((h, w), bool)
    hole[60:200, 80:260] = True
    ghost = floor.copy()
    ghost[hole] = 250  # the sofa, much nearer
    filled = smooth_fill(ghost, hole)
    assert np.array_equal(filled[~hole], ghost[~hole])
    err = np.abs(filled[hole].astype(int) - floor[hole].astype(int))
    assert err.mean() < 3 and err.max() < 12, (err.mean(), err.max())


def test_erase_model_fills_only_the_hole(engine):
    from app.engine.models.optional import find_optional as find_model

    path = find_model(engine.models.catalog("tiny"), "tiny", "erase")[1]
    eraser = Eraser(path, "cpu")
    room = draw_room(203, 117)  # sides that are not multiples of 8
    hole = room.mask("sofa")
    out = eraser(room.photo, hole)
    assert out.shape == room.photo.shape and out.dtype == np.uint8
    assert np.array_equal(out[~hole], room.photo[~hole])
    assert (out[hole] != room.photo[hole]).any()


def test_defurnish_with_the_erase_model_keeps_every_pixel_outside(engine):
    room = draw_room(256, 192, seed=4)
    mask = room.mask("sofa")
    result = engine.run(DefurnishRequest(photo=room.photo, mask=mask, models="tiny", model_set="tiny", steps=1,
                                            seed=5, prefill="erase", margin_px=4))
    (out,) = result.images
    assert result.mask[mask].all()
    assert np.array_equal(out[~result.mask], room.photo[~result.mask])
    with pytest.raises(UserError, match="prefill must be one of telea, ns, erase, none"):
        engine.run(DefurnishRequest(photo=room.photo, mask=mask, models="tiny", model_set="tiny", steps=1,
                                       prefill="bogus"))
