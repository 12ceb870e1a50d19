"""One rule for the whole application: the mouse wheel changes a spin box, slider or drop-down only
when the user has put the focus in it (clicked it, tabbed to it). Otherwise the wheel scrolls
the panel under the pointer, the way it would over a label, and no value changes unseen on
its way into the next job.

Installed once on the application: it sees every widget, also those built later (dialogs, rows
added at run time). The filter returns at once for every other event.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QScrollBar,
)

_VALUE_WIDGETS = (QAbstractSpinBox, QAbstractSlider, QComboBox)
_WHEEL, _POLISH = QEvent.Type.Wheel, QEvent.Type.Polish


def _guarded(obj: QObject) -> bool:
    return isinstance(obj, _VALUE_WIDGETS) and not isinstance(obj, QScrollBar)


def _scroll_area_of(widget) -> QAbstractScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            return parent
        parent = parent.parentWidget()
    return None


class WheelGuard(QObject):
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        if kind == _POLISH and _guarded(obj) and obj.focusPolicy() == Qt.FocusPolicy.WheelFocus:
            obj.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel alone does not give it the focus
        elif kind == _WHEEL and _guarded(obj) and not obj.hasFocus():
            area = _scroll_area_of(obj)
            if area is not None:  # scroll what is around it instead
                viewport = area.viewport()
                pos = viewport.mapFromGlobal(event.globalPosition().toPoint()).toPointF()
                QApplication.sendEvent(viewport, QWheelEvent(
                    pos, event.globalPosition(), event.pixelDelta(), event.angleDelta(), event.buttons(),
                    event.modifiers(), event.phase(), event.inverted()))
            event.accept()
            return True
        return False


def install(app: QApplication) -> WheelGuard:
    """Install the guard on `app` (once; later calls return the same guard)."""
    guard = app.findChild(WheelGuard)
    if guard is None:
        guard = WheelGuard(app)
        app.installEventFilter(guard)
    return guard
