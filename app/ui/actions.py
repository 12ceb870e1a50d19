"""Every command of the window as a QAction, with its shortcut and icon, in one place.

The window connects them; menus, the toolbar and the panels' buttons all show the
same actions, so enabled states and shortcuts agree everywhere.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence

ICONS = Path(__file__).resolve().parents[2] / "resources" / "icons"
SK = QKeySequence.StandardKey


def icon(name: str) -> QIcon:
    path = ICONS / f"{name}.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()


class Actions(QObject):
    def __init__(self, parent: QObject):
        super().__init__(parent)
        a = self._make
        # File
        self.open = a("&Open Photo…", SK.Open, "open", "Open a room photo")
        self.open_project = a("Open &Project…", "Ctrl+Shift+O", None, "Open a saved RoomStager project")
        self.save_project = a("&Save Project", SK.Save, "save", "Save the photo, mask, history and results")
        self.save_project_as = a("Save Project &As…", SK.SaveAs)
        self.export = a("&Export…", "Ctrl+E", "export", "Export the shown image with the disclosure label")
        self.batch = a("&Batch…", "Ctrl+B", None, "Stage or de-furnish a folder or a list of photos in one go")
        self.models = a("&Models…", None, None, "Download, import or remove models")
        self.train_lora = a("Train a &LoRA…", None, None, "Train your own de-furnishing or staging LoRA on your photos")
        self.settings = a("Se&ttings…", SK.Preferences)
        self.settings.setMenuRole(QAction.MenuRole.PreferencesRole)
        if not self.settings.shortcut():
            self.settings.setShortcut("Ctrl+,")
        self.quit = a("&Quit", SK.Quit)
        # Edit
        self.history = a("&History", "Ctrl+Shift+H", "history", "Show every change; click one to go back to it")
        # Tools (exclusive)
        self.tools = QActionGroup(self)
        self.tool_click = a("Click to Select", "S", "tool-click",
                            "Click an object to select it: left click adds, right or Alt+click subtracts")
        self.tool_box = a("Box Select", "R", "tool-box", "Drag a box around an object")
        self.tool_brush = a("Brush", "B", "tool-brush", "Paint the mask (right-drag erases)")
        self.tool_eraser = a("Eraser", "E", "tool-eraser", "Erase the mask (right-drag paints)")
        for act in (self.tool_click, self.tool_box, self.tool_brush, self.tool_eraser):
            act.setCheckable(True)
            self.tools.addAction(act)
        self.tool_click.setChecked(True)
        self.brush_bigger = a("Bigger Brush", "]")
        self.brush_smaller = a("Smaller Brush", "[")
        self.brush_harder = a("Harder Brush", "Shift+]")
        self.brush_softer = a("Softer Brush", "Shift+[")
        # Selection object
        self.commit_add = a("Add Object to Mask", "Return", "commit-add", "Add the clicked object to the mask")
        self.commit_add.setShortcuts([QKeySequence("Return"), QKeySequence("Enter")])
        self.commit_subtract = a("Subtract Object from Mask", "Shift+Return", "commit-subtract",
                                 "Remove the clicked object from the mask")
        self.discard_object = a("Discard Object", "Escape", None, "Forget the clicks of the current object")
        self.undo_point = a("Remove Last Click", "Backspace")
        # Mask
        self.grow = a("&Grow…", "Ctrl+Alt+G", None, "Grow the mask by some pixels")
        self.shrink = a("S&hrink…", "Ctrl+Alt+S", None, "Shrink the mask by some pixels")
        self.feather = a("&Feather…", "Shift+F6", None, "Soften the mask's edge")
        self.fill_holes = a("Fill &Holes", None, None, "Fill gaps enclosed by the mask")
        self.invert = a("&Invert", "Ctrl+Shift+I", "invert", "Invert the mask")
        self.clear = a("&Clear", "Ctrl+D", "clear", "Clear the mask")
        self.load_mask = a("Load Mask from File…")
        self.save_mask = a("Save Mask as PNG…")
        # View
        self.fit = a("&Fit in Window", "Ctrl+0", "fit")
        self.actual = a("&100 %", "Ctrl+1", "actual")
        self.zoom_in = a("Zoom &In", SK.ZoomIn)
        self.zoom_out = a("Zoom &Out", SK.ZoomOut)
        self.show_mask = a("Show &Mask", "M", "mask", "Show the mask overlay")
        self.show_mask.setCheckable(True)
        self.show_mask.setChecked(True)
        self.compare = a("&Before / After Split", "Y", "compare",
                         "Compare with a split line (hold \\ to see the original)")
        self.compare.setCheckable(True)
        # Generate
        self.stage = a("&Stage Room", "Ctrl+Return", "stage", "Add furniture in the chosen style")
        self.defurnish = a("&De-furnish", "Ctrl+Shift+Return", "defurnish", "Remove what the mask covers")
        self.repaint = a("&Repaint", "Ctrl+Alt+Return", "repaint",
                         "Repaint the window view, walls, floor, ceiling or sky, or around the selection")
        self.view3d = a("Room in &3D", "Ctrl+3", "view3d", "Show the room in 3D beside the photo (orbit, zoom, export)")
        self.view3d.setCheckable(True)
        self.cancel_jobs = a("&Cancel All Jobs", "Ctrl+.", "cancel")
        self.apply_result = a("&Apply Result as Base", "Ctrl+Shift+A", "apply",
                              "Continue working on the shown result (e.g. stage after de-furnishing)")
        self.rerun = a("&Re-run Result's Request", None, "rerun")
        # Help
        self.shortcuts = a("&Keyboard Shortcuts", "F1")
        self.about = a("&About RoomStager")

    def _make(self, text: str, shortcut=None, icon_name: str | None = None, tip: str | None = None) -> QAction:
        act = QAction(text, self.parent())
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        if icon_name:
            act.setIcon(icon(icon_name))
        if tip:
            keys = act.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            act.setToolTip(f"{tip} ({keys})" if keys else tip)
            act.setStatusTip(tip)
        act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        return act

    def document_actions(self) -> list[QAction]:
        """Actions that need an open photo."""
        return [self.save_project, self.save_project_as, self.export, self.grow, self.shrink, self.feather,
                self.fill_holes, self.invert, self.clear, self.load_mask, self.save_mask, self.fit, self.actual,
                self.zoom_in, self.zoom_out, self.stage, self.defurnish, self.repaint, self.commit_add, self.commit_subtract,
                self.discard_object, self.undo_point, self.compare]
