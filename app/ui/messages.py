"""How errors and notices reach the user: a message bar over the canvas (non-modal,
readable by tests through `history`) and an excepthook that turns any unexpected
exception into a short dialog plus a log entry, never a traceback on screen."""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMessageBox, QPushButton, QToolButton, QWidget

from app.errors import UserError

log = logging.getLogger("roomstager")

LEVEL_COLORS = {"info": "#2d6cdf", "warning": "#c98a16", "error": "#c0392b"}


@dataclass
class Message:
    level: str
    text: str


class MessageBar(QFrame):
    """A slim bar at the top of the canvas. Info fades after a few seconds; errors stay."""

    shown = Signal(str, str)  # level, text

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("MessageBar")
        self.history: list[Message] = []
        self._label = QLabel()
        self._label.setWordWrap(True)
        self._label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        self.action_button = QPushButton()  # what to do about the message (open Models, open the folder)
        self.action_button.setObjectName("MessageAction")
        self.action_button.clicked.connect(self._act)
        self.action_button.hide()
        self._action: Callable[[], None] | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 6, 6)
        layout.addWidget(self._label, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(close)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.hide()

    def show_message(self, text: str, level: str = "info", timeout_ms: int | None = None,
                     action: tuple[str, Callable[[], None]] | None = None) -> None:
        """Show `text`; `action` = (button text, what it does) adds a button that acts on it."""
        self.history.append(Message(level, text))
        self._action = action[1] if action else None
        self.action_button.setText(action[0] if action else "")
        self.action_button.setVisible(action is not None)
        log.log(logging.ERROR if level == "error" else logging.INFO, "%s: %s", level, text)
        self._label.setText(text)
        color = LEVEL_COLORS.get(level, LEVEL_COLORS["info"])
        self.setStyleSheet(f"#MessageBar {{ background: {color}; border-radius: 0; }} QLabel {{ color: white; }}"
                           "QPushButton#MessageAction { color: white; background: rgba(255, 255, 255, 40); "
                           "border: 1px solid rgba(255, 255, 255, 160); border-radius: 3px; padding: 3px 12px; }")
        self.show()
        self.raise_()
        if timeout_ms is None:
            timeout_ms = 6000 if level == "info" else 0
        if timeout_ms:
            self._timer.start(timeout_ms)
        else:
            self._timer.stop()
        self.shown.emit(level, text)

    def _act(self) -> None:
        action = self._action
        self.hide()
        if action is not None:
            action()

    def clear_problems(self) -> None:
        """A later success makes an old error or warning stale: take it down."""
        if self.isVisible() and self.history and self.history[-1].level in ("error", "warning"):
            self.hide()

    @property
    def last(self) -> Message | None:
        return self.history[-1] if self.history else None


def readable(exc: BaseException) -> str:
    """A one-paragraph explanation of an exception, no traceback."""
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "The computer ran out of memory. Close other programs or open a smaller photo."
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}."
    text = str(exc).strip() or exc.__class__.__name__
    return f"Something went wrong: {text}"


_dialog_open = False


def install_excepthook(parent: Callable[[], QWidget | None], log_file: Path | None = None) -> None:
    """Log every uncaught exception and show a short dialog; the app keeps running."""

    def show(exc_type, exc, tb) -> None:
        global _dialog_open
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.error("uncaught exception\n%s", "".join(traceback.format_exception(exc_type, exc, tb)))
        if _dialog_open:
            return
        text = readable(exc)
        where = f"\n\nDetails were written to {log_file}." if log_file else ""
        _dialog_open = True
        try:
            box = QMessageBox(QMessageBox.Icon.Critical if not isinstance(exc, UserError) else QMessageBox.Icon.Warning,
                              "RoomStager", text + where, QMessageBox.StandardButton.Ok, parent())
            box.exec()
        finally:
            _dialog_open = False

    def thread_hook(args) -> None:
        log.error("uncaught exception in thread %s\n%s", args.thread.name if args.thread else "?",
                  "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)))

    sys.excepthook = show
    threading.excepthook = thread_hook


def setup_logging(log_file: Path | None) -> None:
    root = logging.getLogger()
    if any(getattr(h, "_roomstager", False) for h in root.handlers):
        return
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
        except OSError:
            pass
    for h in handlers:
        h._roomstager = True  # type: ignore[attr-defined]
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(h)
    root.setLevel(logging.INFO)
