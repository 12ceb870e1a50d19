"""Repaint regions from label maps (pure logic, no model): walls, floor, ceiling, sky, window view."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine.automask.regions import REGIONS, region_mask
from app.engine.vision.detections import SegMap
from tests.automask.automask_rooms import ID, ID2LABEL


def seg(labels: np.ndarray) -> SegMap:
    return SegMap(labels.astype(np.int32), dict(ID2LABEL))


def test_surfaces_are_their_classes_and_rugs_stay_off_the_floor(labelled_room):
    room = labelled_room
    s = seg(room.labels)
    shape = room.labels.shape
    assert np.array_equal(region_mask(s, "walls", shape), room.mask("wall"))
    assert np.array_equal(region_mask(s, "ceiling", shape), room.mask("ceiling"))
    floor = region_mask(s, "floor", shape)
    assert np.array_equal(floor, room.mask("floor"))
    assert not floor[room.mask("rug")].any(), "a rug lies on the floor: a new floor goes around it"


def test_regions_upscale_a_small_label_map_to_the_photo():
    labels = np.full((60, 80), ID["wall"], np.int32)
    labels[40:] = ID["floor"]
    out = region_mask(seg(labels), "floor", (600, 800))
    assert out.shape == (600, 800)
    assert out[420:].all() and not out[:380].any()


def test_window_view_is_the_glass_and_what_is_seen_through_it_not_a_tree_on_the_wall():
    h, w = 200, 300
    labels = np.full((h, w), ID["wall"], np.int32)
    labels[140:] = ID["floor"]
    labels[30:110, 40:140] = ID["window"]  # frame and glass
    labels[40:100, 50:130] = ID["sky"]  # the view through it
    labels[70:100, 60:100] = ID["plant"]  # a plant on the sill, inside: furniture, not view
    labels[40:80, 200:260] = ID["sky"]  # a painted sky on the wall, far from any window
    view = region_mask(seg(labels), "window-view", (h, w))
    assert view[45:65, 60:125].all(), "the sky through the window"
    assert not view[75:95, 65:95].any(), "the plant in front of the window stays"
    assert not view[40:80, 200:260].any(), "sky far from a window is not a view"
    assert not view[30, 40:140].any() and not view[30:110, 40].any(), "the window frame's outer edge stays"
    assert not view[140:].any() and not view[:, 150:190].any()


def test_no_window_no_view_and_unknown_region_is_refused():
    labels = np.full((50, 50), ID["wall"], np.int32)
    assert not region_mask(seg(labels), "window-view", (50, 50)).any()
    assert not region_mask(seg(labels), "sky", (50, 50)).any()
    assert set(REGIONS) == {"window-view", "walls", "floor", "ceiling", "sky"}
    with pytest.raises(ValueError):
        region_mask(seg(labels), "garden", (50, 50))
