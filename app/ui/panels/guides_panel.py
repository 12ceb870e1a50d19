"""Guides panel: what the ControlNets will see — Canny edges (live, recomputed here on a
downscaled copy as the thresholds move), depth and the automatic staging area from
a GuidesRequest — with an overlay on the canvas."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QGridLayout, QHBoxLayout, QLabel, QPushButton, QWidget

from app.imaging import guides
from app.ui.canvas.layers import level_at_least
from app.ui.panels.common import Column, SliderSpin, scrolling, section, to_pixmap

PREVIEW_SIDE = 1024  # live Canny works on a copy this size
OVERLAYS = [("none", "No overlay"), ("canny", "Canny edges"), ("depth", "Depth"), ("area", "Staging area")]


def _small(image: np.ndarray, side: int = PREVIEW_SIDE) -> np.ndarray:
    h, w = image.shape[:2]
    s = min(1.0, side / max(h, w))
    if s >= 1.0:
        return image
    return cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


class Thumb(QLabel):
    def __init__(self, title: str):
        super().__init__(f"{title}\n…")
        self.title = title
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(120, 90)
        self.setObjectName("Thumb")

    def show_array(self, arr: np.ndarray | None, note: str = "…") -> None:
        if arr is None:
            self.setPixmap(to_pixmap(np.zeros((1, 1), np.uint8)))
            self.setText(f"{self.title}\n{note}")
            return
        self.setPixmap(to_pixmap(arr, 240))
        self.setToolTip(self.title)


class GuidesPanel(QWidget):
    refresh_requested = Signal()
    overlay_changed = Signal(object, float, float, bool)  # RGB (display size) or None, scale, opacity, additive
    thresholds_changed = Signal(int, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._small: np.ndarray | None = None
        self._photo_w = 1
        self._depth: np.ndarray | None = None
        self._area: np.ndarray | None = None
        self._canny: np.ndarray | None = None
        col = Column()
        col.add(section("What the model will follow"))
        grid = QGridLayout()
        self.canny_thumb, self.depth_thumb, self.area_thumb = Thumb("Canny edges"), Thumb("Depth"), Thumb("Staging area")
        grid.addWidget(self.canny_thumb, 0, 0)
        grid.addWidget(self.depth_thumb, 0, 1)
        grid.addWidget(self.area_thumb, 1, 0)
        self.status = QLabel("Open a photo to see its guides.")
        self.status.setWordWrap(True)
        self.status.setObjectName("Hint")
        grid.addWidget(self.status, 1, 1)
        col.add(grid)
        col.add(section("Canny thresholds"))
        form = QFormLayout()
        self.low = SliderSpin(0, 255, 100)
        self.high = SliderSpin(0, 255, 200)
        form.addRow("Low", self.low)
        form.addRow("High", self.high)
        col.add(form)
        col.add(section("Overlay on the photo"))
        row = QHBoxLayout()
        self.overlay = QComboBox()
        for key, title in OVERLAYS:
            self.overlay.addItem(title, key)
        self.opacity = SliderSpin(10, 100, 65, " %")
        row.addWidget(self.overlay)
        row.addWidget(self.opacity, 1)
        col.add(row)
        self.refresh = QPushButton("Recompute depth and staging area")
        self.refresh.clicked.connect(self.refresh_requested)
        col.add(self.refresh)
        col.finish()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scrolling(col))

        self._canny_timer = QTimer(self)
        self._canny_timer.setSingleShot(True)
        self._canny_timer.setInterval(15)
        self._canny_timer.timeout.connect(self._update_canny)
        self.low.valueChanged.connect(self._thresholds)
        self.high.valueChanged.connect(self._thresholds)
        self.overlay.currentIndexChanged.connect(lambda _i: self._emit_overlay())
        self.opacity.valueChanged.connect(lambda _v: self._emit_overlay())

    # ---- inputs ----------------------------------------------------------------

    def set_photo(self, image: np.ndarray | None) -> None:
        self._depth = self._area = self._canny = None
        self.depth_thumb.show_array(None)
        self.area_thumb.show_array(None)
        if image is None:
            self._small = None
            self.canny_thumb.show_array(None)
            self._emit_overlay()
            return
        self._photo_w = image.shape[1]
        self._small = np.ascontiguousarray(_small(level_at_least(image, PREVIEW_SIDE)))
        self.status.setText("Estimating depth…")
        self._update_canny()

    def set_guides(self, result) -> None:
        self._depth = _small(result.depth)
        area = _small(result.staging_area.astype(np.uint8) * 255) >= 128
        self._area = area
        self.depth_thumb.show_array(self._depth)
        self.area_thumb.show_array(np.where(area, np.uint8(230), np.uint8(40)))
        self.status.setText(f"Staging area: {result.staging_area.mean() * 100:.0f} % of the photo. "
                            f"It is used when Stage ▸ Where is 'Automatic'.")
        self._emit_overlay()

    def set_failed(self, message: str) -> None:
        self.status.setText(f"Guides are unavailable: {message}")

    def thresholds(self) -> tuple[int, int]:
        lo, hi = self.low.value(), self.high.value()
        return min(lo, hi), max(lo, hi)

    # ---- live Canny --------------------------------------------------------------

    def _thresholds(self, _v: int) -> None:
        self._canny_timer.start()
        self.thresholds_changed.emit(*self.thresholds())

    def _update_canny(self) -> None:
        if self._small is None:
            return
        self._canny = guides.canny(self._small, *self.thresholds())
        self.canny_thumb.show_array(self._canny)
        if self.overlay.currentData() == "canny":
            self._emit_overlay()

    def _emit_overlay(self) -> None:
        kind = self.overlay.currentData()
        image = None
        if kind == "canny" and self._canny is not None:
            image = np.repeat(self._canny[..., None], 3, axis=2)
        elif kind == "depth" and self._depth is not None:
            image = cv2.applyColorMap(self._depth, cv2.COLORMAP_INFERNO)[..., ::-1].copy()
        elif kind == "area" and self._area is not None:
            image = np.zeros((*self._area.shape, 3), np.uint8)
            image[self._area] = (60, 220, 120)
        scale = self._photo_w / image.shape[1] if image is not None else 1.0
        # edges and the area are drawn additively (black = transparent); depth covers the photo
        self.overlay_changed.emit(image, scale, self.opacity.value() / 100.0, kind in ("canny", "area"))
