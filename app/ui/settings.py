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


class SettingsDialog(QDialog):
    """Device, models, output folder, memory mode, disclosure defaults, mask colour."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(520)
        form = QFormLayout()
        self.device = QComboBox()
        self.device.addItems(["auto", "cuda", "cpu", "mps"])
        self.device.setCurrentText(get("device"))
        form.addRow("Device", self.device)
        self.memory = QComboBox()
        self.memory.addItems(["auto", "lowest", "low", "balanced", "high"])
        self.memory.setCurrentText(get("memory_mode"))
        self.memory.setToolTip("lowest: stream weights for 4 GB cards; low: offload and tile for 6-8 GB cards; "
                               "balanced: tile the VAE; high: keep everything on the GPU")
        form.addRow("Memory mode", self.memory)
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

    def _pick_color(self) -> None:
        color = QColorDialog.getColor(self.color, self, "Mask colour")
        if color.isValid():
            self.color = color
            self._show_color()

    def _show_color(self) -> None:
        self.color_button.setStyleSheet(f"background: {self.color.name()}; min-width: 48px;")

    def accept(self) -> None:
        put("device", self.device.currentText())
        put("memory_mode", self.memory.currentText())
        put("models", self.models.text().strip())
        put("output_dir", self.output.text().strip())
        put("disclosure/enabled", self.stamp.isChecked())
        put("disclosure/text", self.stamp_text.text().strip() or DEFAULTS["disclosure/text"])
        put("disclosure/corner", self.corner.currentText())
        put("disclosure/size", self.stamp_size.value() / 100.0)
        put("mask/color", self.color.name())
        put("mask/opacity", self.opacity.value() / 100.0)
        super().accept()
