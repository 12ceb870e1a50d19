"""Automatic masks panel: "Select furniture" -> a list of found objects to toggle one by one,
"Select floor", "Select structure", and the margin ring around removed objects.

Self-contained: the panel does not run jobs. A button emits `requested(target, options)`;
the window builds the request with `build_request(photo, target, options, ...)`, runs it
on the engine and hands the `AutoMaskResult` back with `set_result` (or an error with
`set_failed`). From then on toggling objects and moving the margin slider re-combine
the mask right here (pure numpy, no engine round trip) and emit `mask_changed` with the
bool mask (objects + margin ring, the ring kept off windows and doors), or None when
nothing is selected. A mask for de-furnishing already carries its ring: pass it with
`margin_px=0`.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app import settings
from app.engine import AutoMaskRequest, AutoMaskResult, combine_objects
from app.imaging import masks


class AutoMaskPanel(QWidget):
    requested = Signal(str, dict)  # target ("furniture", "floor", "structure"), AutoMaskRequest options
    mask_changed = Signal(object)  # HxW bool numpy array, or None when nothing is selected
    message = Signal(str)  # what to show in the status bar ("No furniture was found ...")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.result: AutoMaskResult | None = None
        self._mask: np.ndarray | None = None
        self._filling = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.furniture_button = QPushButton("Select furniture")
        self.furniture_button.setToolTip("Find the furniture and decor to remove; walls, floor, windows, doors, "
                                         "radiators and light fixtures are never selected")
        self.floor_button = QPushButton("Select floor")
        self.floor_button.setToolTip("The floor and a band above it: where staged furniture may stand")
        self.structure_button = QPushButton("Select structure")
        self.structure_button.setToolTip("Walls, floor, ceiling, windows, doors ...: the parts that stay")
        for b, target in ((self.furniture_button, "furniture"), (self.floor_button, "floor"),
                          (self.structure_button, "structure")):
            b.clicked.connect(lambda _=False, t=target: self.request(t))
            row.addWidget(b)
        layout.addLayout(row)

        margin_row = QHBoxLayout()
        margin_row.addWidget(QLabel("Margin"))
        self.margin = QSlider(Qt.Orientation.Horizontal)
        self.margin.setRange(0, settings.MAX_MARGIN_AT_1024)
        self.margin.setValue(settings.MARGIN_AT_1024)
        self.margin.setToolTip("A ring around removed objects, so their shadows and contact marks go too "
                               "(pixels at a 1024 px long side, scaled to the photo)")
        margin_row.addWidget(self.margin, 1)
        self.margin_label = QLabel()
        self.margin_label.setMinimumWidth(90)
        margin_row.addWidget(self.margin_label)
        layout.addLayout(margin_row)

        self.band = QCheckBox("Include the band above the floor")
        self.band.setChecked(True)
        self.band.setToolTip("For staging: furniture stands on the floor and rises above it")
        layout.addWidget(self.band)

        self.objects = QListWidget()
        self.objects.setToolTip("Tick the objects to remove")
        self.objects.itemChanged.connect(self._item_changed)
        layout.addWidget(self.objects, 1)
        row = QHBoxLayout()
        self.all_button = QPushButton("All")
        self.none_button = QPushButton("None")
        self.all_button.clicked.connect(lambda: self.set_all(True))
        self.none_button.clicked.connect(lambda: self.set_all(False))
        row.addWidget(self.all_button)
        row.addWidget(self.none_button)
        row.addStretch(1)
        layout.addLayout(row)

        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setObjectName("Hint")
        layout.addWidget(self.status)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(120)
        self._debounce.timeout.connect(self._recombine)
        self.margin.valueChanged.connect(self._margin_moved)
        self._update_margin_label()
        self._update_enabled()

    # ---- asking for a mask -------------------------------------------------------

    def options(self, target: str) -> dict:
        """The AutoMaskRequest fields this panel decides (the window adds photo, models, device)."""
        if target == "furniture":
            return {"target": target, "margin_px": 0}  # the ring is added here, so the slider is live
        if target == "floor":
            return {"target": target, "band": 0.35 if self.band.isChecked() else 0.0}
        return {"target": target}

    def request(self, target: str) -> None:
        self.status.setText({"furniture": "Finding furniture ...", "floor": "Finding the floor ...",
                             "structure": "Finding the room's structure ..."}[target])
        self.requested.emit(target, self.options(target))

    @staticmethod
    def build_request(photo: np.ndarray, target: str, options: dict | None = None, **fields) -> AutoMaskRequest:
        """An AutoMaskRequest from the panel's options plus the window's fields (models, device ...)."""
        spec = dict(options or {})
        spec.setdefault("target", target)
        spec.update(fields)
        return AutoMaskRequest(photo=photo, **spec)

    def set_busy(self, busy: bool) -> None:
        for b in (self.furniture_button, self.floor_button, self.structure_button):
            b.setEnabled(not busy)

    # ---- results -----------------------------------------------------------------

    def set_result(self, result: AutoMaskResult) -> None:
        self.result = result
        self._filling = True
        self.objects.clear()
        for i, obj in enumerate(result.objects):
            note = f"  ({obj.note})" if obj.note else ""
            score = "" if result.target == "floor" else f"  {obj.score:.2f}"
            item = QListWidgetItem(f"{obj.label}{score}{note}")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if obj.selected else Qt.CheckState.Unchecked)
            item.setData(Qt.ItemDataRole.UserRole, i)
            item.setToolTip(f"{obj.label}: {obj.area} px, found by {obj.source}")
            self.objects.addItem(item)
        self._filling = False
        self._update_enabled()
        self._update_margin_label()
        if not result.objects:
            self._mask = None
            self.status.setText(result.message or "Nothing was found.")
            self.message.emit(self.status.text())
            self.mask_changed.emit(None)
            return
        self._recombine()
        self.status.setText(result.message or self._summary())
        if result.message:
            self.message.emit(result.message)

    def set_failed(self, text: str) -> None:
        self.status.setText(text)
        self.message.emit(text)

    def clear(self) -> None:
        self.result = None
        self._mask = None
        self.objects.clear()
        self.status.setText("")
        self._update_enabled()

    def selected(self) -> list[bool]:
        return [self.objects.item(i).checkState() == Qt.CheckState.Checked for i in range(self.objects.count())]

    def set_all(self, on: bool) -> None:
        self._filling = True
        for i in range(self.objects.count()):
            self.objects.item(i).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        self._filling = False
        self._recombine()

    def set_checked(self, index: int, on: bool) -> None:
        self.objects.item(index).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def selection_mask(self) -> np.ndarray | None:
        return self._mask

    def margin_px(self) -> int:
        """The ring in photo pixels for the current result (0 for floor and structure)."""
        if self.result is None or self.result.target != "furniture" or not self.result.objects:
            return 0
        value = self.margin.value()
        if value <= 0:
            return 0
        h, w = self.result.objects[0].shape
        return masks.scale_px(value, (w, h))

    # ---- internals ---------------------------------------------------------------

    def _summary(self) -> str:
        n = sum(self.selected())
        total = self.objects.count()
        what = {"furniture": "object", "floor": "region", "structure": "part"}[self.result.target]
        return f"{n} of {total} {what}{'s' if total != 1 else ''} selected."

    def _item_changed(self, _item) -> None:
        if not self._filling:
            self._recombine()

    def _margin_moved(self, _value) -> None:
        self._update_margin_label()
        self._debounce.start()

    def _update_margin_label(self) -> None:
        px = self.margin_px()
        value = self.margin.value()
        self.margin_label.setText(f"{value} ({px} px)" if self.result is not None and px else f"{value}")

    def _update_enabled(self) -> None:
        has = self.result is not None and bool(self.result.objects)
        self.all_button.setEnabled(has)
        self.none_button.setEnabled(has)
        self.margin.setEnabled(self.result is None or self.result.target == "furniture")

    def _recombine(self) -> None:
        result = self.result
        if result is None or not result.objects:
            return
        flags = self.selected()
        shape = result.objects[0].shape
        if result.target == "furniture":
            mask = combine_objects(result.objects, shape, self.margin_px(), result.protected, flags)
        else:
            mask = np.zeros(shape, bool)
            for obj, on in zip(result.objects, flags, strict=True):
                if on:
                    x0, y0, x1, y1 = obj.box
                    mask[y0:y1, x0:x1] |= obj.crop
        self._mask = mask if mask.any() else None
        self.status.setText(self._summary())
        self.mask_changed.emit(self._mask)
