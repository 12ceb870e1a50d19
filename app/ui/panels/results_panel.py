"""Results panel: thumbnails of every variation; pick one to show it on the canvas,
compare it with its input, apply it as the new base image, re-run its request or
load its settings back into the panels."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from app.engine import JobKind
from app.ui.canvas.layers import level_at_least
from app.ui.panels.common import action_button, to_pixmap

THUMB = QSize(168, 112)
BASE_ROW = "__base__"


def thumbnail(image) -> QPixmap:
    """A THUMB-sized tile with the image fitted and centred: a tiny photo is enlarged (pixels kept sharp),
    so every tile has the same size, whatever the photo's."""
    h, w = image.shape[:2]
    scale = min(THUMB.width() / w, THUMB.height() / h)
    size = QSize(max(1, round(w * scale)), max(1, round(h * scale)))
    mode = Qt.TransformationMode.FastTransformation if scale > 1 else Qt.TransformationMode.SmoothTransformation
    picture = to_pixmap(image).scaled(size, Qt.AspectRatioMode.IgnoreAspectRatio, mode)
    tile = QPixmap(THUMB)
    tile.fill(Qt.GlobalColor.transparent)
    painter = QPainter(tile)
    painter.drawPixmap((THUMB.width() - size.width()) // 2, (THUMB.height() - size.height()) // 2, picture)
    painter.end()
    return tile


class ResultsPanel(QWidget):
    shown = Signal(object)  # result id, or None for the working image
    use_settings = Signal(str)

    def __init__(self, actions, parent=None):
        super().__init__(parent)
        self.actions = actions
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setIconSize(THUMB)
        self.list.setFlow(QListWidget.Flow.LeftToRight)
        self.list.setWrapping(False)
        self.list.setMovement(QListWidget.Movement.Static)
        self.list.setWordWrap(False)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setSpacing(4)
        self.list.setUniformItemSizes(True)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.currentItemChanged.connect(self._current)
        self.empty = QLabel("Results appear here. Select an area and press Stage or De-furnish.")
        self.empty.setObjectName("Hint")
        self.empty.setWordWrap(True)
        buttons = QVBoxLayout()
        for act, text in ((actions.compare, "Compare"), (actions.apply_result, "Apply as base"),
                          (actions.rerun, "Re-run"), (actions.export, "Export…")):
            buttons.addWidget(action_button(act, text))
        buttons.addStretch(1)
        strip = QVBoxLayout()
        strip.addWidget(self.list)
        strip.addWidget(self.empty)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(strip, 1)
        layout.addLayout(buttons)
        self._doc = None
        self._icons: dict[str, QIcon] = {}
        self._fit_to_font()

    def _fit_to_font(self) -> None:
        """Room for the thumbnail and two whole lines of caption at the font in use, above the scroll bar."""
        line = self.list.fontMetrics().lineSpacing()
        grid = QSize(THUMB.width() + 16, THUMB.height() + 2 * line + 14)
        self.list.setGridSize(grid)
        bar = self.list.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        self.list.setFixedHeight(grid.height() + bar + 2 * self.list.frameWidth() + 2 * self.list.spacing() + 4)

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._fit_to_font()
            self.refresh()

    def set_document(self, doc) -> None:
        self._doc = doc
        self._icons.clear()
        self.refresh()

    def refresh(self, select: str | None = None) -> None:
        doc = self._doc
        current = select or self.current_id()
        self.list.blockSignals(True)
        self.list.clear()
        if doc is not None:
            base = QListWidgetItem(self._icon("base", doc.base), "Working image" + (
                "" if doc.base_id == "original" else f" ({doc.base_id})"))
            base.setData(Qt.ItemDataRole.UserRole, BASE_ROW)
            base.setToolTip("The image the next job works on")
            self.list.addItem(base)
            # newest job first; a job's variations in the order they were made
            for r in sorted(doc.results, key=lambda r: (-r.group, int(r.id.lstrip("r") or 0))):
                item = QListWidgetItem(self._icon(r.id, r.image), self._caption(r))
                item.setData(Qt.ItemDataRole.UserRole, r.id)
                item.setToolTip(self._tooltip(r))
                self.list.addItem(item)
        self.empty.setVisible(doc is None or not doc.results)
        self.list.blockSignals(False)
        self.select(current)

    def _icon(self, key: str, image) -> QIcon:
        if key == "base" or key not in self._icons:
            icon = QIcon(thumbnail(level_at_least(image, THUMB.width())))
            if key == "base":
                return icon
            self._icons[key] = icon
        return self._icons[key]

    def _caption(self, r) -> str:
        """Two lines, each shortened with … to the tile's width (the tooltip has it all)."""
        what = {JobKind.DEFURNISH: "De-furnished", JobKind.REPAINT: "Repainted"}.get(r.kind) or (
            getattr(r.request, "style", "") or "Staged").replace("_", " ").title()
        width = self.list.gridSize().width() - 10
        fm = self.list.fontMetrics()
        return "\n".join(fm.elidedText(line, Qt.TextElideMode.ElideRight, width)
                         for line in (f"{what} · {r.id}", f"seed {r.seed}"))

    @staticmethod
    def _tooltip(r) -> str:
        req = r.request
        t = r.timings or {}  # what the job ran with (a request's None means the set's preset)
        steps, guidance = t.get("steps", req.steps), t.get("guidance", req.guidance)
        lines = [f"{r.kind} result {r.id}", f"seed {r.seed}, {steps} steps, guidance {guidance}"
                 + (" (fast)" if t.get("fast") else "") + (f", {t['model_set']}" if t.get("model_set") else "")]
        if getattr(req, "room", None):
            lines.append(f"{req.style} {req.room}")
        prompts = getattr(req, "prompts", None) or ([req.prompt] if req.prompt else [])
        if prompts:
            lines.append(f"prompt: {prompts[0]}")
        total = r.timings.get("total_s")
        if isinstance(total, (int, float)):
            lines.append(f"took {total:.1f} s")
        return "\n".join(lines)

    def current_id(self) -> str | None:
        item = self.list.currentItem()
        if item is None:
            return None
        rid = item.data(Qt.ItemDataRole.UserRole)
        return None if rid == BASE_ROW else rid

    def select(self, result_id: str | None) -> None:
        target = result_id or BASE_ROW
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == target:
                if self.list.currentItem() is not item:
                    self.list.setCurrentItem(item)
                return
        if self.list.count():
            self.list.setCurrentRow(0)

    def _current(self, item, _prev) -> None:
        self.shown.emit(self.current_id())

    def _menu(self, pos) -> None:
        item = self.list.itemAt(pos)
        if item is None or item.data(Qt.ItemDataRole.UserRole) == BASE_ROW:
            return
        self.list.setCurrentItem(item)
        rid = item.data(Qt.ItemDataRole.UserRole)
        menu = QMenu(self)
        menu.addAction(self.actions.apply_result)
        menu.addAction(self.actions.rerun)
        menu.addAction("Use These Settings", lambda: self.use_settings.emit(rid))
        menu.addSeparator()
        menu.addAction(self.actions.compare)
        menu.addAction(self.actions.export)
        menu.exec(self.list.viewport().mapToGlobal(pos))
