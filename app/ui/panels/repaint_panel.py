"""Repaint panel: what to repaint (the view through the windows, walls, floor, ceiling, sky,
around the selection, or the selection), the prompts (one result per line) and sampling."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

from app.ui.panels.common import Column, section
from app.ui.panels.generation_form import _select, add_sampling_rows, finish_panel

# (key, title, mode, region): the presets, in the order a listing photographer reaches for them
TARGETS = (
    ("window-view", "View through the windows", "region", "window-view"),
    ("walls", "Walls (new colour or finish)", "region", "walls"),
    ("floor", "Floor (new flooring)", "region", "floor"),
    ("ceiling", "Ceiling", "region", "ceiling"),
    ("sky", "Sky (exterior photos)", "region", "sky"),
    ("keep", "Everything except the selection", "keep", None),
    ("mask", "The selection", "mask", None),
)
EXAMPLES = {
    "window-view": "a sunny garden with green lawn and trees",
    "walls": "walls painted in warm light grey, matte finish",
    "floor": "light oak wide-plank wooden floor",
    "ceiling": "smooth white ceiling",
    "sky": "clear blue sky with a few soft white clouds",
    "keep": "a bright modern living room with large windows",
    "mask": "describe what goes in the selection",
}


class RepaintPanel(QWidget):
    changed = Signal()

    def __init__(self, actions, parent=None):
        super().__init__(parent)
        col = Column()
        col.add(section("What to repaint"))
        self.target = QComboBox()
        for key, title, _mode, _region in TARGETS:
            self.target.addItem(title, key)
        col.add(self.target)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setObjectName("Hint")
        col.add(self.hint)

        col.add(section("Prompts"))
        self.prompts = QPlainTextEdit()
        self.prompts.setFixedHeight(76)
        self.prompts.setToolTip("One prompt per line: each gives its own result")
        col.add(self.prompts)
        form = QFormLayout()
        self.negative = QLineEdit()
        self.negative.setPlaceholderText("Extra negative prompt")
        form.addRow("Negative", self.negative)
        self.blur = QSpinBox()
        self.blur.setRange(-1, 400)
        self.blur.setValue(-1)
        self.blur.setSpecialValueText("Automatic")
        self.blur.setSuffix(" px")
        self.blur.setToolTip("How softly the repaint fades in from the region's edge (never past it)")
        form.addRow("Soft edge", self.blur)
        self.noise = QCheckBox("Start from noise")
        self.noise.setToolTip("Paint the region anew instead of reworking what is there (strength 100 %)")
        form.addRow("", self.noise)
        col.add(form)

        col.add(section("Generation"))
        form = QFormLayout()
        add_sampling_rows(self, form, variations=1, strength=90)
        form.setRowVisible(self.lora, False)  # LoRAs are trained for staging and de-furnishing, not repainting
        self.guidance.setValue(6.0)
        col.add(form)
        finish_panel(self, col, actions.repaint, "Repaint")

        self.target.currentIndexChanged.connect(self._target_changed)
        self.target.currentIndexChanged.connect(self.changed)
        self.blur.valueChanged.connect(self.changed)
        self.negative.textChanged.connect(self.changed)
        self.prompts.textChanged.connect(self.changed)
        self.noise.toggled.connect(self.changed)
        self._target_changed()

    def _target_changed(self) -> None:
        key, mode, region = self.target_spec()
        self.prompts.setPlaceholderText(f"e.g. {EXAMPLES[key]}\n(one prompt per line: one result each)")
        if mode == "keep":
            text = "Select what stays (furniture, a person, a product): everything around it is repainted."
        elif mode == "mask":
            text = "Select the area to repaint with the Click tool or the brush."
        else:
            text = ("Found automatically (semantic segmentation). Everything outside it stays exactly as shot; "
                    + ("the room's lines and perspective guide the new surface." if region in ("walls", "floor", "ceiling")
                       else "the new view is painted to fit the opening."))
        self.hint.setText(text)

    def target_spec(self) -> tuple[str, str, str | None]:
        key = self.target.currentData()
        _, _, mode, region = next(t for t in TARGETS if t[0] == key)
        return key, mode, region

    def prompt_lines(self) -> list[str]:
        return [line.strip() for line in self.prompts.toPlainText().splitlines() if line.strip()]

    def values(self) -> dict:
        return {"target": self.target.currentData(), "prompts": self.prompt_lines(),
                "negative": self.negative.text().strip(), "blur": None if self.blur.value() < 0 else self.blur.value(),
                "noise_background": self.noise.isChecked(), "model_set": self.model_set.currentData(),
                "steps": self.steps.value(), "guidance": self.guidance.value(),
                "strength": self.strength.value() / 100.0, "seed": self.seed.spin.value(),
                "seed_locked": self.seed.lock.isChecked(), "variations": self.variations.value()}

    def set_values(self, v: dict) -> None:
        if not v:
            return
        self.blockSignals(True)
        try:
            _select(self.target, v.get("target", "window-view"))
            self.prompts.setPlainText("\n".join(v.get("prompts", [])))
            self.negative.setText(v.get("negative", ""))
            self.blur.setValue(-1 if v.get("blur") is None else int(v["blur"]))
            self.noise.setChecked(bool(v.get("noise_background", False)))
            _select(self.model_set, v.get("model_set"))
            self.steps.setValue(int(v.get("steps", 30)))
            self.guidance.setValue(float(v.get("guidance", 6.0)))
            self.strength.setValue(round(float(v.get("strength", 0.9)) * 100))
            self.seed.spin.setValue(int(v.get("seed", 0) or 0))
            self.seed.lock.setChecked(bool(v.get("seed_locked", False)))
            self.variations.setValue(int(v.get("variations", 1)))
        finally:
            self.blockSignals(False)
        self._target_changed()

    def request_fields(self) -> dict:
        """The RepaintRequest fields this panel decides (not photo / mask / models)."""
        v = self.values()
        _, mode, region = self.target_spec()
        return {"mode": mode, "region": region, "prompts": v["prompts"], "negative": v["negative"],
                "blur_px": v["blur"], "noise_background": v["noise_background"], "steps": v["steps"],
                "guidance": v["guidance"], "strength": v["strength"], "seed": self.seed.seed(),
                "variations": v["variations"]}
