"""Selection panel: the clicked object (add / subtract / discard), "select all" by text, brush size and
hardness, mask actions (grow, shrink, feather, fill holes, invert, clear) and the
overlay's colour and opacity."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QColorDialog, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSpinBox, QWidget

from app.ui.actions import Actions
from app.ui.canvas.tools import MAX_SIZE, MIN_SIZE, ToolSettings
from app.ui.panels.common import Column, ElidedLabel, SliderSpin, action_button, scrolling, section
from app.ui.panels.text_select_box import TextSelectBox

NO_OBJECT = "Click an object on the photo with the Click tool (S)."


class MaskPanel(QWidget):
    overlay_changed = Signal(QColor, float)

    def __init__(self, actions: Actions, tools: ToolSettings, color: QColor, opacity: float, parent=None):
        super().__init__(parent)
        self.actions, self.tools = actions, tools
        col = Column()

        col.add(section("Object"))
        # One line that changes (shortened to fit, never wrapping) over help that never changes: the
        # buttons below stay where they are while the user clicks objects.
        self.object_info = ElidedLabel(NO_OBJECT, 10_000)
        self.object_info.setObjectName("Hint")
        col.add(self.object_info)
        self.object_help = QLabel("Enter adds the object to the mask, Shift+Enter subtracts it, Esc discards it.")
        self.object_help.setWordWrap(True)
        self.object_help.setObjectName("Hint")
        col.add(self.object_help)
        row = QHBoxLayout()
        row.addWidget(action_button(actions.commit_add, "Add"))
        row.addWidget(action_button(actions.commit_subtract, "Subtract"))
        row.addWidget(action_button(actions.discard_object, "Discard"))
        col.add(row)

        col.add(section("Select all"))
        self.text_select = TextSelectBox()
        col.add(self.text_select)

        col.add(section("Brush"))
        grid = QGridLayout()
        grid.addWidget(QLabel("Size"), 0, 0)
        self.size = SliderSpin(MIN_SIZE, min(MAX_SIZE, 800), tools.size, " px")
        self.size.valueChanged.connect(lambda v: setattr(self.tools, "size", v))
        grid.addWidget(self.size, 0, 1)
        grid.addWidget(QLabel("Hardness"), 1, 0)
        self.hardness = SliderSpin(0, 100, round(tools.hardness * 100), " %")
        self.hardness.valueChanged.connect(lambda v: setattr(self.tools, "hardness", v / 100.0))
        grid.addWidget(self.hardness, 1, 1)
        col.add(grid)
        tools.changed.connect(self._sync_tools)

        col.add(section("Mask"))
        grid = QGridLayout()
        self.grow_px = self._px_spin(12)
        self.feather_px = self._px_spin(8)
        grid.addWidget(action_button(actions.grow, "Grow"), 0, 0)
        grid.addWidget(action_button(actions.shrink, "Shrink"), 0, 1)
        grid.addWidget(self.grow_px, 0, 2)
        grid.addWidget(action_button(actions.feather, "Feather"), 1, 0, 1, 2)
        grid.addWidget(self.feather_px, 1, 2)
        grid.addWidget(action_button(actions.fill_holes, "Fill holes"), 2, 0)
        grid.addWidget(action_button(actions.invert, "Invert"), 2, 1)
        grid.addWidget(action_button(actions.clear, "Clear"), 2, 2)
        col.add(grid)
        self.mask_info = QLabel("")
        self.mask_info.setObjectName("Hint")
        col.add(self.mask_info)

        col.add(section("Overlay"))
        row = QHBoxLayout()
        self.color = QColor(color)
        self.color_button = QPushButton()
        self.color_button.setToolTip("Mask colour")
        self.color_button.setFixedWidth(44)
        self.color_button.clicked.connect(self._pick_color)
        self.opacity = SliderSpin(5, 95, round(opacity * 100), " %")
        self.opacity.valueChanged.connect(lambda _v: self._emit_overlay())
        row.addWidget(self.color_button)
        row.addWidget(self.opacity, 1)
        col.add(row)
        col.add(action_button(actions.show_mask, "Show mask (M)"))
        self._paint_color()
        col.finish()

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scrolling(col))

    def _px_spin(self, value: int) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(1, 500)
        spin.setValue(value)
        spin.setSuffix(" px")
        return spin

    def _sync_tools(self) -> None:
        self.size.setValue(self.tools.size)
        self.hardness.setValue(round(self.tools.hardness * 100))

    def _pick_color(self) -> None:
        color = QColorDialog.getColor(self.color, self, "Mask colour")
        if color.isValid():
            self.color = color
            self._paint_color()
            self._emit_overlay()

    def _paint_color(self) -> None:
        self.color_button.setStyleSheet(f"background: {self.color.name()}; border-radius: 3px;")

    def _emit_overlay(self) -> None:
        self.overlay_changed.emit(self.color, self.opacity.value() / 100.0)

    def show_object(self, points: int, has_box: bool, score: float | None, ready: bool) -> None:
        if not points and not has_box:
            text = NO_OBJECT
        else:
            parts = [f"{points} click{'s' if points != 1 else ''}"] + (["box"] if has_box else [])
            text = " + ".join(parts)
            if score is not None:
                text += f" · confidence {score:.2f}"
            if not ready:
                text += " · waiting for click-to-select…"
        self.object_info.setText(text)

    def show_mask_info(self, covered: float) -> None:
        self.mask_info.setText(f"Mask covers {covered * 100:.1f} % of the photo" if covered else "The mask is empty")
