"""The Auto tab through the window and the engine: furniture objects with toggles, the floor,
and committing the automatic selection to the mask as one undo entry."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from uihelpers import open_photo, setup_stage

LABELS = {0: "wall", 1: "floor", 2: "sofa", 3: "windowpane;window"}


def drawn_labels(h: int, w: int) -> np.ndarray:
    """The synthetic room of conftest.draw_room as a label map: wall, floor, sofa, window."""
    labels = np.zeros((h, w), np.int32)
    labels[int(h * 0.58):] = 1
    labels[int(h * 0.12):int(h * 0.45), int(w * 0.1):int(w * 0.28)] = 3
    labels[int(h * 0.45):int(h * 0.75), int(w * 0.35):int(w * 0.7)] = 2
    return labels


@pytest.fixture
def seeing_semantic(monkeypatch):
    """The installed semantic model 'sees' the room as drawn (the tiny model's random weights see
    noise), so the window's toggle / commit / undo path runs on a known answer; and the detector
    finds nothing, so the objects are exactly what the label map holds."""
    from app.engine.vision.detections import SegMap
    from app.engine.vision.detector import TextDetector
    from app.engine.vision.semantic import SemanticSegmenter

    def predict(self, photo, key=None):
        labels = drawn_labels(*photo.shape[:2])
        return SegMap(labels, dict(LABELS), np.full(labels.shape, 0.9, np.float32))

    monkeypatch.setattr(SemanticSegmenter, "predict", predict)
    monkeypatch.setattr(TextDetector, "detect", lambda self, photo, phrases, *a, **k: [])


def run_auto(qtbot, window, button):
    auto = window.auto_panel.panel
    results = []
    window.client.job_added.connect(lambda h: h.kind == "automask" and results.append(h))
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: results and not results[-1].active, timeout=120_000)
    qtbot.waitUntil(lambda: button.isEnabled(), timeout=10_000)
    return auto


def test_furniture_objects_toggle_and_commit(qtbot, window, room_file, room, seeing_semantic):
    doc = open_photo(qtbot, window, room_file)
    setup_stage(window)
    auto = run_auto(qtbot, window, window.auto_panel.panel.furniture_button)
    result = auto.result
    assert result is not None and result.target == "furniture"
    assert [o.label for o in result.objects] == ["sofa"], "the sofa, never the wall, floor or window"
    assert auto.objects.count() == 1
    sofa = result.objects[0].mask
    h, w = room.shape[:2]
    assert sofa.shape == (h, w) and sofa[int(h * 0.6), int(w * 0.5)] and not sofa[int(h * 0.3), int(w * 0.2)]
    auto.set_all(False)
    qtbot.waitUntil(lambda: auto.selection_mask() is None or not auto.selection_mask().any(), timeout=5_000)
    auto.set_checked(0, True)
    qtbot.waitUntil(lambda: auto.selection_mask() is not None and auto.selection_mask().any(), timeout=5_000)
    selected = auto.selection_mask().copy()
    assert selected[sofa].all(), "the ticked object is in the selection"
    window_rect = np.zeros((h, w), bool)
    window_rect[int(h * 0.12):int(h * 0.45), int(w * 0.1):int(w * 0.28)] = True
    assert not selected[window_rect].any(), "the margin ring never eats into the window"
    qtbot.waitUntil(lambda: doc.candidate is not None, timeout=5_000)
    before = doc.stack.count()
    window.show_panel("auto")
    auto.objects.setFocus()  # the user just ticked an object in the list: Enter still commits
    qtbot.waitUntil(lambda: auto.objects.isVisible() and auto.objects.hasFocus(), timeout=5_000)
    qtbot.keyClick(auto.objects, Qt.Key.Key_Return)
    assert np.array_equal(doc.mask_bool(), selected)
    assert doc.stack.count() == before + 1
    window.undo_action.trigger()
    assert not doc.mask.any()


def test_floor_selection_leaves_the_ceiling_alone(qtbot, window, room_file, room, seeing_semantic):
    doc = open_photo(qtbot, window, room_file)
    setup_stage(window)
    auto = run_auto(qtbot, window, window.auto_panel.panel.floor_button)
    result = auto.result
    assert result is not None and result.target == "floor"
    h = room.shape[0]
    assert result.mask[int(h * 0.8)].all(), "the floor is selected"
    rows = np.flatnonzero(result.mask.any(axis=1))
    assert rows.min() >= h * 0.15  # the top 15 % is ceiling: never selected
    qtbot.waitUntil(lambda: doc.candidate is not None, timeout=5_000)
    assert doc.candidate.shape == room.shape[:2]
