"""The canvas: a QGraphicsView over the photo with zoom, pan, overlays and tools.

Wheel zooms around the cursor; space-drag and middle-drag pan; "fit" follows the
window until the user zooms. 100 % means one photo pixel per device pixel, so the
photo is sharp on high-DPI screens. In compare mode a vertical split line shows
"before" left of it and the image right of it; drag the line to move it.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QFrame,
    QGraphicsEllipseItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
)

from app.ui.canvas.layers import ImageLayer, OverlayLayer, PointsLayer
from app.ui.canvas.preview import PreviewLayer
from app.ui.canvas.tools import Tool

MIN_ZOOM, MAX_ZOOM = 0.01, 32.0
SPLIT_GRAB_PX = 8


class CanvasView(QGraphicsView):
    zoom_changed = Signal(float)  # percent: photo pixels per device pixel x 100
    cursor_moved = Signal(float, float)  # image coordinates
    hold_original = Signal(bool)  # the "see the original" key went down / up
    split_moved = Signal(float)
    files_dropped = Signal(list)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(True)
        self.setBackgroundBrush(QColor(38, 38, 40))

        self.image = ImageLayer()
        self.guide = ImageLayer()
        self.guide.setOpacity(0.65)
        self.guide.setVisible(False)
        self.mask = OverlayLayer(QColor(255, 60, 90), 0.45)
        self.margin = OverlayLayer(QColor(255, 170, 40), 0.35)
        self.candidate = OverlayLayer(QColor(60, 200, 255), 0.5)
        self.points = PointsLayer()
        self.band = QGraphicsRectItem()
        band_pen = QPen(QColor(255, 200, 40), 1.5, Qt.PenStyle.DashLine)
        band_pen.setCosmetic(True)
        self.band.setPen(band_pen)
        self.brush = QGraphicsEllipseItem()
        brush_pen = QPen(QColor(255, 255, 255, 220), 1.2)
        brush_pen.setCosmetic(True)
        self.brush.setPen(brush_pen)
        self.brush_inner = QGraphicsEllipseItem(self.brush)
        inner_pen = QPen(QColor(0, 0, 0, 160), 1.0, Qt.PenStyle.DotLine)
        inner_pen.setCosmetic(True)
        self.brush_inner.setPen(inner_pen)
        for z, item in enumerate((self.image, self.guide, self.mask, self.margin, self.candidate,
                                  None, self.points, self.band, self.brush)):
            if item is None:  # the live preview's place
                self.preview = PreviewLayer(z)
                for part in self.preview.items():
                    self.scene().addItem(part)
                continue
            item.setZValue(z)
            self.scene().addItem(item)
        for item in (self.band, self.brush):
            item.setVisible(False)

        self.tool: Tool | None = None
        self.brush_size, self.brush_hardness = 40.0, 0.8
        self._fit_mode = True
        self._pan_from: QPointF | None = None
        self._space = False
        self._split_drag = False
        self._image_size = (0, 0)

    # ---- content ----------------------------------------------------------------

    def set_photo_size(self, w: int, h: int) -> None:
        self._image_size = (w, h)
        self._update_scene_rect()
        self.fit()

    def in_image(self, pos: QPointF) -> bool:
        w, h = self._image_size
        return 0 <= pos.x() < w and 0 <= pos.y() < h

    def clamp(self, pos: QPointF) -> QPointF:
        w, h = self._image_size
        return QPointF(min(max(pos.x(), 0.0), float(w)), min(max(pos.y(), 0.0), float(h)))

    def set_preview(self, rgb: np.ndarray | None, box: tuple[int, int, int, int] | None,
                    region: np.ndarray | None = None) -> None:
        """Show a running job's picture inside `region` (bool over `box`), the box as an outline."""
        self.preview.show(rgb, box, region)

    def show_rubber_band(self, a: QPointF, b: QPointF) -> None:
        self.band.setRect(QRectF(a, b).normalized())
        self.band.setVisible(True)

    def hide_rubber_band(self) -> None:
        self.band.setVisible(False)

    def set_tool(self, tool: Tool | None) -> None:
        if self.tool is not None:
            self.tool.cancel(self)
        self.tool = tool
        self._update_cursor()

    def set_brush(self, size: float, hardness: float) -> None:
        self.brush_size, self.brush_hardness = float(size), float(hardness)
        self._place_brush(self.brush.pos())

    # ---- zoom and pan ----------------------------------------------------------

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_percent(self) -> float:
        return self.zoom * self.devicePixelRatioF() * 100.0

    def fit(self) -> None:
        w, h = self._image_size
        if not w or not h:
            return
        self._fit_mode = True
        self.resetTransform()
        vw, vh = max(1, self.viewport().width() - 24), max(1, self.viewport().height() - 24)
        s = min(vw / w, vh / h)
        self._set_zoom(s)
        self.centerOn(w / 2, h / 2)

    def actual_pixels(self) -> None:
        self._fit_mode = False
        center = self.mapToScene(self.viewport().rect().center())
        self._set_zoom(1.0 / self.devicePixelRatioF())
        self.centerOn(center)

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        self._fit_mode = False
        old = self.zoom
        new = min(max(old * factor, MIN_ZOOM), MAX_ZOOM)
        if anchor is None:
            anchor = self.viewport().rect().center().toPointF()
        scene_pt = self.mapToScene(anchor.toPoint())
        self._set_zoom(new)
        # Keep the photo point under the cursor where it was.
        delta = self.mapFromScene(scene_pt).toPointF() - anchor
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + round(delta.x()))
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + round(delta.y()))

    def _set_zoom(self, s: float) -> None:
        s = min(max(s, MIN_ZOOM), MAX_ZOOM)
        self.setTransform(self.transform().fromScale(s, s))
        self._update_scene_rect()
        self._place_brush(self.brush.pos())
        self.zoom_changed.emit(self.zoom_percent())
        self.viewport().update()

    def _update_scene_rect(self) -> None:
        w, h = self._image_size
        z = max(self.zoom, 1e-6)
        mx, my = self.viewport().width() / z, self.viewport().height() / z
        self.setSceneRect(QRectF(-mx, -my, w + 2 * mx, h + 2 * my))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update_scene_rect()
        if self._fit_mode:
            self.fit()

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120.0 or event.angleDelta().x() / 120.0
        if steps:
            self.zoom_by(1.25 ** steps, event.position())
        event.accept()

    # ---- pointer ---------------------------------------------------------------

    def _split_x_view(self) -> float | None:
        if self.image.split_x is None or not self.image._before:
            return None
        return self.mapFromScene(QPointF(self.image.split_x, 0)).x()

    def mousePressEvent(self, event) -> None:
        self.setFocus()
        pos = event.position()
        if event.button() == Qt.MouseButton.MiddleButton or (self._space and event.button() == Qt.MouseButton.LeftButton):
            self._pan_from = pos
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        sx = self._split_x_view()
        if sx is not None and event.button() == Qt.MouseButton.LeftButton and abs(pos.x() - sx) <= SPLIT_GRAB_PX:
            self._split_drag = True
            return
        if self.tool is not None:
            self.tool.press(self, self.mapToScene(pos.toPoint()) + self._subpixel(pos), event)

    def _subpixel(self, pos: QPointF) -> QPointF:
        frac = pos - pos.toPoint().toPointF()
        return QPointF(frac.x() / self.zoom, frac.y() / self.zoom)

    def mouseMoveEvent(self, event) -> None:
        pos = event.position()
        scene_pos = self.mapToScene(pos.toPoint()) + self._subpixel(pos)
        if self._pan_from is not None:
            delta = pos - self._pan_from
            self._pan_from = pos
            self._fit_mode = False
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(delta.y()))
            return
        if self._split_drag:
            w = self._image_size[0]
            self.image.set_split(min(max(scene_pos.x(), 0.0), float(w)))
            self.split_moved.emit(self.image.split_x / max(w, 1))
            self.viewport().update()
            return
        self._place_brush(scene_pos)
        self.cursor_moved.emit(scene_pos.x(), scene_pos.y())
        sx = self._split_x_view()
        if sx is not None and abs(pos.x() - sx) <= SPLIT_GRAB_PX and not event.buttons():
            self.viewport().setCursor(Qt.CursorShape.SplitHCursor)
        elif not event.buttons():
            self._update_cursor()
        if self.tool is not None:
            self.tool.move(self, scene_pos, event)

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self._update_cursor()
            return
        if self._split_drag:
            self._split_drag = False
            return
        if self.tool is not None:
            self.tool.release(self, self.mapToScene(event.position().toPoint()) + self._subpixel(event.position()), event)

    def contextMenuEvent(self, event) -> None:
        event.accept()  # right button belongs to the tools

    def leaveEvent(self, event) -> None:
        self.brush.setVisible(False)
        super().leaveEvent(event)

    def enterEvent(self, event) -> None:
        self._update_cursor()
        # Keys like space (pan) and \ (original) should work as soon as the pointer is over the
        # photo, unless the user is typing somewhere.
        focus = QApplication.focusWidget()
        if not isinstance(focus, (QLineEdit, QPlainTextEdit, QTextEdit, QAbstractSpinBox, QComboBox)):
            self.setFocus()
        super().enterEvent(event)

    def _place_brush(self, pos: QPointF) -> None:
        show = bool(self.tool and self.tool.shows_brush and not self._space and self._pan_from is None)
        self.brush.setVisible(show and self.underMouse())
        r = self.brush_size / 2.0
        self.brush.setPos(pos)
        self.brush.setRect(QRectF(-r, -r, 2 * r, 2 * r))
        ri = r * self.brush_hardness
        self.brush_inner.setRect(QRectF(-ri, -ri, 2 * ri, 2 * ri))
        self.brush_inner.setVisible(self.brush_hardness < 0.98 and ri * self.zoom > 3)

    def _update_cursor(self) -> None:
        if self._space or self._pan_from is not None:
            shape = Qt.CursorShape.ClosedHandCursor if self._pan_from is not None else Qt.CursorShape.OpenHandCursor
        else:
            shape = self.tool.cursor if self.tool else Qt.CursorShape.ArrowCursor
        self.viewport().setCursor(shape)

    # ---- keys ------------------------------------------------------------------

    def keyPressEvent(self, event) -> None:
        if event.isAutoRepeat() and event.key() in (Qt.Key.Key_Space, Qt.Key.Key_Backslash):
            return
        if event.key() == Qt.Key.Key_Space:
            self._space = True
            self._update_cursor()
            self.brush.setVisible(False)
            return
        if event.key() == Qt.Key.Key_Backslash:
            self.hold_original.emit(True)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.isAutoRepeat():
            return
        if event.key() == Qt.Key.Key_Space:
            self._space = False
            self._pan_from = None
            self._update_cursor()
            return
        if event.key() == Qt.Key.Key_Backslash:
            self.hold_original.emit(False)
            return
        super().keyReleaseEvent(event)

    # ---- drop ------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)

    # ---- split line ------------------------------------------------------------

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if self.image.split_x is None or not self.image._before:
            return
        x = self.image.split_x
        h = self._image_size[1]
        painter.save()
        pen = QPen(QColor(255, 255, 255, 230), 2.0)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.drawLine(QPointF(x, 0), QPointF(x, h))
        painter.resetTransform()
        vx = self.mapFromScene(QPointF(x, h / 2)).x()
        vy = min(max(self.mapFromScene(QPointF(x, h / 2)).y(), 30), self.viewport().height() - 30)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(QColor(30, 30, 30, 220))
        painter.drawEllipse(QPointF(vx, vy), 14, 14)
        painter.drawText(QRectF(vx - 14, vy - 14, 28, 28), Qt.AlignmentFlag.AlignCenter, "⇔")
        top = max(self.mapFromScene(QPointF(x, 0)).y(), 0) + 10
        for label, dx, align in (("Before", -84, Qt.AlignmentFlag.AlignRight), ("After", 12, Qt.AlignmentFlag.AlignLeft)):
            box = QRectF(vx + dx, top, 72, 22)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 150))
            painter.drawRoundedRect(box, 4, 4)
            painter.setPen(QColor(240, 240, 240))
            painter.drawText(box.adjusted(6, 0, -6, 0), align | Qt.AlignmentFlag.AlignVCenter, label)
        painter.restore()

