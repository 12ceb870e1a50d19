"""Application settings in QSettings (organisation "RoomStager"), with typed accessors
and a small dialog. Window geometry and dock layout are stored here too."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app import settings as app_settings

ORG, APP = "RoomStager", "RoomStager"
CORNERS = ("bottom-right", "bottom-left", "top-right", "top-left")
DEFAULTS = {
    "device": "auto",  # auto | cuda | cpu | mps
    "models": "",  # "" = the app's models folder; "tiny" = test models; else a folder
    "output_dir": "",
    "memory_mode": "auto",  # auto | lowest | low | balanced | high (app.engine.runtime.device.MEMORY_MODES)
    "disclosure/enabled": True,
    "disclosure/text": "Virtually staged",
    "disclosure/corner": "bottom-right",
    "disclosure/size": 0.035,
    "export/format": "jpg",
    "export/quality": 92,
    "export/save_original": True,
    "export/folder": "",  # where the last export went (the next one starts there)
    "mask/color": "#ff3c5a",
    "mask/opacity": 0.45,
    "autosave/seconds": 20,
    "recent": [],
}


def settings() -> QSettings:
    return QSettings(ORG, APP)


def get(key: str):
    default = DEFAULTS.get(key)
    value = settings().value(key, default)
    if isinstance(default, bool):
        return value in (True, "true", "1", 1)
    if isinstance(default, int) and not isinstance(default, bool):
        try:
            return int(value)
        except (TypeError, ValueError):
            return default
    if isinstance(default, float):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return default
        return number if math.isfinite(number) else default  # "nan" / "inf" in a settings file
    if isinstance(default, list):
        if value in (None, ""):
            return []
        return [value] if isinstance(value, str) else list(value)
    return value if value is not None else default


def put(key: str, value) -> None:
    settings().setValue(key, value)


def data_dir() -> Path:
    """Where autosaves live: $ROOMSTAGER_DATA, else the platform's app-data folder."""
    configured = app_settings.data_dir()
    if configured is not None:
        return configured
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".roomstager")


def output_dir(photo_path: Path | None) -> Path:
    configured = get("output_dir")
    if configured:
        return Path(configured)
    if photo_path is not None:
        return photo_path.parent
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation) or Path.home())


def add_recent(path: str, limit: int = 10) -> list[str]:
    recent = [p for p in get("recent") if p != path]
    recent.insert(0, path)
    put("recent", recent[:limit])
    return recent[:limit]


MEMORY_NOTES = {
    "auto": "Chosen from the card's memory: under 5 GB it streams the weights, up to 8 GB it offloads, "
            "up to 12 GB it tiles the decoder, above that everything stays on the card.",
    "lowest": "Streams the weights to the card layer by layer: runs on 4 GB cards, but is the slowest.",
    "low": "Keeps only the model at work on the card and tiles the decoder: for 6-8 GB cards.",
    "balanced": "Everything on the card, the decoder tiled: for 8-12 GB cards.",
    "high": "Everything on the card at once: the fastest, for 12 GB and more.",
}
MEMORY_TITLES = {"auto": "Automatic", "lowest": "Lowest (4 GB cards)", "low": "Low (6-8 GB)",
                 "balanced": "Balanced (8-12 GB)", "high": "High (12 GB and more)"}


def device_title(info) -> str:
    """How a device reads in a list: the card's name and memory, or "CPU"."""
    if info.device == "cpu":
        return "CPU"
    memory = f" · {info.vram_gb:g} GB" if info.vram_gb else ""
    return f"{info.name}{memory} ({info.device.upper()})"


