"""Stage panel: style, room type, prompts, model set and sampling settings."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QLineEdit,
    QPlainTextEdit,
    QRadioButton,
    QWidget,
)

from app.ui.panels.common import Column, section
from app.ui.panels.generation_form import (
    _select,
    add_sampling_rows,
    finish_panel,
    sampling_values,
    set_sampling_values,
)


class StagePanel(QWidget):
    changed = Signal()

    def __init__(self, actions, styles: list[tuple[str, str]], rooms: list[tuple[str, str]], parent=None):
        super().__init__(parent)
        col = Column()
        col.add(section("Room"))
        form = QFormLayout()
        self.style = QComboBox()
        for key, title in styles:
            self.style.addItem(title, key)
        self.room = QComboBox()
        for key, title in rooms:
            self.room.addItem(title, key)
        form.addRow("Style", self.style)
        form.addRow("Room type", self.room)
        col.add(form)

        col.add(section("Where"))
        self.use_mask = QRadioButton("The mask")
        self.use_auto = QRadioButton("Automatic staging area (floor)")
        self.use_mask.setToolTip("Stage inside the mask you selected")
        self.use_auto.setToolTip("Let RoomStager find the floor area where furniture can stand")
        group = QButtonGroup(self)
        group.addButton(self.use_mask)
        group.addButton(self.use_auto)
        self.use_auto.setChecked(True)
        col.add(self.use_mask)
        col.add(self.use_auto)

        col.add(section("Prompt"))
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Optional details: e.g. a grey linen sofa, oak coffee table, large plant")
        self.prompt.setFixedHeight(64)
        col.add(self.prompt)
        form = QFormLayout()
        self.avoid = QLineEdit()
        self.avoid.setPlaceholderText("e.g. rugs, dark colours, clutter")
        self.avoid.setToolTip("Comma-separated things the result should not contain")
        self.negative = QLineEdit()
        self.negative.setPlaceholderText("Extra negative prompt")
        form.addRow("Avoid", self.avoid)
        form.addRow("Negative", self.negative)
        col.add(form)

        col.add(section("Generation"))
        form = QFormLayout()
        add_sampling_rows(self, form, variations=2, strength=100)
        col.add(form)
        finish_panel(self, col, actions.stage, "Stage room")
        for w in (self.style, self.room):
            w.currentIndexChanged.connect(self.changed)
        for w in (self.avoid, self.negative):
            w.textChanged.connect(self.changed)
        self.prompt.textChanged.connect(self.changed)
        self.use_mask.toggled.connect(self.changed)

    def values(self) -> dict:
        return {
            "style": self.style.currentData(), "room": self.room.currentData(),
            "prompt": self.prompt.toPlainText().strip(), "negative": self.negative.text().strip(),
            "avoid": [a.strip() for a in self.avoid.text().split(",") if a.strip()],
            "model_set": self.model_set.currentData(), **sampling_values(self), "strength": self.strength.value() / 100.0,
            "seed": self.seed.spin.value(), "seed_locked": self.seed.lock.isChecked(),
            "variations": self.variations.value(), "use_mask": self.use_mask.isChecked(), **self.lora.fields(),
        }

    def set_values(self, v: dict) -> None:
        if not v:
            return
        self.blockSignals(True)
        try:
            _select(self.style, v.get("style"))
            _select(self.room, v.get("room"))
            self.prompt.setPlainText(v.get("prompt", ""))
            self.negative.setText(v.get("negative", ""))
            self.avoid.setText(", ".join(v.get("avoid", [])))
            _select(self.model_set, v.get("model_set"))
            set_sampling_values(self, v)
            self.lora.select(v.get("lora"), v.get("lora_scale", 0.8))
            self.strength.setValue(round(float(v.get("strength", 1.0)) * 100))
            self.seed.spin.setValue(int(v.get("seed", 0) or 0))
            self.seed.lock.setChecked(bool(v.get("seed_locked", False)))
            self.variations.setValue(int(v.get("variations", 2)))
            (self.use_mask if v.get("use_mask") else self.use_auto).setChecked(True)
        finally:
            self.blockSignals(False)

    def request_fields(self) -> dict:
        """The StageRequest fields this panel decides (not photo / mask / models)."""
        v = self.values()
        return {"style": v["style"], "room": v["room"], "prompt": v["prompt"], "negative": v["negative"],
                "avoid": v["avoid"], "steps": v["steps"], "guidance": v["guidance"], "fast": v["fast"], "strength": v["strength"],
                "seed": self.seed.seed(), "variations": v["variations"], **self.lora.fields()}
