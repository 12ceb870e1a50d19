"""Canvas layers: the photo (a mip pyramid, drawn per exposed rectangle), the mask
and candidate overlays (coloured from the numpy mask at screen resolution), and the
click-to-select markers.

Nothing here holds a full-resolution QImage or QPixmap: a 50 MP photo would cost
200 MB per copy and seconds to scale. Each paint crops the visible part of the
right pyramid level (or, zoomed in, of the full-resolution array) and draws only
that, so painting costs about the screen's pixels whatever the photo's size.
"""

from __future__ import annotations

import math
import threading
import weakref

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

PYRAMID_MIN_SIDE = 512


def device_scale(painter: QPainter) -> float:
    """Device pixels per scene unit (zoom x devicePixelRatio)."""
    t = painter.deviceTransform()
    return math.hypot(t.m11(), t.m12()) or 1.0


def rgb_qimage(arr: np.ndarray) -> QImage:
    """A QImage view of a contiguous HxWx3 uint8 array (keep `arr` alive while it is used)."""
    h, w = arr.shape[:2]
    return QImage(arr.data, w, h, arr.strides[0], QImage.Format.Format_RGB888)


def build_pyramid(image: np.ndarray) -> list[np.ndarray]:
    """Level 0 is the image itself; each further level halves it (area-averaged)."""
    levels = [image]
    while max(levels[-1].shape[:2]) > PYRAMID_MIN_SIDE:
        prev = levels[-1]
        size = (max(1, prev.shape[1] // 2), max(1, prev.shape[0] // 2))
        levels.append(cv2.resize(prev, size, interpolation=cv2.INTER_AREA))
    return levels


_PYRAMIDS: dict[int, tuple[weakref.ref, list[np.ndarray]]] = {}
_PYRAMID_LOCK = threading.Lock()


def pyramid(image: np.ndarray) -> list[np.ndarray]:
    """The image's pyramid, built once per array (any thread may build it ahead of display)."""
    key = id(image)
    with _PYRAMID_LOCK:
        hit = _PYRAMIDS.get(key)
        if hit is not None and hit[0]() is image:
            return hit[1]
    levels = build_pyramid(np.ascontiguousarray(image))
    with _PYRAMID_LOCK:
        for k in [k for k, (ref, _) in _PYRAMIDS.items() if ref() is None]:
            del _PYRAMIDS[k]
        _PYRAMIDS[key] = (weakref.ref(image), levels)
    return levels


def level_at_least(image: np.ndarray, side: int) -> np.ndarray:
    """The smallest pyramid level whose long side is at least `side` (or the image itself)."""
    levels = pyramid(image)
    for level in reversed(levels):
        if max(level.shape[:2]) >= side:
            return level
    return levels[0]


def _source_window(rect: QRectF, factor: float, shape) -> tuple[int, int, int, int] | None:
    h, w = shape[:2]
    x0 = max(0, int(math.floor(rect.left() * factor)))
    y0 = max(0, int(math.floor(rect.top() * factor)))
    x1 = min(w, int(math.ceil(rect.right() * factor)))
    y1 = min(h, int(math.ceil(rect.bottom() * factor)))
    if x0 >= x1 or y0 >= y1:
        return None
    return x0, y0, x1, y1


class ImageLayer(QGraphicsItem):
    """The photo (or a result), optionally split against a "before" image at `split_x`."""

    def __init__(self):
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self._levels: list[np.ndarray] = []
        self._before: list[np.ndarray] = []
        self._ids: tuple[int, int] = (0, 0)
        self.split_x: float | None = None  # scene x: before on the left, image on the right
        self._w, self._h = 0, 0
        self.composition = QPainter.CompositionMode.CompositionMode_SourceOver

    def set_image(self, image: np.ndarray | None, before: np.ndarray | None = None) -> None:
        ids = (id(image), id(before))
        if image is None:
            self._levels, self._before, self._w, self._h = [], [], 0, 0
        else:
            if not self._levels or self._ids[0] != ids[0]:
                self._levels = pyramid(image)
            if before is None:
                self._before = []
            elif not self._before or self._ids[1] != ids[1]:
                self._before = pyramid(before)
            h, w = image.shape[:2]
            if (w, h) != (self._w, self._h):
                self.prepareGeometryChange()
                self._w, self._h = w, h
        self._ids = ids
        self.update()

    def set_split(self, x: float | None) -> None:
        self.split_x = x
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self._w, self._h)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        if not self._levels:
            return
        exposed = option.exposedRect.intersected(self.boundingRect())
        scale = device_scale(painter)
        if self._before and self.split_x is not None:
            left = QRectF(exposed)
            left.setRight(min(exposed.right(), self.split_x))
            right = QRectF(exposed)
            right.setLeft(max(exposed.left(), self.split_x))
            if left.width() > 0:
                self._draw(painter, self._before, left, scale)
            if right.width() > 0:
                self._draw(painter, self._levels, right, scale)
        else:
            self._draw(painter, self._levels, exposed, scale)

    def _draw(self, painter: QPainter, levels: list[np.ndarray], rect: QRectF, scale: float) -> None:
        if rect.isEmpty():
            return
        full_w = levels[0].shape[1]
        # The smallest level that still has at least one pixel per device pixel.
        k = 0
        while k + 1 < len(levels) and levels[k + 1].shape[1] / full_w >= scale:
            k += 1
        level = levels[k]
        factor = level.shape[1] / full_w
        win = _source_window(rect, factor, level.shape)
        if win is None:
            return
        x0, y0, x1, y1 = win
        crop = np.ascontiguousarray(level[y0:y1, x0:x1])
        target = QRectF(x0 / factor, y0 / factor, (x1 - x0) / factor, (y1 - y0) / factor)
        painter.save()
        painter.setClipRect(rect)
        painter.setCompositionMode(self.composition)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale * factor < 2.0)
        painter.drawImage(target, rgb_qimage(crop))
        painter.restore()


