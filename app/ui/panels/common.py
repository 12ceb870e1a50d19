"""Small building blocks shared by the panels."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)


def section(title: str) -> QLabel:
    label = QLabel(title.upper())
    label.setObjectName("SectionTitle")
    return label


def scrolling(widget: QWidget) -> QScrollArea:
    """A vertical scroll area that lets the panel shrink to the dock's width."""
    for combo in widget.findChildren(QComboBox):
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(8)
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(widget)
    return area


class ActionButton(QPushButton):
    """A button that triggers a QAction and follows its enabled / checked state, with its own text."""

    def __init__(self, action, text: str | None = None, parent: QWidget | None = None):
        super().__init__(text or action.iconText(), parent)
        self.action_ = action
        self.setIcon(action.icon())
        self.setCheckable(action.isCheckable())
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.clicked.connect(self._clicked)
        action.changed.connect(self._sync)
        if action.isCheckable():
            action.toggled.connect(lambda _on: self._sync())
        self._sync()

    def _clicked(self) -> None:
        if self.action_.isCheckable():
            self.action_.setChecked(self.isChecked())
        else:
            self.action_.trigger()

    def _sync(self) -> None:
        a = self.action_
        self.setEnabled(a.isEnabled())
        self.setToolTip(a.toolTip())
        if a.isCheckable():
            self.setChecked(a.isChecked())


def action_button(action, text: str | None = None) -> ActionButton:
    return ActionButton(action, text)


class SliderSpin(QWidget):
    """A slider with a spin box beside it; one integer value."""

    valueChanged = Signal(int)

    def __init__(self, lo: int, hi: int, value: int, suffix: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(lo, hi)
        self.spin = QSpinBox()
        self.spin.setRange(lo, hi)
        self.spin.setSuffix(suffix)
        self.spin.setKeyboardTracking(False)
        self.slider.setValue(value)
        self.spin.setValue(value)
        self.slider.valueChanged.connect(self._from_slider)
        self.spin.valueChanged.connect(self._from_spin)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)

    def _from_slider(self, v: int) -> None:
        if self.spin.value() != v:
            self.spin.setValue(v)
        self.valueChanged.emit(v)

    def _from_spin(self, v: int) -> None:
        if self.slider.value() != v:
            self.slider.setValue(v)

    def value(self) -> int:
        return self.slider.value()

    def setValue(self, v: int) -> None:
        self.slider.setValue(int(v))


def to_pixmap(arr: np.ndarray, max_side: int | None = None) -> QPixmap:
    """A QPixmap of an RGB or grey uint8 array, optionally fitted into max_side."""

    a = np.ascontiguousarray(arr)
    if max_side and max(a.shape[:2]) > max_side:
        s = max_side / max(a.shape[:2])
        a = np.ascontiguousarray(cv2.resize(a, (max(1, round(a.shape[1] * s)), max(1, round(a.shape[0] * s))),
                                            interpolation=cv2.INTER_AREA))
    h, w = a.shape[:2]
    fmt = QImage.Format.Format_RGB888 if a.ndim == 3 else QImage.Format.Format_Grayscale8
    return QPixmap.fromImage(QImage(a.data, w, h, a.strides[0], fmt).copy())


class Column(QWidget):
    """A vertical stack with panel margins."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(10, 8, 10, 10)
        self.box.setSpacing(6)

    def add(self, widget) -> None:
        if isinstance(widget, QWidget):
            self.box.addWidget(widget)
        else:
            self.box.addLayout(widget)

    def finish(self) -> None:
        self.box.addStretch(1)


class ElidedLabel(QLabel):
    """A one-line label that shortens its text with … to the space it gets; the whole text is its tooltip."""

    def __init__(self, text: str = "", max_width: int = 360):
        super().__init__()
        self._full = ""
        self.setMaximumWidth(max_width)
        self.setMinimumWidth(24)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._full = text or ""
        self.setToolTip(self._full)
        self._elide()
        self.updateGeometry()

    def sizeHint(self) -> QSize:  # noqa: N802
        hint = super().sizeHint()
        return QSize(min(self.fontMetrics().horizontalAdvance(self._full) + 6, self.maximumWidth()), hint.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(24, super().minimumSizeHint().height())

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(0, self.width() - 2))
        QLabel.setText(self, shown)
