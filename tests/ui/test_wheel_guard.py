"""The mouse wheel over a panel scrolls it; no spin box, slider or drop-down changes unless the user
put the focus in it first. Checked on the Guides panel (where Canny Low used to change unseen)
and on every value widget of every panel."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import (
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QScrollArea,
    QScrollBar,
)


def wheel(widget, notches: int = -1) -> None:
    """One wheel notch over the middle of `widget`, delivered as Qt delivers it (application filters first)."""
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, 120 * notches),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def value_of(widget):
    return widget.currentIndex() if isinstance(widget, QComboBox) else widget.value()


def test_the_wheel_over_canny_low_scrolls_the_guides_panel(qtbot, window):
    window.show_panel("guides")
    window.resize(1500, 520)  # short enough that the panel scrolls
    panel = window.guides_panel
    area = next(a for a in panel.findChildren(QScrollArea))
    qtbot.waitUntil(lambda: area.verticalScrollBar().maximum() > 0, timeout=5000)
    spin, slider = panel.low.spin, panel.low.slider
    window.canvas.setFocus()
    area.verticalScrollBar().setValue(0)
    for target in (spin, slider):
        before = panel.thresholds()
        wheel(target)
        assert panel.thresholds() == before  # unchanged ...
    assert area.verticalScrollBar().value() > 0  # ... and the panel scrolled instead

    spin.setFocus()  # a deliberate choice: now the wheel sets the value
    qtbot.waitUntil(spin.hasFocus, timeout=2000)
    wheel(spin, -1)
    assert panel.thresholds()[0] == 99


def test_no_value_widget_in_any_panel_takes_an_unfocused_wheel(qtbot, window):
    window.canvas.setFocus()
    checked = 0
    for _title, panel in window._panels.values():
        for widget in [w for kind in (QAbstractSpinBox, QAbstractSlider, QComboBox) for w in panel.findChildren(kind)]:
            if isinstance(widget, QScrollBar) or not widget.isEnabled():
                continue
            assert widget.focusPolicy() != Qt.FocusPolicy.WheelFocus, widget
            if isinstance(widget, QComboBox) and widget.count() < 2:
                continue
            before = value_of(widget)
            wheel(widget, -1)
            wheel(widget, 1)
            wheel(widget, 1)
            assert value_of(widget) == before, f"{type(widget).__name__} in {type(panel).__name__}"
            checked += 1
    assert checked >= 20