class SettingsDialog(QDialog):
    """Device, models, output folder, memory mode, disclosure defaults, mask colour.

    `devices` (app.engine.available_devices()) are the only devices offered; without a GPU the
    memory modes, which only apply to GPUs, are off and say why."""

    def __init__(self, parent: QWidget | None = None, devices: list | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(560)
        devices = list(devices or [])
        gpus = [d for d in devices if d.device != "cpu"]
        form = QFormLayout()
        self.device = QComboBox()
        best = device_title(devices[0]) if devices else "the best device found"
        self.device.addItem(f"Automatic ({best})", "auto")
        for info in devices:
            self.device.addItem(device_title(info), info.device)
        saved = get("device")
        index = self.device.findData(saved)
        self.device.setCurrentIndex(max(0, index))
        self.device_note = QLabel("" if index >= 0 or saved in ("", "auto") else
                                  f"The saved device ({saved}) is not on this computer: Automatic is used.")
        self.device_note.setObjectName("Hint")
        self.device_note.setWordWrap(True)
        form.addRow("Device", self.device)
        if self.device_note.text():
            form.addRow("", self.device_note)
        self.memory = QComboBox()
        for key, title in MEMORY_TITLES.items():
            self.memory.addItem(title, key)
        self.memory.setCurrentIndex(max(0, self.memory.findData(get("memory_mode"))))
        self.memory_note = QLabel()
        self.memory_note.setObjectName("Hint")
        self.memory_note.setWordWrap(True)
        self.memory.setEnabled(bool(gpus))
        self.memory.currentIndexChanged.connect(self._memory_changed)
        form.addRow("GPU memory", self.memory)
        form.addRow("", self.memory_note)
        self._has_gpu = bool(gpus)
        self._memory_changed()
        self.models = self._folder_row(form, "Models folder", get("models"), "the app's models/ folder")
        self.output = self._folder_row(form, "Output folder", get("output_dir"), "beside the photo")
        self.stamp = QCheckBox("Add a disclosure label to exported photos")
        self.stamp.setChecked(get("disclosure/enabled"))
        form.addRow("Disclosure", self.stamp)
        self.stamp_text = QLineEdit(get("disclosure/text"))
        form.addRow("Label text", self.stamp_text)
        self.corner = QComboBox()
        self.corner.addItems(CORNERS)
        self.corner.setCurrentText(get("disclosure/corner"))
        form.addRow("Label corner", self.corner)
        self.stamp_size = QDoubleSpinBox()
        self.stamp_size.setRange(1.0, 10.0)
        self.stamp_size.setSuffix(" % of long side")
        self.stamp_size.setValue(get("disclosure/size") * 100)
        form.addRow("Label size", self.stamp_size)
        self.color = QColor(get("mask/color"))
        self.color_button = QPushButton()
        self.color_button.clicked.connect(self._pick_color)
        self._show_color()
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(5, 95)
        self.opacity.setValue(round(get("mask/opacity") * 100))
        row = QHBoxLayout()
        row.addWidget(self.color_button)
        row.addWidget(self.opacity, 1)
        form.addRow("Mask overlay", row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _folder_row(self, form: QFormLayout, label: str, value: str, placeholder: str) -> QLineEdit:
        edit = QLineEdit(value)
        edit.setPlaceholderText(placeholder)
        browse = QPushButton("Browse…")

        def pick():
            folder = QFileDialog.getExistingDirectory(self, label, edit.text() or str(Path.home()))
            if folder:
                edit.setText(folder)

        browse.clicked.connect(pick)
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        row.addWidget(browse)
        form.addRow(label, row)
        return edit

    def _memory_changed(self) -> None:
        if not self._has_gpu:
            self.memory_note.setText("Memory modes are for graphics cards. This computer has none that RoomStager "
                                     "can use, so jobs run on the CPU.")
            return
        self.memory_note.setText(MEMORY_NOTES[self.memory.currentData()])

    def _pick_color(self) -> None:
        color = QColorDialog.getColor(self.color, self, "Mask colour")
        if color.isValid():
            self.color = color
            self._show_color()

    def _show_color(self) -> None:
        self.color_button.setStyleSheet(f"background: {self.color.name()}; min-width: 48px;")

    def accept(self) -> None:
        put("device", self.device.currentData())
        put("memory_mode", self.memory.currentData())
        put("models", self.models.text().strip())
        put("output_dir", self.output.text().strip())
        put("disclosure/enabled", self.stamp.isChecked())
        put("disclosure/text", self.stamp_text.text().strip() or DEFAULTS["disclosure/text"])
        put("disclosure/corner", self.corner.currentText())
        put("disclosure/size", self.stamp_size.value() / 100.0)
        put("mask/color", self.color.name())
        put("mask/opacity", self.opacity.value() / 100.0)
        super().accept()
