"""Export: format and quality, the "Virtually staged" disclosure label (on by default,
previewed at listing-thumbnail size), and optionally the unaltered original beside
the export with a JSON manifest linking the two. Never writes over the original."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
)

from app.errors import UserError
from app.imaging import disclosure
from app.imaging.io import Photo, write_photo, write_text
from app.imaging.targets import check_write_targets, named, same_file
from app.imaging.targets import image as target_image
from app.ui import settings
from app.ui.panels.common import SliderSpin, to_pixmap

FORMATS = [("jpg", "JPEG"), ("png", "PNG (lossless)"), ("webp", "WebP"), ("tif", "TIFF (lossless)")]
SUFFIXES = {".jpg": "jpg", ".jpeg": "jpg", ".png": "png", ".webp": "webp", ".tif": "tif", ".tiff": "tif"}
LOSSY = {"jpg", "webp"}
FORMAT_NOTES = {
    "jpg": "JPEG re-encodes the whole photo: small files, but every pixel changes slightly, also outside the edit.",
    "webp": "WebP at this quality re-encodes the whole photo, like JPEG: every pixel changes slightly.",
    "png": "PNG is lossless: every pixel outside the edit stays exactly as in the original. Larger files.",
    "tif": "TIFF is lossless and uncompressed: every pixel outside the edit stays exactly as in the original.",
}
THUMB_W = 400  # a typical listing thumbnail


@dataclass
class ExportOptions:
    path: Path
    quality: int = 92
    stamp: bool = True
    stamp_text: str = "Virtually staged"
    stamp_corner: str = "bottom-right"
    stamp_size: float = 0.035
    save_original: bool = True
    format: str | None = None  # "jpg", "png", "webp", "tif": must match the name's suffix when given
    replace: bool = False  # write over an existing file of that name (else the export takes a free name)


@dataclass
class ExportResult:
    image: Path
    original: Path | None = None
    manifest: Path | None = None
    paths: list[Path] = field(default_factory=list)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _free_name(path: Path) -> Path:
    if not path.exists():
        return path
    for i in range(2, 1000):
        candidate = path.with_name(f"{path.stem}-{i}{path.suffix}")
        if not candidate.exists():
            return candidate
    raise UserError(f"{path.parent}: too many files named like {path.name}")


def export_image(pixels: np.ndarray, source: Photo, options: ExportOptions, record: dict | None = None,
                 licenses: list[dict] | None = None, protect: tuple = ()) -> ExportResult:
    """Write the export (worker thread safe), never over the photo or anything in `protect` (the project).
    Raises UserError with a readable message, before anything is written."""
    path = Path(options.path)
    original = Path(source.path).resolve() if source.path else None
    if original is not None and same_file(path, original):
        raise UserError(f"{path.name} is the original photo: choose another name so it stays untouched")
    chosen = SUFFIXES.get(path.suffix.lower())
    if options.format is not None and chosen != options.format:
        raise UserError(f"{path.name}: the name says {path.suffix or 'no format'} but {options.format.upper()} was "
                        f"chosen; name the file .{options.format} or choose the format its name says")
    if not options.replace:
        path = _free_name(path)  # an earlier export (and its manifest) stays as it is
    keep_original = options.save_original and original is not None and original.is_file()
    copy = _free_name(path.with_name(f"{path.stem}-original{original.suffix.lower()}")) if keep_original else None
    manifest = path.with_name(f"{path.name}.manifest.json")  # one per exported file, never shared
    check_write_targets([original, *protect], [target_image(path), named(path.with_name(path.name + ".json")),
                                               *([named(copy), named(manifest)] if keep_original else [])])
    image = pixels
    if options.stamp:
        image = disclosure.stamp(pixels, options.stamp_text, options.stamp_corner, options.stamp_size)
    metadata = {"roomstager": "export", "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "disclosure": options.stamp_text if options.stamp else None,
                "original": str(original) if original else None, **({"request": record} if record else {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    out = write_photo(path, image, source=source, quality=options.quality, metadata=metadata,
                      protect=[original, *protect])
    result = ExportResult(image=out, paths=[out])
    if keep_original:
        shutil.copy2(original, copy)
        data = {"format": "roomstager-export-manifest", "version": 1, "created": metadata["created"],
                "altered": {"file": out.name, "sha256": _sha256(out),
                            "disclosure": metadata["disclosure"], "note": "digitally altered (virtual staging)"},
                "original": {"file": copy.name, "sha256": _sha256(copy), "source": str(original)},
                "request": record, **licence_record(licenses)}
        write_text(manifest, json.dumps(data, indent=2, default=str), protect=[original, *protect])
        result.original, result.manifest = copy, manifest
        result.paths += [copy, manifest]
    return result


def licence_record(licenses: list[dict] | None) -> dict:
    """The models behind the picture and whether their licences allow commercial use (listing photos)."""
    if not licenses:
        return {}
    restricted = [m["model"] for m in licenses if m.get("commercial_use") is False]
    out = {"models": licenses, "commercial_use": not restricted}
    if restricted:
        out["license_warning"] = (f"made with models whose licence forbids commercial use ({', '.join(restricted)}): "
                                  f"not for paid listing work")
    return out


class ExportDialog(QDialog):
    def __init__(self, pixels: np.ndarray, suggested: Path, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.setMinimumWidth(560)
        self._thumb = self._make_thumb(pixels)
        self.path = QLineEdit(str(suggested))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.format = QComboBox()
        for ext, title in FORMATS:
            self.format.addItem(title, ext)
        fmt = SUFFIXES.get(Path(suggested).suffix.lower()) or settings.get("export/format")  # the name's, if any
        self.format.setCurrentIndex(max(0, self.format.findData(fmt)))
        self.quality = SliderSpin(50, 100, settings.get("export/quality"))
        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        form.addRow("File", row)
        form.addRow("Format", self.format)
        form.addRow("Quality", self.quality)
        self.quality_label = form.labelForField(self.quality)
        self.note = QLabel()
        self.note.setObjectName("Hint")
        self.note.setWordWrap(True)
        form.addRow("", self.note)
        self.path.editingFinished.connect(self._name_edited)
        self.replace_confirmed: Path | None = None  # the name the user agreed to write over

        self.stamp = QGroupBox("Disclosure label")
        self.stamp.setCheckable(True)
        self.stamp.setChecked(settings.get("disclosure/enabled"))
        self.stamp.setToolTip("MLS rules and California AB 723 require altered listing photos to say so")
        sform = QFormLayout(self.stamp)
        self.text = QLineEdit(settings.get("disclosure/text"))
        self.corner = QComboBox()
        self.corner.addItems(settings.CORNERS)
        self.corner.setCurrentText(settings.get("disclosure/corner"))
        self.size = QDoubleSpinBox()
        self.size.setRange(1.5, 10.0)
        self.size.setSingleStep(0.5)
        self.size.setSuffix(" % of long side")
        self.size.setValue(settings.get("disclosure/size") * 100)
        sform.addRow("Text", self.text)
        sform.addRow("Corner", self.corner)
        sform.addRow("Size", self.size)
        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setToolTip(f"How the photo looks as a {THUMB_W} px listing thumbnail")
        self.original = QCheckBox("Also save the unaltered original beside it, with a manifest linking the two")
        self.original.setChecked(settings.get("export/save_original"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.stamp)
        layout.addWidget(QLabel(f"Listing thumbnail preview ({THUMB_W} px):"))
        layout.addWidget(self.preview)
        layout.addWidget(self.original)
        layout.addWidget(buttons)
        self.format.currentIndexChanged.connect(self._format_changed)
        for sig in (self.stamp.toggled, self.text.textChanged, self.corner.currentIndexChanged, self.size.valueChanged):
            sig.connect(self._update_preview)
        self._format_changed()
        self._update_preview()

    @staticmethod
    def _make_thumb(pixels: np.ndarray) -> np.ndarray:
        h, w = pixels.shape[:2]
        s = THUMB_W / max(w, h)
        return cv2.resize(pixels, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export", self.path.text(),
                                              "Images (*.jpg *.jpeg *.png *.webp *.tif *.tiff)")
        if path:
            self.path.setText(path)
            self._name_edited()
            self.replace_confirmed = Path(self.path.text())  # the file dialog asked about replacing it

    def _name_edited(self) -> None:
        """A name ending in a known suffix chooses its format; any other name gets the chosen format's suffix."""
        text = self.path.text().strip()
        if not text:
            return
        named = SUFFIXES.get(Path(text).suffix.lower())
        if named is None:
            self.path.setText(f"{text}.{self.format.currentData()}")
        elif named != self.format.currentData():
            self.format.setCurrentIndex(self.format.findData(named))

    def _format_changed(self) -> None:
        ext = self.format.currentData()
        self.quality.setEnabled(ext in LOSSY)
        if self.quality_label is not None:
            self.quality_label.setEnabled(ext in LOSSY)
        self.note.setText(FORMAT_NOTES[ext])
        text = self.path.text().strip()
        p = Path(text)
        if text and SUFFIXES.get(p.suffix.lower()) != ext:
            base = p.with_suffix("") if p.suffix.lower() in SUFFIXES else p
            self.path.setText(f"{base}.{ext}")

    def _update_preview(self) -> None:
        thumb = self._thumb
        if self.stamp.isChecked():
            thumb = disclosure.stamp(thumb, self.text.text() or " ", self.corner.currentText(), self.size.value() / 100)
        self.preview.setPixmap(to_pixmap(thumb))

    def options(self) -> ExportOptions:
        self._name_edited()
        path = Path(self.path.text()).expanduser()
        return ExportOptions(path=path, quality=self.quality.value(),
                             stamp=self.stamp.isChecked(), stamp_text=self.text.text().strip() or "Virtually staged",
                             stamp_corner=self.corner.currentText(), stamp_size=self.size.value() / 100,
                             save_original=self.original.isChecked(), format=self.format.currentData(),
                             replace=path == self.replace_confirmed)

    def confirm_replace(self, path: Path) -> bool:
        """Ask before writing over an earlier file (tests replace this method)."""
        answer = QMessageBox.question(self, "Replace?", f"{path.name} already exists in {path.parent}.\n\n"
                                      "Replace it? (No keeps it and saves the export under a new name.)",
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def accept(self) -> None:
        path = self.options().path
        if path.exists() and path != self.replace_confirmed and self.confirm_replace(path):
            self.replace_confirmed = path
        settings.put("export/folder", str(path.parent))
        settings.put("export/format", self.format.currentData())
        settings.put("export/quality", self.quality.value())
        settings.put("export/save_original", self.original.isChecked())
        super().accept()
