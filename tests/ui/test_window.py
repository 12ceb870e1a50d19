"""The real window, driven like a user: opening, the canvas, brush strokes, undo / redo."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication
from uihelpers import open_photo


def view_point(window, x: float, y: float) -> QPoint:
    return window.canvas.mapFromScene(QPointF(x, y))


def test_open_photo_sets_title_canvas_and_status(qtbot, window, room_file, room):
    doc = open_photo(qtbot, window, room_file)
    assert "living-room.png" in window.windowTitle()
    assert doc.size == (room.shape[1], room.shape[0])
    assert np.array_equal(doc.original, room)
    assert window.canvas.image.boundingRect().width() == room.shape[1]
    assert not window.placeholder.isVisible()
    assert window.actions_.stage.isEnabled()
    qtbot.waitUntil(lambda: "Opened" in window.statusBar().currentMessage() or window.selection.ready, timeout=5000)


def test_a_file_it_cannot_read_gives_a_message_and_the_window_lives(qtbot, window, tmp_path, room_file):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    window.open_paths([str(bad)])
    qtbot.waitUntil(lambda: window.messages.last is not None, timeout=10_000)
    msg = window.messages.last
    assert msg.level == "error" and "broken.jpg" in msg.text and "Traceback" not in msg.text
    assert window.messages.isVisible() and window.isVisible() and window.doc is None
    window.open_paths([str(tmp_path / "missing.png")])
    qtbot.waitUntil(lambda: "missing.png" in window.messages.last.text, timeout=10_000)
    open_photo(qtbot, window, room_file)  # and it still opens good photos


def test_drop_a_photo_on_the_canvas(qtbot, window, room_file):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(room_file))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    window.canvas.dropEvent(event)
    qtbot.waitUntil(lambda: window.doc is not None, timeout=10_000)
    assert window.doc.path == room_file


def test_brush_stroke_with_the_mouse_paints_the_expected_pixels(qtbot, window, room_file):
    doc = open_photo(qtbot, window, room_file)
    window.canvas.actual_pixels()  # one photo pixel per screen pixel
    window.canvas.centerOn(480, 320)
    qtbot.keyClick(window.canvas, Qt.Key.Key_B)
    assert window.actions_.tool_brush.isChecked()
    window.tool_settings.hardness = 1.0
    window.tool_settings.size = 30
    vp = window.canvas.viewport()
    a, b = view_point(window, 400, 300), view_point(window, 560, 340)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(vp, b)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=b)
    sa, sb = window.canvas.mapToScene(a), window.canvas.mapToScene(b)
    h, w = doc.mask.shape
    ys, xs = np.mgrid[0:h, 0:w] + 0.5
    d = np.array([sb.x() - sa.x(), sb.y() - sa.y()])
    t = np.clip(((xs - sa.x()) * d[0] + (ys - sa.y()) * d[1]) / (d @ d), 0, 1)
    expected = np.hypot(xs - sa.x() - t * d[0], ys - sa.y() - t * d[1]) <= 15
    assert np.array_equal(doc.mask == 255, expected)
    assert doc.stack.count() == 1

    # eraser from the keyboard, then undo / redo with the real shortcuts
    painted = doc.mask.copy()
    qtbot.keyClick(window.canvas, Qt.Key.Key_E)
    c = view_point(window, 480, 320)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=c)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=c)
    assert doc.mask[320, 480] == 0 and doc.stack.count() == 2
    erased = doc.mask.copy()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(doc.mask, painted)
    qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not doc.mask.any()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert np.array_equal(doc.mask, erased)
    assert window.history_view.model().rowCount() == 3  # "Opened photo" + two entries


def test_brush_size_keys_mask_actions_and_history(qtbot, window, room_file):
    doc = open_photo(qtbot, window, room_file)
    window.set_tool("brush")
    size = window.tool_settings.size
    qtbot.keyClick(window.canvas, Qt.Key.Key_BracketRight)
    assert window.tool_settings.size > size
    qtbot.keyClick(window.canvas, Qt.Key.Key_BracketLeft)
    qtbot.keyClick(window.canvas, Qt.Key.Key_BracketLeft)
    assert window.tool_settings.size < size
    assert window.mask_panel.size.value() == window.tool_settings.size
    doc.begin_stroke(300, 300, 40, 1.0, False)
    assert not window.undo_action.isEnabled()  # no undo in the middle of a stroke
    doc.end_stroke()
    assert window.undo_action.isEnabled()
    states = [doc.mask.copy()]
    for act in (window.actions_.grow, window.actions_.shrink, window.actions_.feather, window.actions_.fill_holes,
                window.actions_.invert, window.actions_.clear):
        act.trigger()
        states.append(doc.mask.copy())
    assert doc.stack.count() == 7
    for i in range(len(states) - 1, 0, -1):
        window.undo_action.trigger()
        assert np.array_equal(doc.mask, states[i - 1])
    window.actions_.history.trigger()
    assert window.history_view.isVisible()


def test_zoom_fit_actual_and_hold_to_see_the_original(qtbot, window, room_file):
    open_photo(qtbot, window, room_file)
    c = window.canvas
    window.actions_.actual.trigger()
    assert abs(c.zoom_percent() - 100) < 0.5
    before = c.zoom
    center = c.viewport().rect().center()
    scene_before = c.mapToScene(center)
    c.zoom_by(2.0, QPointF(center))
    assert abs(c.zoom - 2 * before) < 1e-6
    after = c.mapToScene(center)
    assert abs(after.x() - scene_before.x()) < 1.5 and abs(after.y() - scene_before.y()) < 1.5  # zoom about the cursor
    window.actions_.fit.trigger()
    w, h = window.doc.size
    assert c.zoom * w <= c.viewport().width() and c.zoom * h <= c.viewport().height()
    qtbot.keyPress(c, Qt.Key.Key_Backslash)
    assert window.holding_original and not c.mask.isVisible()
    qtbot.keyRelease(c, Qt.Key.Key_Backslash)
    assert not window.holding_original and c.mask.isVisible()
    # space-drag pans
    qtbot.keyPress(c, Qt.Key.Key_Space)
    window.actions_.actual.trigger()
    h0 = c.horizontalScrollBar().value()
    vp = c.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=QPoint(200, 200))
    qtbot.mouseMove(vp, QPoint(150, 200))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=QPoint(150, 200))
    qtbot.keyRelease(c, Qt.Key.Key_Space)
    assert c.horizontalScrollBar().value() == h0 + 50
    assert window.doc.stack.count() == 0  # panning painted nothing


def test_typing_in_the_prompt_does_not_switch_tools(qtbot, window, room_file):
    open_photo(qtbot, window, room_file)
    window.show_panel("stage")
    prompt = window.stage_panel.prompt
    prompt.setFocus()
    QApplication.processEvents()
    qtbot.keyClicks(prompt, "bed ")
    assert prompt.toPlainText() == "bed "
    assert window.actions_.tool_click.isChecked()
    assert window.doc.params["stage"]["prompt"] == "bed"
