"""The generation controls the Stage and De-furnish panels share: model set, LoRA, sampling, seed."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QSpinBox,
    QWidget,
)

from app.ui.panels.common import Column, SliderSpin, action_button, scrolling

MAX_SEED = 2**31 - 1


def model_set_combo() -> QComboBox:
    combo = QComboBox()
    combo.addItem("Automatic (best for this GPU)", None)
    return combo


def fill_model_sets(combo: QComboBox, sets: list[tuple[str, str, bool]]) -> None:
    """sets: (name, title, installed). Keeps the current choice when it is still there."""
    current = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    combo.addItem("Automatic (best for this GPU)", None)
    for name, title, installed in sets:
        combo.addItem(title if installed else f"{title} — not installed", name)
    idx = combo.findData(current)
    combo.setCurrentIndex(max(0, idx))
    combo.blockSignals(False)


def fill_loras(combo: QComboBox, loras: list[tuple[str, str]]) -> None:
    """loras: (catalog name, title). "None" first; keeps the current choice when it is still there."""
    current = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    combo.addItem("None", None)
    for name, title in loras:
        combo.addItem(title, name)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    combo.blockSignals(False)


class LoraRow(QWidget):
    """A LoRA from the catalog (yours, once trained) and its weight."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.addItem("None", None)
        self.combo.setToolTip("A LoRA from the models folder: an imported one, or one you trained "
                              "(Tools > Train a LoRA)")
        self.scale = QDoubleSpinBox()
        self.scale.setRange(0.0, 2.0)
        self.scale.setSingleStep(0.1)
        self.scale.setValue(0.8)
        self.scale.setToolTip("How strongly the LoRA acts (0 = not at all)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.scale)

    def fields(self) -> dict:
        return {"lora": self.combo.currentData(), "lora_scale": self.scale.value()}

    def select(self, name: str | None, scale: float | None = None) -> bool:
        idx = self.combo.findData(name)
        if idx >= 0:
            self.combo.setCurrentIndex(idx)
        if scale is not None:
            self.scale.setValue(float(scale))
        return idx >= 0


class SeedRow(QWidget):
    """Seed with a lock: unlocked draws a new seed each run and shows the last one used."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.spin = QSpinBox()
        self.spin.setRange(0, MAX_SEED)
        self.lock = QCheckBox("Lock")
        self.lock.setToolTip("Locked: every run uses this seed, so a change of prompt is a fair comparison")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.spin, 1)
        layout.addWidget(self.lock)

    def seed(self) -> int | None:
        return self.spin.value() if self.lock.isChecked() else None

    def show_used(self, seed: int) -> None:
        if not self.lock.isChecked():
            self.spin.setValue(int(seed) % (MAX_SEED + 1))


def _select(combo: QComboBox, data) -> None:
    idx = combo.findData(data)
    if idx >= 0:
        combo.setCurrentIndex(idx)


def add_sampling_rows(owner, form: QFormLayout, *, variations: int, strength: int) -> None:
    """Model set, LoRA, steps, guidance, strength, seed and variations, as attributes of `owner`."""
    owner.model_set = model_set_combo()
    owner.lora = LoraRow()
    owner.steps = QSpinBox()
    owner.steps.setRange(1, 150)
    owner.steps.setValue(30)
    owner.guidance = QDoubleSpinBox()
    owner.guidance.setRange(1.0, 20.0)
    owner.guidance.setSingleStep(0.5)
    owner.guidance.setValue(7.5)
    owner.strength = SliderSpin(10, 100, strength, " %")
    owner.strength.setToolTip("100 % repaints the area completely; lower keeps more of what is there")
    owner.seed = SeedRow()
    owner.variations = QSpinBox()
    owner.variations.setRange(1, 8)
    owner.variations.setValue(variations)
    for label, widget in (("Model set", owner.model_set), ("LoRA", owner.lora), ("Steps", owner.steps),
                          ("Guidance", owner.guidance),
                          ("Strength", owner.strength), ("Seed", owner.seed), ("Variations", owner.variations)):
        form.addRow(label, widget)


def finish_panel(owner: QWidget, col: Column, action, text: str) -> None:
    """The panel's primary button under its controls, and the scrolling column as its content."""
    go = action_button(action, text)
    go.setObjectName("PrimaryButton")
    col.add(go)
    col.finish()
    layout = QHBoxLayout(owner)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(scrolling(col))
