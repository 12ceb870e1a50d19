"""The 3D view: the room built from the photo, drawn by a numpy z-buffered point renderer
(engine.geometry.render) into a QImage. Orbit with the left mouse button, zoom with the wheel,
pan with the right or middle button; Reset (or a double click) goes back to the photo's view.

No OpenGL on purpose: the same pixels offscreen, under Xvfb, over remote desktop and on any
driver. While the mouse drags, a thinned cloud with single-pixel points keeps it fluid
(~30 ms a frame); at rest the whole cloud is drawn with 2-pixel points (~180 ms)."""

from __future__ import annotations

import math
import time

import numpy as np
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from app.engine import Orbit, grid_colors, home_orbit, render_points

DRAG_POINTS = 120_000  # points drawn while dragging


class PointCanvas(QWidget):
    """The drawing surface: holds the points and the orbit, paints on demand."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.vertices = np.zeros((0, 3), np.float32)
        self.colors = np.zeros((0, 3), np.uint8)
        self.orbit = Orbit()
        self._home = Orbit()
        self._frame: QImage | None = None
        self._buffer: np.ndarray | None = None
        self._drag: tuple[QPointF, Qt.MouseButton] | None = None
        self._thin: tuple[np.ndarray, np.ndarray] | None = None  # every k-th point, drawn while dragging
        self.last_render_ms = 0.0
        self._settle = QTimer(self)  # a full-quality frame once the wheel stops
        self._settle.setSingleShot(True)
        self._settle.setInterval(150)
        self._settle.timeout.connect(self.update)

    def set_points(self, vertices: np.ndarray, colors: np.ndarray, reset: bool = True) -> None:
        self.vertices, self.colors = vertices, colors
        step = max(1, len(vertices) // DRAG_POINTS)
        self._thin = (np.ascontiguousarray(vertices[::step]), np.ascontiguousarray(colors[::step]))
        if reset:
            self._home = home_orbit(vertices)
            self.reset_view()
        self.update()

    def set_colors(self, colors: np.ndarray) -> None:
        self.colors = colors
        step = max(1, len(colors) // DRAG_POINTS)
        self._thin = (self._thin[0], np.ascontiguousarray(colors[::step])) if self._thin else None
        self.update()

    def reset_view(self) -> None:
        h = self._home
        self.orbit = Orbit(h.target, h.yaw, h.pitch, h.distance, h.fov_deg)
        self.update()

    def render(self, size: tuple[int, int] | None = None, fast: bool = False) -> np.ndarray:
        """The current view as RGB uint8 (also used by tests and screenshots)."""
        w, h = size or (max(1, self.width()), max(1, self.height()))
        t0 = time.perf_counter()
        if fast and self._thin is not None and len(self._thin[0]) < len(self.vertices):
            image = render_points(self._thin[0], self._thin[1], self.orbit, (w, h), 1)
        else:
            image = render_points(self.vertices, self.colors, self.orbit, (w, h), 1 if fast else 2)
        self.last_render_ms = (time.perf_counter() - t0) * 1000
        return image

    def paintEvent(self, _event) -> None:
        fast = self._drag is not None or self._settle.isActive()
        self._buffer = np.ascontiguousarray(self.render(fast=fast))
        h, w = self._buffer.shape[:2]
        self._frame = QImage(self._buffer.data, w, h, w * 3, QImage.Format.Format_RGB888)
        painter = QPainter(self)
        painter.drawImage(0, 0, self._frame)
        painter.end()

    # ---- mouse -----------------------------------------------------------------------

    def mousePressEvent(self, event) -> None:
        self._drag = (event.position(), event.button())

    def mouseMoveEvent(self, event) -> None:
        if self._drag is None:
            return
        start, button = self._drag
        d = event.position() - start
        self._drag = (event.position(), button)
        o = self.orbit
        if button == Qt.MouseButton.LeftButton:
            o.yaw -= d.x() * 0.008
            o.pitch = float(np.clip(o.pitch + d.y() * 0.008, -1.45, 1.45))
        else:  # pan: move the target across the view
            scale = o.distance * 2 * math.tan(math.radians(o.fov_deg) / 2) / max(1, self.height())
            right = np.array([math.cos(o.yaw), 0.0, -math.sin(o.yaw)])
            target = np.asarray(o.target) - right * d.x() * scale + np.array([0.0, 1.0, 0.0]) * d.y() * scale
            o.target = tuple(float(v) for v in target)
        self.update()

    def mouseReleaseEvent(self, _event) -> None:
        self._drag = None
        self.update()

    def mouseDoubleClickEvent(self, _event) -> None:
        self.reset_view()

    def wheelEvent(self, event) -> None:
        self.zoom(event.angleDelta().y() / 120.0)

    def zoom(self, steps: float) -> None:
        self.orbit.distance = float(np.clip(self.orbit.distance * 0.85 ** steps, 0.05, 200.0))
        self._settle.start()
        self.update()


class RoomView3D(QWidget):
    """The 3D view beside the canvas: the points, Reset and Export buttons, the measurements."""

    export_requested = Signal()
    closed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.canvas = PointCanvas()
        self.status = QLabel("Open a photo to see the room in 3D.")
        self.status.setWordWrap(True)
        self.status.setObjectName("Hint")
        self.reset_button = QPushButton("Reset view")
        self.reset_button.setToolTip("Back to the photo's own view (or double-click the view)")
        self.export_button = QPushButton("Export 3D…")
        self.export_button.setToolTip("Save the room as .glb (any 3D viewer, the web) or .ply")
        self.close_button = QPushButton("Close")
        self.reset_button.clicked.connect(self.canvas.reset_view)
        self.export_button.clicked.connect(self.export_requested)
        self.close_button.clicked.connect(self.closed)
        row = QHBoxLayout()
        for b in (self.reset_button, self.export_button):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.status)
        self.room = None
        self.set_room(None)

    def set_room(self, room, colors_from: np.ndarray | None = None) -> None:
        self.room = room
        has = room is not None
        self.export_button.setEnabled(has)
        self.reset_button.setEnabled(has)
        if not has:
            self.canvas.set_points(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8))
            return
        colors = room.colors if colors_from is None else self._colors_of(colors_from)
        self.canvas.set_points(room.vertices, colors)
        self.status.setText(describe(room.measurements))

    def show_colors_of(self, image: np.ndarray | None) -> None:
        """Same geometry, new colours: the shown result (or the photo again with None)."""
        if self.room is None:
            return
        self.canvas.set_colors(self.room.colors if image is None else self._colors_of(image))

    def _colors_of(self, image: np.ndarray) -> np.ndarray:
        gw, gh = self.room.measurements["grid"]
        return grid_colors(image, (gw, gh))

    def set_busy(self, text: str) -> None:
        self.status.setText(text)


def describe(m: dict) -> str:
    """The measurements as a line for people, labelled as the estimates they are."""
    if m.get("floor_area_m2") is None:
        return f"No measurements: {m.get('height_from', 'no floor in view')}."
    height = f"height ≈ {m['height_m']:.2f} m" if m.get("height_m") else "height not measured (no ceiling in view)"
    camera = {"exif": "lens from EXIF", "model": "lens estimated by the depth model",
              "default": "lens unknown: a 60° view assumed"}.get(m["camera"]["source"], m["camera"]["source"])
    return (f"Estimates: {height} · floor ≈ {m['width_m']:.1f} × {m['length_m']:.1f} m ≈ {m['floor_area_m2']:.0f} m² "
            f"· {camera}")
