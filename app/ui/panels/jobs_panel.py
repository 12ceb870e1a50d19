"""Jobs panel: queued and running jobs with steps, time left, a live preview and Cancel;
finished generations stay listed with how they ended."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.engine import JobKind
from app.ui.engine_client import CANCELLED, DONE, FAILED, QUEUED, RUNNING, EngineClient, JobHandle
from app.ui.panels.common import to_pixmap

HIDDEN_KINDS = {JobKind.SEGMENT}  # clicks come and go too fast to list
TRANSIENT_KINDS = {JobKind.EMBED, JobKind.GUIDES, JobKind.AUTOMASK, JobKind.TEXT_SEGMENT}  # listed while they run
KEEP_FINISHED = 12


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.0f} s left"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s left"


class JobRow(QFrame):
    def __init__(self, handle: JobHandle, parent=None):
        super().__init__(parent)
        self.handle = handle
        self.setObjectName("JobRow")
        self.title = QLabel(handle.label)
        self.title.setObjectName("JobTitle")
        self.status = QLabel("queued")
        self.status.setObjectName("Hint")
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(6)
        self.cancel = QPushButton("Cancel")
        self.cancel.setObjectName("SmallButton")
        self.cancel.clicked.connect(handle.cancel)
        grid = QGridLayout(self)
        grid.setContentsMargins(8, 6, 8, 6)
        grid.addWidget(self.title, 0, 0)
        grid.addWidget(self.cancel, 0, 1, 2, 1)
        grid.addWidget(self.status, 1, 0)
        grid.addWidget(self.bar, 2, 0, 1, 2)
        self.refresh()

    def refresh(self) -> None:
        h = self.handle
        if h.state == QUEUED:
            text = "waiting for the engine" if h.engine_job is None else "queued"
            self.bar.setRange(0, 0 if h.cancel_requested else 1)
        elif h.state == RUNNING:
            if h.total > 0:
                self.bar.setRange(0, h.total)
                self.bar.setValue(h.step)
                text = f"step {h.step} / {h.total}"
                eta = format_eta(h.eta())
                text += f" · {eta}" if eta else " · measuring the pace…"
            else:
                self.bar.setRange(0, 0)
                text = h.message or "working…"
            if h.cancel_requested:
                text = "cancelling…"
        else:
            self.bar.setRange(0, 1)
            self.bar.setValue(1 if h.state == DONE else 0)
            took = (h.ended_at or time.perf_counter()) - (h.started_at or h.submitted_at)
            text = {DONE: f"done in {took:.1f} s", CANCELLED: "cancelled",
                    FAILED: f"failed: {h.error}"}.get(h.state, h.state)
        self.status.setText(text)
        self.status.setToolTip(text)
        self.cancel.setVisible(h.active)
        self.cancel.setEnabled(not h.cancel_requested)


class JobsPanel(QWidget):
    def __init__(self, client: EngineClient, parent=None):
        super().__init__(parent)
        self.client = client
        self.rows: dict[int, JobRow] = {}
        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setFixedHeight(140)
        self.preview.setObjectName("Preview")
        self.preview.setToolTip("What the model is painting right now")
        self.preview.setVisible(False)
        self.idle = QLabel("No job is running. Stage or de-furnish to start one; jobs queue up here.")
        self.idle.setObjectName("Hint")
        self.idle.setWordWrap(True)
        self.stats = QLabel("")
        self.stats.setObjectName("Hint")
        self.cancel_all = QPushButton("Cancel all")
        self.cancel_all.clicked.connect(lambda: client.cancel(None))
        inner = QWidget()
        self.list = QVBoxLayout(inner)
        self.list.setContentsMargins(0, 0, 0, 0)
        self.list.setSpacing(4)
        self.list.addStretch(1)
        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setFrameShape(QFrame.Shape.NoFrame)
        area.setWidget(inner)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.preview)
        layout.addWidget(self.idle)
        layout.addWidget(area, 1)
        layout.addWidget(self.stats)
        layout.addWidget(self.cancel_all)
        client.job_added.connect(self._added)
        client.job_changed.connect(self._changed)
        client.job_ended.connect(self._ended)
        self._tick = QTimer(self)
        self._tick.timeout.connect(self._refresh_running)
        self._tick.start(500)
        self._preview_job: JobHandle | None = None

    def _added(self, handle: JobHandle) -> None:
        if handle.kind in HIDDEN_KINDS:
            return
        row = JobRow(handle)
        self.rows[handle.uid] = row
        self.idle.setVisible(False)
        self.list.insertWidget(0, row)
        self._trim()

    def _changed(self, handle: JobHandle) -> None:
        row = self.rows.get(handle.uid)
        if row is not None:
            row.refresh()
        if handle.preview is not None and handle.kind.generates and handle.active:
            self._preview_job = handle
            self.preview.setVisible(True)
            pix = to_pixmap(handle.preview)
            w = max(160, self.preview.width() - 8)
            self.preview.setPixmap(pix.scaled(w, 140, Qt.AspectRatioMode.KeepAspectRatio,
                                              Qt.TransformationMode.SmoothTransformation))

    def _ended(self, handle: JobHandle) -> None:
        row = self.rows.get(handle.uid)
        if row is None:
            return
        row.refresh()
        if handle.kind in TRANSIENT_KINDS and handle.state == DONE:
            self.rows.pop(handle.uid)
            row.deleteLater()
            self.idle.setVisible(not self.rows)
        if handle is self._preview_job:
            self._preview_job = None
            self.preview.clear()
            self.preview.setVisible(False)

    def _trim(self) -> None:
        finished = sorted((r for r in self.rows.values() if not r.handle.active), key=lambda r: r.handle.uid)
        for row in finished[:max(0, len(finished) - KEEP_FINISHED)]:
            self.rows.pop(row.handle.uid, None)
            row.deleteLater()

    def _refresh_running(self) -> None:
        for row in self.rows.values():
            if row.handle.active:
                row.refresh()

    def show_stats(self, text: str) -> None:
        self.stats.setText(text)