class OverlayLayer(QGraphicsItem):
    """A mask (uint8 coverage or bool) drawn as a translucent colour, at screen resolution."""

    def __init__(self, color: QColor, opacity: float = 0.45):
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self._mask: np.ndarray | None = None
        self._lut = np.zeros(256, np.uint32)
        self._color, self._opacity = QColor(color), float(opacity)
        self.right_edge: float | None = None  # drawn left of this scene x only (compare mode: the "before" half)
        self._rebuild_lut()

    def set_mask(self, mask: np.ndarray | None) -> None:
        if mask is not None and mask.dtype == bool:
            mask = mask.view(np.uint8)  # 0 / 1; the LUT maps 1 like 255
            self._bool = True
        else:
            self._bool = False
        geometry = (None if self._mask is None else self._mask.shape) != (None if mask is None else mask.shape)
        if geometry:
            self.prepareGeometryChange()
        self._mask = mask
        self._rebuild_lut()
        self.update()

    def set_style(self, color: QColor | None = None, opacity: float | None = None) -> None:
        if color is not None:
            self._color = QColor(color)
        if opacity is not None:
            self._opacity = float(opacity)
        self._rebuild_lut()
        self.update()

    def _rebuild_lut(self) -> None:
        r, g, b = self._color.red(), self._color.green(), self._color.blue()
        cov = np.arange(256, dtype=np.float32) / 255.0
        if getattr(self, "_bool", False):
            cov[1:] = 1.0
        a = np.round(cov * self._opacity * 255.0)
        # Premultiplied ARGB32, native-endian uint32 per pixel.
        self._lut = ((a.astype(np.uint32) << 24) | (np.round(r * a / 255).astype(np.uint32) << 16)
                     | (np.round(g * a / 255).astype(np.uint32) << 8) | np.round(b * a / 255).astype(np.uint32))

    def set_right_edge(self, x: float | None) -> None:
        if x != self.right_edge:
            self.right_edge = x
            self.update()

    def update_rect(self, rect) -> None:
        if rect is None:
            self.update()
        else:
            x0, y0, x1, y1 = rect
            self.update(QRectF(x0, y0, x1 - x0, y1 - y0))

    def boundingRect(self) -> QRectF:
        if self._mask is None:
            return QRectF()
        h, w = self._mask.shape
        return QRectF(0, 0, w, h)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        if self._mask is None:
            return
        exposed = option.exposedRect.intersected(self.boundingRect())
        if self.right_edge is not None:
            exposed.setRight(min(exposed.right(), self.right_edge))
        if exposed.isEmpty() or exposed.width() <= 0:
            return
        scale = device_scale(painter)
        step = max(1, int(1.0 / scale)) if scale < 1.0 else 1
        x0 = max(0, int(math.floor(exposed.left())) // step * step)
        y0 = max(0, int(math.floor(exposed.top())) // step * step)
        x1 = min(self._mask.shape[1], int(math.ceil(exposed.right())))
        y1 = min(self._mask.shape[0], int(math.ceil(exposed.bottom())))
        sub = self._mask[y0:y1:step, x0:x1:step]
        if sub.size == 0 or not sub.any():
            return
        argb = np.ascontiguousarray(self._lut[sub])
        h, w = argb.shape
        img = QImage(argb.data, w, h, argb.strides[0], QImage.Format.Format_ARGB32_Premultiplied)
        painter.save()
        painter.setClipRect(exposed)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(QRectF(x0, y0, w * step, h * step), img)
        painter.restore()


class PointsLayer(QGraphicsItem):
    """Click-to-select markers (green adds, red subtracts) and the box, at constant screen size."""

    RADIUS = 6.0

    def __init__(self):
        super().__init__()
        self.points: list[tuple[float, float, bool]] = []
        self.box: tuple[float, float, float, float] | None = None
        self._bounds = QRectF()

    def set_selection(self, points, box) -> None:
        self.prepareGeometryChange()
        self.points, self.box = list(points), box
        xs = [p[0] for p in self.points] + ([box[0], box[2]] if box else [])
        ys = [p[1] for p in self.points] + ([box[1], box[3]] if box else [])
        self._bounds = QRectF(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)) if xs else QRectF()
        self.update()

    def boundingRect(self) -> QRectF:
        if self._bounds.isNull() and not self.points:
            return QRectF()
        pad = 64.0 / max(self._view_scale(), 1e-3)
        return self._bounds.adjusted(-pad, -pad, pad, pad)

    def _view_scale(self) -> float:
        views = self.scene().views() if self.scene() else []
        return views[0].transform().m11() if views else 1.0

    def paint(self, painter: QPainter, option, widget=None) -> None:
        scale = device_scale(painter) / (painter.device().devicePixelRatioF() or 1.0)
        r = self.RADIUS / scale
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.box:
            x0, y0, x1, y1 = self.box
            pen = QPen(QColor(255, 200, 40), 2.0)
            pen.setCosmetic(True)
            pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        for x, y, positive in self.points:
            pen = QPen(QColor(255, 255, 255), 2.0)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.setBrush(QBrush(QColor(40, 200, 90) if positive else QColor(230, 60, 60)))
            painter.drawEllipse(QPointF(x, y), r, r)
            pen = QPen(QColor(255, 255, 255), 1.6)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawLine(QPointF(x - r * 0.5, y), QPointF(x + r * 0.5, y))
            if positive:
                painter.drawLine(QPointF(x, y - r * 0.5), QPointF(x, y + r * 0.5))
