"""Select all by text in the Selection panel: the search runs on the engine's worker, what it finds is
added to the mask as one undoable step, a mask painted before is kept, and a search can be cancelled.
SAM 3 answers with scripted instances (the tiny model's random weights find random things)."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from uihelpers import open_photo, paint

from app.engine.vision.sam3 import Instance, Sam3Segmenter


def instance(phrase: str, score: float, x0: int, y0: int, x1: int, y1: int, shape=(640, 960)) -> Instance:
    m = np.zeros(shape, np.float32)
    m[y0:y1, x0:x1] = 1
    logits = ((cv2.resize(m, (32, 32), interpolation=cv2.INTER_AREA) - 0.5) * 10).astype(np.float32)
    return Instance(phrase, score, (x0, y0, x1, y1), logits)


@pytest.fixture
def scripted(monkeypatch):
    answers: dict[str, list[Instance]] = {}
    asked: list[list[str]] = []

    def find(self, photo, phrases, threshold=0.5, limit=100, progress=None, check_cancel=None):
        asked.append(list(phrases))
        if "hold" in answers:  # a long search: runs until cancelled
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                check_cancel()
                time.sleep(0.01)
        return [i for p in phrases for i in answers.get(p, []) if i.score >= threshold][:limit]

    monkeypatch.setattr(Sam3Segmenter, "find", find)
    return answers, asked


def select_all(qtbot, window, text):
    box = window.mask_panel.text_select
    box.field.setText(text)
    qtbot.mouseClick(box.button, Qt.MouseButton.LeftButton)
    return box


def test_select_all_adds_every_instance_as_one_undo_step(qtbot, window, room_file, scripted):
    answers, asked = scripted
    chairs = [instance("chairs", 0.91, 100, 300, 220, 460), instance("chairs", 0.62, 700, 320, 800, 470),
              instance("chairs", 0.3, 400, 100, 450, 150)]  # below the default threshold (0.5)
    answers["chairs"] = chairs
    doc = open_photo(qtbot, window, room_file)
    painted = paint(doc, 500, 500, 560, 560)  # made before the search: kept
    box = select_all(qtbot, window, "Chairs")
    assert box.busy and box.button.text() == "Cancel" and not box.field.isEnabled()
    qtbot.waitUntil(lambda: not box.busy, timeout=60_000)
    assert asked[-1] == ["chairs"]
    found = chairs[0].mask((640, 960)) | chairs[1].mask((640, 960))
    assert np.array_equal(doc.mask_bool(), painted | found)
    assert not doc.mask_bool()[100:150, 400:450].any(), "an instance under the threshold is not added"
    assert doc.stack.text(doc.stack.count() - 1) == "Select all: chairs (2)"
    assert "chairs ×2 (0.91, 0.62)" in box.info.text() and box.button.text() == "Select all"
    window.undo_action.trigger()
    assert np.array_equal(doc.mask_bool(), painted)
    window.redo_action.trigger()
    assert np.array_equal(doc.mask_bool(), painted | found)


def test_enter_in_the_field_searches_several_things(qtbot, window, room_file, scripted):
    answers, asked = scripted
    answers.update({"sofa": [instance("sofa", 0.88, 330, 290, 680, 480)],
                    "floor lamp": [instance("floor lamp", 0.7, 60, 100, 90, 460)]})
    doc = open_photo(qtbot, window, room_file)
    box = window.mask_panel.text_select
    box.field.setText("sofa, floor lamp")
    qtbot.keyClick(box.field, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not box.busy and doc.stack.count() == 1, timeout=60_000)
    assert asked[-1] == ["sofa", "floor lamp"]
    assert doc.stack.text(0) == "Select all: sofa, floor lamp (2)"
    assert "sofa (0.88)" in box.info.text() and "floor lamp (0.70)" in box.info.text()


def test_nothing_found_or_no_text_changes_nothing(qtbot, window, room_file, scripted):
    _, asked = scripted
    doc = open_photo(qtbot, window, room_file)
    submitted = []
    window.client.job_added.connect(lambda h: h.kind == "text_segment" and submitted.append(h))
    box = select_all(qtbot, window, "  ")
    assert "name what to select" in box.info.text() and not box.busy and submitted == []
    select_all(qtbot, window, "piano")
    qtbot.waitUntil(lambda: not box.busy, timeout=60_000)
    assert asked[-1] == ["piano"] and "Nothing matching 'piano'" in box.info.text()
    assert doc.stack.count() == 0 and not doc.mask.any()


def test_a_search_can_be_cancelled(qtbot, window, room_file, scripted):
    answers, _ = scripted
    answers["hold"] = []
    answers["rug"] = [instance("rug", 0.9, 300, 480, 700, 600)]
    doc = open_photo(qtbot, window, room_file)
    box = select_all(qtbot, window, "rug")
    qtbot.waitUntil(lambda: window.text_select.job is not None and window.text_select.job.state == "running",
                    timeout=60_000)
    qtbot.mouseClick(box.button, Qt.MouseButton.LeftButton)  # now "Cancel"
    qtbot.waitUntil(lambda: not box.busy, timeout=30_000)
    assert box.info.text() == "Cancelled." and doc.stack.count() == 0 and not doc.mask.any()
