"""A small live line chart (QPainter): the training loss, or the validation metrics, against steps."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

PALETTE = ("#5b9bd5", "#e06666", "#6aa84f", "#b07cc6", "#f1c232")


class LineChart(QWidget):
    """Named series of (step, value); a log scale for the loss. Repaints only when data changes."""

    def __init__(self, title: str, log_scale: bool = False, parent=None):
        super().__init__(parent)
        self.title = title
        self.log_scale = log_scale
        self.series: dict[str, list[tuple[float, float]]] = {}
        self.setMinimumSize(260, 150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_series(self, series: dict[str, list[tuple[float, float]]]) -> None:
        clean = {k: [(float(x), float(y)) for x, y in pts if y is not None and math.isfinite(float(y))
                     and (not self.log_scale or float(y) > 0)] for k, pts in series.items()}
        if clean != self.series:
            self.series = clean
            self.update()

    def _y(self, v: float) -> float:
        return math.log10(v) if self.log_scale else v

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        p.fillRect(self.rect(), pal.base())
        text = pal.text().color()
        p.setPen(text)
        p.drawText(QRectF(8, 4, self.width() - 16, 18), Qt.AlignmentFlag.AlignLeft, self.title)
        plot = QRectF(44, 26, max(10, self.width() - 56), max(10, self.height() - 48))
        grid = QColor(text)
        grid.setAlpha(50)
        p.setPen(QPen(grid, 1))
        p.drawRect(plot)
        points = [pt for pts in self.series.values() for pt in pts]
        if not points:
            p.drawText(plot, Qt.AlignmentFlag.AlignCenter, "no data yet")
            return
        xs = [x for x, _ in points]
        ys = [self._y(y) for _, y in points]
        x0, x1 = min(xs), max(xs)
        y0, y1 = min(ys), max(ys)
        if x1 == x0:
            x1 = x0 + 1
        if y1 == y0:
            y0, y1 = y0 - 0.5, y1 + 0.5
        pad = 0.05 * (y1 - y0)
        y0, y1 = y0 - pad, y1 + pad

        def at(x, y):
            return QPointF(plot.left() + (x - x0) / (x1 - x0) * plot.width(),
                           plot.bottom() - (self._y(y) - y0) / (y1 - y0) * plot.height())

        p.setPen(text)
        for frac in (0.0, 0.5, 1.0):
            v = y0 + frac * (y1 - y0)
            label = f"{10 ** v:.3g}" if self.log_scale else f"{v:.3g}"
            y = plot.bottom() - frac * plot.height()
            p.drawText(QRectF(0, y - 8, 40, 16), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)
        p.drawText(QRectF(plot.left(), plot.bottom() + 2, plot.width(), 16), Qt.AlignmentFlag.AlignLeft, f"{x0:g}")
        p.drawText(QRectF(plot.left(), plot.bottom() + 2, plot.width(), 16), Qt.AlignmentFlag.AlignRight,
                   f"step {x1:g}")
        legend_x = plot.left() + 6
        for n, (name, pts) in enumerate(self.series.items()):
            colour = QColor(PALETTE[n % len(PALETTE)])
            p.setPen(QPen(colour, 1.6))
            if len(pts) == 1:
                p.drawEllipse(at(*pts[0]), 2.5, 2.5)
            elif pts:
                path = QPainterPath(at(*pts[0]))
                for pt in pts[1:]:
                    path.lineTo(at(*pt))
                p.drawPath(path)
            p.drawText(QPointF(legend_x, plot.top() + 14), name)
            legend_x += p.fontMetrics().horizontalAdvance(name) + 14
        p.end()
