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


AUTO_SET = "Automatic"  # until the window knows the computer's devices


def auto_set_text(has_gpu: bool) -> str:
    """What the automatic model set is the best for: the graphics card, or the CPU when there is none."""
    return "Automatic (best for this GPU)" if has_gpu else "Automatic (best for the CPU)"


def model_set_combo() -> QComboBox:
    combo = QComboBox()
    combo.addItem(AUTO_SET, None)
    return combo


def fill_model_sets(combo: QComboBox, sets: list[tuple[str, str, bool]], auto_text: str = AUTO_SET) -> None:
    """sets: (name, title, installed). Keeps the current choice when it is still there."""
    current = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    combo.addItem(auto_text, None)
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


AUTO_GUIDANCE = -0.5  # the guidance box's minimum, shown as "Auto"


def add_sampling_rows(owner, form: QFormLayout, *, variations: int, strength: int) -> None:
    """Model set, LoRA, steps, guidance, fast mode, strength, seed and variations, as attributes of `owner`,
    each wired to `owner.changed`.

    Steps and guidance start at "Auto": the model set's preset (30 / 7.5 for SD, 50 / 30 for FLUX Fill,
    9 / 0 for Z-Image Turbo). Fast mode runs the set's step-distillation preset instead."""
    owner.model_set = model_set_combo()
    owner.lora = LoraRow()
    owner.steps = QSpinBox()
    owner.steps.setRange(0, 150)
    owner.steps.setSpecialValueText("Auto")
    owner.steps.setValue(0)
    owner.steps.setToolTip("Auto: the model set's preset")
    owner.guidance = QDoubleSpinBox()
    owner.guidance.setRange(AUTO_GUIDANCE, 50.0)
    owner.guidance.setSingleStep(0.5)
    owner.guidance.setSpecialValueText("Auto")
    owner.guidance.setValue(AUTO_GUIDANCE)
    owner.guidance.setToolTip("Auto: the model set's preset")
    owner.fast = QCheckBox("Fast")
    owner.fast.setToolTip("A step-distillation LoRA and 4-8 steps at low guidance: a result in seconds, a little "
                          "less detail. Sets without a fast mode say so when the job starts.")
    owner.fast.toggled.connect(lambda on: (owner.steps.setEnabled(not on), owner.guidance.setEnabled(not on)))
    owner.strength = SliderSpin(10, 100, strength, " %")
    owner.strength.setToolTip("100 % repaints the area completely; lower keeps more of what is there")
    owner.seed = SeedRow()
    owner.variations = QSpinBox()
    owner.variations.setRange(1, 8)
    owner.variations.setValue(variations)
    for label, widget in (("Model set", owner.model_set), ("LoRA", owner.lora), ("Steps", owner.steps),
                          ("Guidance", owner.guidance), ("Speed", owner.fast), ("Strength", owner.strength),
                          ("Seed", owner.seed), ("Variations", owner.variations)):
        form.addRow(label, widget)
    for signal in (owner.model_set.currentIndexChanged, owner.lora.combo.currentIndexChanged,
                   owner.lora.scale.valueChanged, owner.steps.valueChanged, owner.guidance.valueChanged,
                   owner.fast.toggled, owner.strength.valueChanged, owner.seed.spin.valueChanged,
                   owner.seed.lock.toggled, owner.variations.valueChanged):
        signal.connect(owner.changed)  # every panel's settings are remembered the same way


def sampling_values(owner) -> dict:
    """Steps / guidance (None = the set's preset) and fast mode, as the request takes them."""
    steps = owner.steps.value()
    guidance = owner.guidance.value()
    return {"steps": steps or None, "guidance": None if guidance <= AUTO_GUIDANCE else guidance,
            "fast": owner.fast.isChecked()}


def set_sampling_values(owner, v: dict) -> None:
    owner.steps.setValue(int(v.get("steps") or 0))
    guidance = v.get("guidance")
    owner.guidance.setValue(AUTO_GUIDANCE if guidance is None else float(guidance))
    owner.fast.setChecked(bool(v.get("fast", False)))


def finish_panel(owner: QWidget, col: Column, action, text: str) -> None:
    """The panel's primary button under its controls, and the scrolling column as its content."""
    go = action_button(action, text)
    go.setObjectName("PrimaryButton")
    col.add(go)
    col.finish()
    layout = QHBoxLayout(owner)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(scrolling(col))
