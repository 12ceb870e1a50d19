"""Repaint and the room in 3D from the window, with the tiny models."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from uihelpers import open_photo, paint, run, save_rgb, wait_job

from app.engine import RepaintRequest
from app.engine.geometry.synthetic import BoxRoom
from app.ui.engine_client import DONE


def setup_repaint(window, target: str, prompts: str, steps: int = 2):
    p = window.repaint_panel
    p.target.setCurrentIndex(p.target.findData(target))
    p.model_set.setCurrentIndex(p.model_set.findData("tiny"))
    p.steps.setValue(steps)
    p.prompts.setPlainText(prompts)
    return p


def test_repaint_around_the_selection_gives_a_result_per_prompt(qtbot, window, room_file, room):
    doc = open_photo(qtbot, window, room_file)
    window.show_panel("repaint")
    assert window.repaint_panel.isVisible() and window.repaint_panel.guidance.value() == 6.0
    setup_repaint(window, "keep", "a sunny beach\n\na pine forest\n")
    keep = paint(doc)
    handle = window.repaint()
    assert handle is not None and handle.kind == "repaint"
    wait_job(qtbot, handle)
    assert handle.state == DONE, handle.error
    results = [r for r in doc.results if r.kind == "repaint"]
    assert len(results) == 2
    assert [r.request.prompts for r in results] == [["a sunny beach"], ["a pine forest"]]
    for r in results:
        assert np.array_equal(r.image[keep], room[keep]), "the selection stays bit-exact"
        assert (r.image != room).any(axis=-1)[~keep].mean() > 0.9
    assert window.results_panel.list.count() == 3
    assert window.results_panel.list.item(1).text().startswith("Repainted")
    # settings come back from a result, and re-running makes the same picture
    window.results_panel.select(results[1].id)
    window.use_result_settings(results[1].id)
    assert window.repaint_panel.prompt_lines() == ["a pine forest"]
    assert window.repaint_panel.target.currentData() == "keep"
    rerun = window.rerun_shown_result()
    wait_job(qtbot, rerun)
    assert np.array_equal(doc.results[-1].image, results[1].image)


def test_a_project_keeps_repaint_results_and_the_panel(qtbot, make_window, room_file, tmp_path):
    window = make_window()
    doc = open_photo(qtbot, window, room_file)
    setup_repaint(window, "mask", "a skylight")
    paint(doc, 100, 20, 400, 120)
    wait_job(qtbot, window.repaint())
    project = run(qtbot, window, window.save_project(path=tmp_path / "room.rsproj"))
    other = make_window()
    run(qtbot, other, other.open_project(project))
    (entry,) = other.doc.results
    assert isinstance(entry.request, RepaintRequest) and entry.request.prompts == ["a skylight"]
    assert entry.request.mode == "mask" and np.array_equal(entry.image, doc.results[0].image)
    assert other.repaint_panel.prompt_lines() == ["a skylight"]
    assert other.repaint_panel.target.currentData() == "mask"


def test_repaint_asks_for_what_it_needs(qtbot, window, room_file):
    doc = open_photo(qtbot, window, room_file)
    setup_repaint(window, "keep", "a garden")
    assert window.repaint() is None and "selection is empty" in window.messages.last.text
    paint(doc)
    setup_repaint(window, "keep", "   ")
    assert window.repaint() is None and "Write what to paint" in window.messages.last.text
    assert not [h for h in window.client.active_jobs() if h.kind == "repaint"]


@pytest.fixture
def box_room_file(tmp_path, monkeypatch):
    """A photo of a box room, and a depth model that sees its true depth."""
    from app.engine.geometry.metric_depth import MetricDepth

    photo, depth, _ = BoxRoom().render(480, 360, hfov_deg=90.0)
    monkeypatch.setattr(MetricDepth, "predict", lambda self, image, focal_px=None: (depth, 90.0))
    return save_rgb(tmp_path / "box-room.png", photo), photo


def drag(widget, start, end, button=Qt.MouseButton.LeftButton):
    for kind, pos, buttons in ((QEvent.Type.MouseButtonPress, start, button), (QEvent.Type.MouseMove, end, button),
                               (QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)):
        p = QPointF(*pos)
        event = QMouseEvent(kind, p, widget.mapToGlobal(p), button, buttons, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(widget, event)


def test_the_room_in_3d_beside_the_canvas_orbit_zoom_reset_export(qtbot, window, box_room_file, tmp_path):
    path, photo = box_room_file
    open_photo(qtbot, window, path)
    view = window.view3d
    assert not view.isVisible()
    window.actions_.view3d.trigger()
    assert view.isVisible() and window.canvas.isVisible(), "side by side with the 2D canvas"
    qtbot.waitUntil(lambda: view.room is not None, timeout=60_000)
    assert "Estimates" in view.status.text() and "m²" in view.status.text()
    m = view.room.measurements
    assert abs(m["height_m"] - 2.6) < 0.13 and abs(m["floor_area_m2"] - 20.0) < 1.0

    canvas = view.canvas
    canvas.resize(320, 240)
    home = canvas.render((320, 240))
    assert (home != home[0, 0]).any(axis=-1).mean() > 0.5, "the room fills the view"
    drag(canvas, (100, 100), (180, 130))
    assert canvas.orbit.yaw != 0.0
    orbited = canvas.render((320, 240))
    assert not np.array_equal(orbited, home)
    distance = canvas.orbit.distance
    canvas.zoom(2)
    assert canvas.orbit.distance < distance
    view.reset_button.click()
    assert np.array_equal(canvas.render((320, 240)), home)

    out = tmp_path / "room.glb"
    task = window.export_room3d(str(out))
    qtbot.waitUntil(task.done, timeout=30_000)
    mesh = next(iter(trimesh.load(out).geometry.values()))
    assert len(mesh.vertices) == len(view.room.vertices)
    assert np.array_equal(np.asarray(mesh.visual.vertex_colors)[:, :3], view.canvas.colors)
    assert (out.with_name("room.glb.json")).is_file()


def test_a_shown_result_colours_the_same_geometry(qtbot, window, box_room_file):
    path, photo = box_room_file
    doc = open_photo(qtbot, window, path)
    window.actions_.view3d.trigger()
    qtbot.waitUntil(lambda: window.view3d.room is not None, timeout=60_000)
    vertices = window.view3d.canvas.vertices
    before = window.view3d.canvas.colors.copy()
    setup_repaint(window, "mask", "green walls")
    paint(doc, 0, 0, 480, 120)
    handle = window.repaint()
    wait_job(qtbot, handle)
    assert handle.state == DONE, handle.error
    assert window.shown_result == doc.results[-1].id
    after = window.view3d.canvas.colors
    assert window.view3d.canvas.vertices is vertices, "the geometry is not rebuilt for a result"
    assert not np.array_equal(after, before)
    window.results_panel.select(None)  # the working image again
    assert np.array_equal(window.view3d.canvas.colors, before)
