"""De-furnish panel: the mask plus a margin ring, the classical pre-fill and sampling settings."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from app.settings import MARGIN_AT_1024
from app.ui.panels.common import Column, section
from app.ui.panels.generation_form import (
    _select,
    add_sampling_rows,
    finish_panel,
    sampling_values,
    set_sampling_values,
)

PREFILLS = [("telea", "Fill from surroundings (Telea)"), ("ns", "Fill from surroundings (Navier-Stokes)"),
            ("none", "No pre-fill")]


class DefurnishPanel(QWidget):
    changed = Signal()
    margin_preview = Signal(bool, int)  # show?, px (0 = automatic)

    def __init__(self, actions, parent=None):
        super().__init__(parent)
        col = Column()
        col.add(section("What to remove"))
        hint = QLabel("Select the furniture with the Click tool or the brush. A margin around it is removed "
                      "too, so shadows and fragments do not make the model paint the furniture back.")
        hint.setWordWrap(True)
        hint.setObjectName("Hint")
        col.add(hint)
        form = QFormLayout()
        row = QHBoxLayout()
        self.margin_auto = QCheckBox("Automatic")
        self.margin_auto.setChecked(True)
        self.margin = QSpinBox()
        self.margin.setRange(0, 400)
        self.margin.setValue(MARGIN_AT_1024)
        self.margin.setSuffix(" px")
        self.margin.setEnabled(False)
        self.margin_auto.toggled.connect(lambda on: self.margin.setEnabled(not on))
        row.addWidget(self.margin_auto)
        row.addWidget(self.margin, 1)
        form.addRow("Margin", row)
        self.show_margin = QCheckBox("Show the margin on the photo")
        form.addRow("", self.show_margin)
        self.prefill = QComboBox()
        for key, title in PREFILLS:
            self.prefill.addItem(title, key)
        form.addRow("Pre-fill", self.prefill)
        col.add(form)

        col.add(section("Generation"))
        form = QFormLayout()
        self.prompt = QLineEdit()
        self.prompt.setPlaceholderText("Optional: e.g. light oak floor, white walls")
        form.addRow("Describe", self.prompt)
        add_sampling_rows(self, form, variations=1, strength=95)  # below 100 %: the pre-fill seeds the result
        col.add(form)
        finish_panel(self, col, actions.defurnish, "Remove furniture")

        self.prefill.currentIndexChanged.connect(self.changed)
        self.margin.valueChanged.connect(self.changed)
        self.prompt.textChanged.connect(self.changed)
        self.margin_auto.toggled.connect(self.changed)
        for sig in (self.show_margin.toggled, self.margin_auto.toggled, self.margin.valueChanged):
            sig.connect(lambda *_: self.margin_preview.emit(self.show_margin.isChecked(), self.margin_px() or 0))

    def margin_px(self) -> int | None:
        return None if self.margin_auto.isChecked() else self.margin.value()

    def values(self) -> dict:
        return {"margin": self.margin_px(), "prefill": self.prefill.currentData(),
                "prompt": self.prompt.text().strip(), "model_set": self.model_set.currentData(),
                **sampling_values(self), "strength": self.strength.value() / 100.0, "seed": self.seed.spin.value(),
                "seed_locked": self.seed.lock.isChecked(), "variations": self.variations.value(),
                **self.lora.fields()}

    def set_values(self, v: dict) -> None:
        if not v:
            return
        self.blockSignals(True)
        try:
            self.margin_auto.setChecked(v.get("margin") is None)
            if v.get("margin") is not None:
                self.margin.setValue(int(v["margin"]))
            _select(self.prefill, v.get("prefill", "telea"))
            self.prompt.setText(v.get("prompt", ""))
            _select(self.model_set, v.get("model_set"))
            set_sampling_values(self, v)
            self.lora.select(v.get("lora"), v.get("lora_scale", 0.8))
            self.strength.setValue(round(float(v.get("strength", 0.95)) * 100))
            self.seed.spin.setValue(int(v.get("seed", 0) or 0))
            self.seed.lock.setChecked(bool(v.get("seed_locked", False)))
            self.variations.setValue(int(v.get("variations", 1)))
        finally:
            self.blockSignals(False)

    def request_fields(self) -> dict:
        v = self.values()
        return {"margin_px": v["margin"], "prefill": v["prefill"], "prompt": v["prompt"], "steps": v["steps"],
                "guidance": v["guidance"], "fast": v["fast"], "strength": v["strength"], "seed": self.seed.seed(),
                "variations": v["variations"], **self.lora.fields()}
