"""The menu bar."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

import app
from app.ui.actions import Actions
from app.ui.batch.dialog import open_batch_dialog

SHORTCUTS = """<table cellspacing=6>
<tr><td><b>S</b></td><td>Click to select (left adds, right or Alt subtracts)</td></tr>
<tr><td><b>R</b></td><td>Box select</td></tr>
<tr><td><b>B / E</b></td><td>Brush / eraser (right-drag does the opposite)</td></tr>
<tr><td><b>[ ]</b></td><td>Brush size; <b>Shift+[ ]</b> hardness</td></tr>
<tr><td><b>Enter / Shift+Enter</b></td><td>Add / subtract the clicked object; <b>Esc</b> discards it</td></tr>
<tr><td><b>Backspace</b></td><td>Remove the last click</td></tr>
<tr><td><b>Space-drag, middle-drag</b></td><td>Pan; the wheel zooms around the cursor</td></tr>
<tr><td><b>Ctrl+0 / Ctrl+1</b></td><td>Fit / 100 %</td></tr>
<tr><td><b>hold \\</b></td><td>See the original</td></tr>
<tr><td><b>Y</b></td><td>Before / after split</td></tr>
<tr><td><b>M</b></td><td>Show or hide the mask</td></tr>
<tr><td><b>Ctrl+Enter</b></td><td>Stage; <b>Ctrl+Shift+Enter</b> de-furnish; <b>Ctrl+Alt+Enter</b> repaint;
<b>Ctrl+.</b> cancel jobs</td></tr>
<tr><td><b>Ctrl+3</b></td><td>The room in 3D (drag to orbit, wheel to zoom, double-click to reset)</td></tr>
<tr><td><b>Ctrl+Z / Ctrl+Shift+Z</b></td><td>Undo / redo; <b>Ctrl+Shift+H</b> history</td></tr>
</table>"""


def build_menus(w) -> None:
    a: Actions = w.actions_
    bar = w.menuBar()
    file = bar.addMenu("&File")
    file.addAction(a.open)
    w.recent_menu = file.addMenu("Open &Recent")
    file.addAction(a.open_project)
    file.addSeparator()
    file.addAction(a.save_project)
    file.addAction(a.save_project_as)
    file.addAction(a.export)
    file.addAction(a.batch)
    file.addSeparator()
    file.addAction(a.models)
    file.addAction(a.settings)
    file.addSeparator()
    file.addAction(a.quit)

    edit = bar.addMenu("&Edit")
    edit.addAction(w.undo_action)
    edit.addAction(w.redo_action)
    edit.addSeparator()
    edit.addAction(a.history)

    select = bar.addMenu("&Select")
    for act in (a.tool_click, a.tool_box, a.tool_brush, a.tool_eraser):
        select.addAction(act)
    select.addSeparator()
    for act in (a.commit_add, a.commit_subtract, a.discard_object, a.undo_point):
        select.addAction(act)
    select.addSeparator()
    for act in (a.brush_bigger, a.brush_smaller, a.brush_harder, a.brush_softer):
        select.addAction(act)
        w.addAction(act)

    mask = bar.addMenu("&Mask")
    for act in (a.grow, a.shrink, a.feather, a.fill_holes, a.invert, a.clear):
        mask.addAction(act)
    mask.addSeparator()
    mask.addAction(a.load_mask)
    mask.addAction(a.save_mask)

    view = bar.addMenu("&View")
    for act in (a.fit, a.actual, a.zoom_in, a.zoom_out):
        view.addAction(act)
    view.addSeparator()
    view.addAction(a.show_mask)
    view.addAction(a.compare)
    view.addAction(a.view3d)
    view.addSeparator()
    panels = view.addMenu("&Panels")
    for dock in w.docks.values():
        panels.addAction(dock.toggleViewAction())

    gen = bar.addMenu("&Generate")
    for act in (a.stage, a.defurnish, a.repaint):
        gen.addAction(act)
    gen.addSeparator()
    for act in (a.apply_result, a.rerun, a.cancel_jobs):
        gen.addAction(act)

    tools = bar.addMenu("&Tools")
    tools.addAction(a.train_lora)

    help_ = bar.addMenu("&Help")
    help_.addAction(a.shortcuts)
    help_.addAction(a.about)
    a.shortcuts.triggered.connect(lambda: QMessageBox.information(w, "Keyboard shortcuts", SHORTCUTS))
    a.about.triggered.connect(lambda: QMessageBox.about(
        w, "About RoomStager",
        f"<b>RoomStager {app.__version__}</b><p>Virtual staging and de-furnishing of room photos, "
        "on your own GPU.</p><p>Exported photos carry a 'Virtually staged' label by default: "
        "listing rules require altered photos to say so.</p>"))
    a.quit.triggered.connect(w.close)
    a.models.triggered.connect(w.open_models_dialog)
    a.batch.triggered.connect(lambda: open_batch_dialog(w))
    a.train_lora.triggered.connect(w.open_train_dialog)
