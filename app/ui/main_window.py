"""The main window: canvas in the middle, docks around it, menus, toolbar and status bar.

Opening, saving and exporting live in window_files.py; generation jobs, results and
guides in window_jobs.py; the menus in window_menus.py. This file builds the window
and keeps the canvas in step with the document.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QColor, QKeySequence, QUndoGroup
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QToolBar,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from app import presets
from app.engine import Engine
from app.ui import settings, wheel_guard
from app.ui.actions import Actions
from app.ui.autosave import Autosaver
from app.ui.canvas.tools import BoxTool, BrushTool, ClickTool, EraserTool, ToolSettings
from app.ui.canvas.view import CanvasView
from app.ui.document import Document
from app.ui.engine_client import EngineClient
from app.ui.heartbeat import Heartbeat
from app.ui.messages import MessageBar
from app.ui.panels.defurnish_panel import DefurnishPanel
from app.ui.panels.guides_panel import GuidesPanel
from app.ui.panels.jobs_panel import JobsPanel
from app.ui.panels.mask_panel import MaskPanel
from app.ui.panels.models_panel import ModelsPanel
from app.ui.panels.repaint_panel import RepaintPanel
from app.ui.panels.results_panel import ResultsPanel
from app.ui.panels.stage_panel import StagePanel
from app.ui.selection import SelectionController
from app.ui.text_select import TextSelectController
from app.ui.view3d import RoomView3D
from app.ui.window_display import DisplayMixin
from app.ui.window_docks import build_docks, show_panel
from app.ui.window_feedback import FeedbackMixin
from app.ui.window_files import FilesMixin
from app.ui.window_jobs import JobsMixin, make_auto_panel
from app.ui.window_menus import build_menus
from app.ui.window_rooms import RoomsMixin

LAYOUT_VERSION = 4


class MainWindow(DisplayMixin, FilesMixin, JobsMixin, RoomsMixin, FeedbackMixin, QMainWindow):
    def __init__(self, models: str | None = None, engine_factory=None):
        super().__init__()
        wheel_guard.install(QApplication.instance())  # before the panels are built and polished
        self.setObjectName("MainWindow")
        self.setWindowTitle("RoomStager")
        self.setAcceptDrops(True)
        self.resize(1500, 940)
        self.models = models or settings.get("models") or None
        self.doc: Document | None = None
        self.shown_result: str | None = None
        self.holding_original = False
        self.split_fraction = 0.5

        self.actions_ = Actions(self)
        self.tool_settings = ToolSettings()
        self.tools = {cls.name: cls(self.tool_settings) for cls in (ClickTool, BoxTool, BrushTool, EraserTool)}
        self.client = EngineClient(engine_factory or self._default_engine_factory, self)
        self.selection = SelectionController(self.client, self.common_request_fields, self)
        self.autosaver = Autosaver(self)
        self.heartbeat = Heartbeat(parent=self)
        self.undo_group = QUndoGroup(self)
        self.undo_action = self.undo_group.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.undo_group.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])

        # centre: message bar over the canvas
        self.canvas = CanvasView()
        self.messages = MessageBar()
        centre = QWidget()
        box = QVBoxLayout(centre)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.messages)
        self.view3d = RoomView3D()  # the room in 3D, beside the canvas when shown
        self.view3d.setVisible(False)
        self.centre_split = QSplitter(Qt.Orientation.Horizontal)
        self.centre_split.setChildrenCollapsible(False)
        self.centre_split.addWidget(self.canvas)
        self.centre_split.addWidget(self.view3d)
        box.addWidget(self.centre_split, 1)
        self.setCentralWidget(centre)
        self.placeholder = QLabel("Open a room photo to start\n\nFile ▸ Open (Ctrl+O), or drop a photo here",
                                  self.canvas)
        self.placeholder.setObjectName("Placeholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.canvas.installEventFilter(self)

        # panels
        color = QColor(settings.get("mask/color"))
        opacity = settings.get("mask/opacity")
        self.mask_panel = MaskPanel(self.actions_, self.tool_settings, color, opacity)
        self.text_select = TextSelectController(self.client, self.common_request_fields, self.mask_panel.text_select,
                                                lambda: self.doc, self)
        self.stage_panel = StagePanel(self.actions_, presets.styles(), presets.rooms())
        self.defurnish_panel = DefurnishPanel(self.actions_)
        self.repaint_panel = RepaintPanel(self.actions_)
        self.guides_panel = GuidesPanel()
        self.results_panel = ResultsPanel(self.actions_)
        self.jobs_panel = JobsPanel(self.client)
        self.models_panel = ModelsPanel()
        self.history_view = QUndoView(self.undo_group)
        self.history_view.setEmptyLabel("Opened photo")
        self._panels = {
            "selection": ("Selection", self.mask_panel), "guides": ("Guides", self.guides_panel),
            "jobs": ("Jobs", self.jobs_panel), "history": ("History", self.history_view),
            "models": ("Models", self.models_panel), "stage": ("Stage", self.stage_panel),
            "defurnish": ("De-furnish", self.defurnish_panel), "repaint": ("Repaint", self.repaint_panel),
            "results": ("Results", self.results_panel),
        }
        self.auto_panel = make_auto_panel()
        self._panels["auto"] = ("Auto", self.auto_panel)
        build_docks(self, self._panels)

        self._build_toolbar()
        self.build_status_bar()
        build_menus(self)
        self._connect()
        self.set_document(None)
        self.set_tool("click")
        self._restore_layout()
        self._refresh_models()
        self.client.start()

    # ---- construction --------------------------------------------------------

    def _build_toolbar(self) -> None:
        a = self.actions_
        bar = QToolBar("Tools", self)
        bar.setObjectName("toolbar-tools")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        for act in (a.tool_click, a.tool_box, a.tool_brush, a.tool_eraser):
            bar.addAction(act)
        bar.addSeparator()
        for act in (a.show_mask, a.compare, a.view3d, a.fit, a.actual):
            bar.addAction(act)
        bar.addSeparator()
        bar.addAction(a.history)
        self.addToolBar(Qt.ToolBarArea.LeftToolBarArea, bar)
        top = QToolBar("Main", self)
        top.setObjectName("toolbar-main")
        top.setMovable(False)
        top.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for act in (a.open, a.save_project, a.export):
            top.addAction(act)
        top.addSeparator()
        for act in (a.stage, a.defurnish, a.repaint, a.apply_result):
            top.addAction(act)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, top)

    def _connect(self) -> None:
        a = self.actions_
        c = self.canvas
        for act, name in ((a.tool_click, "click"), (a.tool_box, "box"), (a.tool_brush, "brush"), (a.tool_eraser, "eraser")):
            act.triggered.connect(lambda _c=False, n=name: self.set_tool(n))
        a.brush_bigger.triggered.connect(self.tool_settings.bigger)
        a.brush_smaller.triggered.connect(self.tool_settings.smaller)
        a.brush_harder.triggered.connect(lambda: setattr(self.tool_settings, "hardness", self.tool_settings.hardness + 0.1))
        a.brush_softer.triggered.connect(lambda: setattr(self.tool_settings, "hardness", self.tool_settings.hardness - 0.1))
        self.tool_settings.changed.connect(lambda: c.set_brush(self.tool_settings.size, self.tool_settings.hardness))
        # canvas-focused keys: Enter / Esc / Backspace belong to the text fields elsewhere; the Auto tab's
        # object list takes them too (tick the objects, press Enter)
        for act in (a.commit_add, a.commit_subtract, a.discard_object, a.undo_point):
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            c.addAction(act)
            self.auto_panel.panel.objects.addAction(act)
        a.commit_add.triggered.connect(lambda: self.doc and self.doc.commit_object(False))
        a.commit_subtract.triggered.connect(lambda: self.doc and self.doc.commit_object(True))
        a.discard_object.triggered.connect(lambda: self.doc and self.doc.discard_object())
        a.undo_point.triggered.connect(lambda: self.doc and self.doc.remove_last_point())
        a.grow.triggered.connect(lambda: self.mask_action("grow", self.mask_panel.grow_px.value()))
        a.shrink.triggered.connect(lambda: self.mask_action("shrink", self.mask_panel.grow_px.value()))
        a.feather.triggered.connect(lambda: self.mask_action("feather", self.mask_panel.feather_px.value()))
        a.fill_holes.triggered.connect(lambda: self.mask_action("fill_holes"))
        a.invert.triggered.connect(lambda: self.mask_action("invert"))
        a.clear.triggered.connect(lambda: self.mask_action("clear"))
        a.fit.triggered.connect(c.fit)
        a.actual.triggered.connect(c.actual_pixels)
        a.zoom_in.triggered.connect(lambda: c.zoom_by(1.25))
        a.zoom_out.triggered.connect(lambda: c.zoom_by(0.8))
        a.show_mask.toggled.connect(lambda _on: self.refresh_display())
        a.compare.toggled.connect(lambda _on: self.refresh_display())
        a.history.triggered.connect(self._show_history)
        c.zoom_changed.connect(lambda pct: self.zoom_label.setText(f"{pct:.0f} %"))
        c.cursor_moved.connect(self._cursor_moved)
        c.hold_original.connect(self._hold_original)
        c.split_moved.connect(lambda f: (setattr(self, "split_fraction", f), self.clip_overlays()))
        c.files_dropped.connect(self.open_paths)
        self.mask_panel.overlay_changed.connect(self._overlay_style)
        self.selection.status.connect(self._sam_status)
        self.selection.segmented.connect(lambda s: self._sam_status(f"Selected in {s * 1000:.0f} ms"))
        self.selection.ready_changed.connect(lambda _r: self._selection_changed())
        self.text_select.status.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.selection.unavailable.connect(lambda text, missing: self.report_failure(text, missing, "warning"))
        self._coverage_timer = QTimer(self)
        self._coverage_timer.setSingleShot(True)
        self._coverage_timer.setInterval(250)
        self._coverage_timer.timeout.connect(self._mask_settled)
        self.connect_files()
        self.connect_jobs()
        self.connect_rooms()

    def _default_engine_factory(self):
        device = settings.get("device")
        memory = settings.get("memory_mode")
        return Engine(models=self.models, device=None if device in ("auto", "", None) else device,
                      memory_mode=None if memory in ("auto", "", None) else memory, preload=True)

    def common_request_fields(self, model_set: str | None = None) -> dict:
        device = settings.get("device")
        return {"models": self.models or "auto", "model_set": model_set or self._model_set_hint(),
                "device": None if device in ("auto", "", None) else device,
                "photo_path": str(self.doc.path) if self.doc and self.doc.path else None}

    def _model_set_hint(self) -> str | None:
        return self.stage_panel.model_set.currentData()

    # ---- tools -----------------------------------------------------------------

    def set_tool(self, name: str) -> None:
        tool = self.tools[name]
        tool.doc = self.doc
        action = {"click": self.actions_.tool_click, "box": self.actions_.tool_box,
                  "brush": self.actions_.tool_brush, "eraser": self.actions_.tool_eraser}[name]
        action.setChecked(True)
        self.canvas.set_tool(tool)
        self.canvas.set_brush(self.tool_settings.size, self.tool_settings.hardness)
        if name in ("brush", "eraser"):
            self.show_panel("selection")

    def _show_history(self) -> None:
        self.show_panel("history")

    def show_panel(self, key: str) -> None:
        show_panel(self, key)

    # ---- settings and close ------------------------------------------------------

    def _restore_layout(self) -> None:
        s = settings.settings()
        geometry = s.value("window/geometry")
        state = s.value("window/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state, LAYOUT_VERSION)
        self.history_view.parentWidget()  # keep the dock's visibility as restored

    def save_layout(self) -> None:
        settings.put("window/geometry", self.saveGeometry())
        settings.put("window/state", self.saveState(LAYOUT_VERSION))

    async def _save_and_close(self, target: Path) -> None:
        if await self.save_project(path=target) is not None:
            self.close()

    def ask(self, title: str, text: str, buttons=QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            default=QMessageBox.StandardButton.Yes) -> QMessageBox.StandardButton:
        """A modal question (tests replace this method)."""
        return QMessageBox.question(self, title, text, buttons, default)

    def closeEvent(self, event) -> None:
        choice = self.unsaved_choice("quit")
        if choice is False:
            event.ignore()
            return
        if isinstance(choice, Path):  # save off the window's thread, then close
            event.ignore()
            self.spawn(self._save_and_close(choice))
            return
        self.save_layout()
        self.heartbeat.stop()
        self.selection.attach(None)
        self.autosaver.close(keep=False)
        self.client.shutdown()
        super().closeEvent(event)
