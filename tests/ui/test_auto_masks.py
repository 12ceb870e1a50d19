"""The Auto tab through the window and the engine: furniture objects with toggles, the floor,
and committing the automatic selection to the mask as one undo entry."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from uihelpers import open_photo, setup_stage


def run_auto(qtbot, window, button):
    auto = window.auto_panel.panel
    results = []
    window.client.job_added.connect(lambda h: h.kind == "automask" and results.append(h))
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: results and not results[-1].active, timeout=120_000)
    qtbot.waitUntil(lambda: button.isEnabled(), timeout=10_000)
    return auto


def test_furniture_objects_toggle_and_commit(qtbot, window, room_file, room):
    doc = open_photo(qtbot, window, room_file)
    setup_stage(window)
    auto = run_auto(qtbot, window, window.auto_panel.panel.furniture_button)
    result = auto.result
    assert result is not None and result.target == "furniture"
    assert auto.objects.count() == len(result.objects)
    if not result.objects:  # random tiny detectors may find nothing: the app must say so, not paint everything
        assert "no" in auto.status.text().lower() and doc.candidate is None
        return
    for obj in result.objects:
        assert obj.label and obj.mask.shape == room.shape[:2]
    auto.set_all(False)
    qtbot.waitUntil(lambda: auto.selection_mask() is None or not auto.selection_mask().any(), timeout=5_000)
    auto.set_checked(0, True)
    qtbot.waitUntil(lambda: auto.selection_mask() is not None and auto.selection_mask().any(), timeout=5_000)
    selected = auto.selection_mask().copy()
    assert selected[result.objects[0].mask].all(), "the ticked object is in the selection"
    qtbot.waitUntil(lambda: doc.candidate is not None, timeout=5_000)
    before = doc.stack.count()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Return)
    assert np.array_equal(doc.mask_bool(), selected)
    assert doc.stack.count() == before + 1
    window.undo_action.trigger()
    assert not doc.mask.any()


def test_floor_selection_leaves_the_ceiling_alone(qtbot, window, room_file, room):
    doc = open_photo(qtbot, window, room_file)
    setup_stage(window)
    auto = run_auto(qtbot, window, window.auto_panel.panel.floor_button)
    result = auto.result
    assert result is not None and result.target == "floor"
    if result.mask is None or not result.mask.any():
        assert auto.status.text()
        return
    rows = np.flatnonzero(result.mask.any(axis=1))
    assert rows.min() >= room.shape[0] * 0.15  # the top 15 % is ceiling: never selected
    qtbot.waitUntil(lambda: doc.candidate is not None, timeout=5_000)
    assert doc.candidate.shape == room.shape[:2]
