"""The document model: brush coverage, undo / redo exactness and compact diffs."""

from __future__ import annotations

import numpy as np
import pytest

from app.imaging.brush import capsule_coverage
from app.imaging.io import Photo
from app.ui.document import Document
from app.ui.undo_commands import Patch


def make_doc(w=640, h=480, seed=0) -> Document:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return Document(Photo(pixels=pixels, path=None, icc_profile=None, exif=None, format="PNG", mode="RGB"))


def capsule(shape, p0, p1, r):
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    (x0, y0), (x1, y1) = p0, p1
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / max(dx * dx + dy * dy, 1e-12), 0, 1)
    return np.hypot(xs - x0 - t * dx, ys - y0 - t * dy) <= r


def test_hard_stroke_paints_exactly_the_capsule(qapp):
    doc = make_doc()
    doc.begin_stroke(100.3, 200.7, radius=15, hardness=1.0, erase=False)
    doc.stroke_to(300.2, 220.1)
    doc.end_stroke()
    expected = capsule(doc.mask.shape, (100.3, 200.7), (300.2, 220.1), 15)
    assert np.array_equal(doc.mask == 255, expected)
    assert np.array_equal(doc.mask == 0, ~expected)
    assert doc.stack.count() == 1 and doc.stack.text(0) == "Brush stroke"


def test_soft_brush_fades_and_eraser_takes_away(qapp):
    doc = make_doc()
    doc.begin_stroke(200, 200, radius=40, hardness=0.25, erase=False)
    doc.end_stroke()
    assert doc.mask[200, 200] == 255 and 0 < doc.mask[200, 236] < 255 and doc.mask[200, 245] == 0
    doc.begin_stroke(200, 200, radius=10, hardness=1.0, erase=True)
    doc.end_stroke()
    assert doc.mask[200, 200] == 0 and doc.mask[200, 215] > 0


def test_undo_redo_restore_exact_masks(qapp):
    doc = make_doc()
    states = [doc.mask.copy()]
    doc.begin_stroke(50, 50, 20, 0.5, False)
    for x in range(60, 400, 7):
        doc.stroke_to(x, 50 + x // 3)
    doc.end_stroke()
    states.append(doc.mask.copy())
    doc.grow(9)
    states.append(doc.mask.copy())
    doc.feather(6)
    states.append(doc.mask.copy())
    doc.invert()
    states.append(doc.mask.copy())
    doc.begin_stroke(320, 240, 60, 1.0, True)
    doc.end_stroke()
    states.append(doc.mask.copy())
    doc.fill_holes()
    states.append(doc.mask.copy())
    doc.clear()
    states.append(doc.mask.copy())
    n = doc.stack.count()
    assert n == len(states) - 1
    for i in range(n, 0, -1):
        doc.stack.undo()
        assert np.array_equal(doc.mask, states[i - 1]), f"undo to state {i - 1}"
    for i in range(1, n + 1):
        doc.stack.redo()
        assert np.array_equal(doc.mask, states[i]), f"redo to state {i}"
    doc.stack.setIndex(3)
    assert np.array_equal(doc.mask, states[3])


def test_undo_entries_are_compact(qapp):
    doc = make_doc(4000, 3000)
    doc.begin_stroke(1000, 1000, 12, 1.0, False)
    doc.stroke_to(1100, 1040)
    doc.end_stroke()
    stroke = doc.stack.command(0)
    x0, y0, x1, y1 = stroke.rect
    assert (x1 - x0) <= 130 and (y1 - y0) <= 70  # the stroke's box, not the photo
    assert stroke.nbytes < 4000
    doc.invert()  # changes every pixel: still far below two 12 MB copies
    assert doc.stack.command(1).nbytes < doc.mask.size // 50


def test_patch_round_trip_binary_and_soft():
    rng = np.random.default_rng(1)
    binary = np.where(rng.random((37, 53)) > 0.5, 255, 0).astype(np.uint8)
    soft = rng.integers(0, 256, (37, 53), dtype=np.uint8)
    for data in (binary, soft):
        p = Patch(data)
        assert np.array_equal(p.array(), data)
    assert Patch(binary).bits and not Patch(soft).bits


def test_object_commit_add_and_subtract(qapp):
    doc = make_doc()
    obj = np.zeros(doc.mask.shape, bool)
    obj[100:200, 100:300] = True
    doc.add_point(150, 150, True)
    doc.set_candidate(obj, 0.9)
    assert doc.commit_object() and doc.points == [] and doc.candidate is None
    assert np.array_equal(doc.mask_bool(), obj)
    hole = np.zeros_like(obj)
    hole[120:140, 120:140] = True
    doc.add_point(130, 130, True)
    doc.set_candidate(hole)
    assert doc.commit_object(subtract=True)
    assert np.array_equal(doc.mask_bool(), obj & ~hole)
    assert [doc.stack.text(i) for i in range(doc.stack.count())] == ["Add object", "Subtract object"]
    doc.stack.undo()
    assert np.array_equal(doc.mask_bool(), obj)


@pytest.mark.parametrize("hardness", [1.0, 0.0])
def test_capsule_clips_at_the_border(hardness):
    rect, cov = capsule_coverage((50, 60), (-5, -5), (3, 2), 6, hardness)
    assert rect[0] == 0 and rect[1] == 0 and cov.shape == (rect[3] - rect[1], rect[2] - rect[0])
    assert capsule_coverage((50, 60), (-100, -100), (-90, -90), 3, hardness) is None
