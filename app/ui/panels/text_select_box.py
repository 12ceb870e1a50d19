"""The Selection panel's "Select all" row: a text field ("chairs", "sofa, floor lamp") and a button.

The widget runs nothing itself: the button (or Enter in the field) emits `requested(text)`; while a
search runs the button reads Cancel and emits `cancel_requested`. `ui.text_select` runs the job.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget


class TextSelectBox(QWidget):
    requested = Signal(str)
    cancel_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.busy = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.field = QLineEdit()
        self.field.setPlaceholderText("chairs, rug, floor lamp …")
        self.field.setClearButtonEnabled(True)
        self.field.setToolTip("Name what to select, in a few words; several things separated by commas")
        self.field.returnPressed.connect(self._go)
        self.button = QPushButton("Select all")
        self.button.setToolTip("Add every instance of it to the mask (SAM 3); Ctrl+Z takes them out again")
        self.button.clicked.connect(self._clicked)
        row.addWidget(self.field, 1)
        row.addWidget(self.button)
        layout.addLayout(row)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        self.info.setObjectName("Hint")
        layout.addWidget(self.info)

    def text(self) -> str:
        return self.field.text()

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.button.setText("Cancel" if busy else "Select all")
        self.field.setEnabled(not busy)

    def show_message(self, text: str) -> None:
        self.info.setText(text)

    def _clicked(self) -> None:
        if self.busy:
            self.cancel_requested.emit()
        else:
            self._go()

    def _go(self) -> None:
        if not self.busy:
            self.requested.emit(self.field.text())
