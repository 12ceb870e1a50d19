"""Canvas tools: click-to-select (points), box-to-select, brush and eraser.

A tool turns pointer events in image coordinates into document calls. The view
owns panning and zooming and hands every other press / move / release to the
active tool. Brush size is in image pixels, like Photoshop and Krita.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QObject, QPointF, Qt, Signal
from PySide6.QtGui import QMouseEvent

from app.ui.document import Document

MIN_SIZE, MAX_SIZE = 1, 2000


class CanvasView(Protocol):
    """What a tool needs of the view it works in (the canvas view has these)."""

    zoom: float

    def in_image(self, pos: QPointF) -> bool: ...

    def clamp(self, pos: QPointF) -> QPointF: ...

    def show_rubber_band(self, a: QPointF, b: QPointF) -> None: ...

    def hide_rubber_band(self) -> None: ...


class ToolSettings(QObject):
    """Brush size and hardness, shared by brush and eraser; changes are signalled for panels."""

    changed = Signal()

    def __init__(self, size: int = 40, hardness: float = 0.8):
        super().__init__()
        self._size, self._hardness = size, hardness

    @property
    def size(self) -> int:
        return self._size

    @size.setter
    def size(self, value: int) -> None:
        value = int(min(max(value, MIN_SIZE), MAX_SIZE))
        if value != self._size:
            self._size = value
            self.changed.emit()

    @property
    def hardness(self) -> float:
        return self._hardness

    @hardness.setter
    def hardness(self, value: float) -> None:
        value = float(min(max(value, 0.0), 1.0))
        if value != self._hardness:
            self._hardness = value
            self.changed.emit()

    def bigger(self) -> None:
        self.size = max(self._size + 1, round(self._size * 1.2))

    def smaller(self) -> None:
        self.size = min(self._size - 1, round(self._size / 1.2))


class Tool:
    name = "tool"
    title = "Tool"
    cursor = Qt.CursorShape.CrossCursor
    shows_brush = False

    def __init__(self, settings: ToolSettings):
        self.settings = settings
        self.doc: Document | None = None

    def press(self, view: CanvasView, pos: QPointF, event: QMouseEvent) -> None: ...

    def move(self, view: CanvasView, pos: QPointF, event: QMouseEvent) -> None: ...

    def release(self, view: CanvasView, pos: QPointF, event: QMouseEvent) -> None: ...

    def cancel(self, view: CanvasView) -> None: ...


class ClickTool(Tool):
    """Left click adds a point of the object; right click or Alt+click marks background."""

    name, title = "click", "Click to select (S)"

    def press(self, view, pos, event):
        if self.doc is None or not view.in_image(pos):
            return
        negative = (event.button() == Qt.MouseButton.RightButton
                    or bool(event.modifiers() & Qt.KeyboardModifier.AltModifier))
        if event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            self.doc.add_point(pos.x(), pos.y(), not negative)


class BoxTool(Tool):
    """Drag a box around an object; points made with the click tool refine it."""

    name, title = "box", "Box select (X)"

    def __init__(self, settings):
        super().__init__(settings)
        self._start: QPointF | None = None

    def press(self, view, pos, event):
        if self.doc is not None and event.button() == Qt.MouseButton.LeftButton:
            self._start = view.clamp(pos)
            view.show_rubber_band(self._start, self._start)

    def move(self, view, pos, event):
        if self._start is not None:
            view.show_rubber_band(self._start, view.clamp(pos))

    def release(self, view, pos, event):
        if self._start is None or self.doc is None:
            return
        end = view.clamp(pos)
        start, self._start = self._start, None
        view.hide_rubber_band()
        x0, x1 = sorted((start.x(), end.x()))
        y0, y1 = sorted((start.y(), end.y()))
        if (x1 - x0) * view.zoom >= 4 and (y1 - y0) * view.zoom >= 4:
            self.doc.set_box((x0, y0, x1, y1))

    def cancel(self, view):
        self._start = None
        view.hide_rubber_band()


class BrushTool(Tool):
    name, title = "brush", "Brush (B)"
    cursor = Qt.CursorShape.BlankCursor
    shows_brush = True
    erase = False

    def __init__(self, settings):
        super().__init__(settings)
        self._active = False

    def press(self, view, pos, event):
        if self.doc is None or event.button() not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            return
        # Right-drag with the brush erases (and vice versa), as in most mask editors.
        erase = self.erase != (event.button() == Qt.MouseButton.RightButton)
        self._active = True
        self.doc.begin_stroke(pos.x(), pos.y(), self.settings.size / 2.0, self.settings.hardness, erase)

    def move(self, view, pos, event):
        if self._active and self.doc is not None:
            self.doc.stroke_to(pos.x(), pos.y())

    def release(self, view, pos, event):
        if self._active and self.doc is not None:
            self._active = False
            self.doc.end_stroke()

    def cancel(self, view):
        if self._active and self.doc is not None:
            self._active = False
            self.doc.end_stroke()


class EraserTool(BrushTool):
    name, title = "eraser", "Eraser (E)"
    erase = True

