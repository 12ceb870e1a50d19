"""Click-to-select with the tiny SAM: the embedding starts on open, clicks made before it
is ready are answered when it is, each object is committed to the mask as one undo entry."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QPointF, Qt
from uihelpers import open_photo, save_rgb, wait_ready


def click(qtbot, window, x, y, button=Qt.MouseButton.LeftButton, modifier=Qt.KeyboardModifier.NoModifier):
    pos = window.canvas.mapFromScene(QPointF(x, y))
    qtbot.mouseClick(window.canvas.viewport(), button, modifier, pos)


def test_click_before_ready_then_commit_and_undo(qtbot, window, tmp_path, room):
    # a photo nobody has embedded yet, so the first click really comes before the embedding
    rng = np.random.default_rng(time.time_ns() % 2**32)
    photo = np.ascontiguousarray(room[:560, :800] ^ rng.integers(0, 4, (560, 800, 3), dtype=np.uint8))
    path = save_rgb(tmp_path / "fresh-room.png", photo)
    segments = []
    window.client.job_added.connect(lambda h: h.kind == "segment" and segments.append(h))
    doc = open_photo(qtbot, window, path)
    assert "Preparing click-to-select" in window.sam_label.text()
    assert not window.selection.ready
    click(qtbot, window, 420, 330)
    assert doc.points == [(420.0, 330.0, True)] or doc.points[0][2]
    assert segments == []  # nothing is sent before the embedding exists
    assert "as soon as click-to-select is ready" in window.sam_label.text()
    wait_ready(qtbot, window)
    qtbot.waitUntil(lambda: doc.candidate is not None, timeout=60_000)
    assert doc.candidate.shape == (560, 800) and doc.candidate.dtype == bool
    assert len(segments) == 1 and segments[0].request.points == doc.points

    # right click adds a background point; the next request carries all of the object's points
    click(qtbot, window, 60, 500, Qt.MouseButton.RightButton)
    qtbot.waitUntil(lambda: len(segments) == 2 and not segments[1].active, timeout=60_000)
    assert [p[2] for p in segments[1].request.points] == [True, False]
    qtbot.waitUntil(lambda: window.selection._shown_sig is not None
                    and window.selection._shown_sig[1] == tuple(doc.points), timeout=10_000)
    candidate = doc.candidate.copy()

    qtbot.keyClick(window.canvas, Qt.Key.Key_Return)
    assert np.array_equal(doc.mask_bool(), candidate)
    assert doc.points == [] and doc.candidate is None and doc.stack.text(0) == "Add object"
    window.undo_action.trigger()
    assert not doc.mask.any()
    window.redo_action.trigger()
    assert np.array_equal(doc.mask_bool(), candidate)


def test_clicks_answer_at_interactive_speed_once_ready(qtbot, window, room_file):
    doc = open_photo(qtbot, window, room_file)
    wait_ready(qtbot, window)
    latencies = []
    for i, (x, y) in enumerate([(600, 450), (350, 300), (700, 200)]):
        click(qtbot, window, x, y, modifier=Qt.KeyboardModifier.AltModifier if i == 2 else Qt.KeyboardModifier.NoModifier)
        n = len(window.selection.latencies)
        qtbot.waitUntil(lambda n=n: len(window.selection.latencies) > n or (
            window.selection._inflight is None and window.selection._shown_sig is not None
            and window.selection._shown_sig[1] == tuple(doc.points)), timeout=30_000)
        if window.selection.latencies:
            latencies.append(window.selection.latencies[-1])
    assert doc.points[-1][2] is False  # Alt+click subtracts
    assert doc.candidate is not None and doc.candidate.shape == doc.mask.shape
    print(f"\nSAM click -> mask on screen: {', '.join(f'{t * 1000:.0f} ms' for t in latencies)}")
    assert min(latencies) < 5.0
    qtbot.keyClick(window.canvas, Qt.Key.Key_Escape)
    assert doc.points == [] and doc.candidate is None and doc.stack.count() == 0


def test_box_select(qtbot, window, room_file):
    doc = open_photo(qtbot, window, room_file)
    wait_ready(qtbot, window)
    window.set_tool("box")
    vp = window.canvas.viewport()
    a = window.canvas.mapFromScene(QPointF(330, 280))
    b = window.canvas.mapFromScene(QPointF(680, 490))
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(vp, b)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=b)
    assert doc.box is not None and abs(doc.box[0] - 330) < 2 and abs(doc.box[3] - 490) < 2
    qtbot.waitUntil(lambda: doc.candidate is not None, timeout=30_000)
    window.actions_.commit_subtract.trigger()  # subtracting from an empty mask changes nothing
    assert not doc.mask.any() and doc.candidate is None
