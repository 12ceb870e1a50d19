"""What the window says about work in progress and how it ended (a MainWindow mixin): the status
bar (labels that never push its message off the edge), "…ing" messages that always end, and
failures in the message bar with a button that leads to the fix (File ▸ Models for a missing model).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QSizePolicy, QToolButton

# A sentence telling a terminal user which command to type; the window offers its own way instead.
_COMMAND_ADVICE = re.compile(r"`?python main\.py|--models\b|`models (download|import|remove|list)")


def desktop_text(message: str) -> str:
    """The message without its sentences of command-line advice (for the window)."""
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z`(])", message.strip())
    kept = [s for s in sentences if not _COMMAND_ADVICE.search(s)]
    return " ".join(kept) if kept else message


class ElidedLabel(QLabel):
    """A one-line label that shortens its text with … to the space it gets; the whole text is its tooltip."""

    def __init__(self, text: str = "", max_width: int = 360):
        super().__init__()
        self._full = ""
        self.setMaximumWidth(max_width)
        self.setMinimumWidth(24)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._full = text or ""
        self.setToolTip(self._full)
        self._elide()
        self.updateGeometry()

    def full_text(self) -> str:
        return self._full

    def sizeHint(self) -> QSize:  # noqa: N802
        hint = super().sizeHint()
        return QSize(min(self.fontMetrics().horizontalAdvance(self._full) + 6, self.maximumWidth()), hint.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(24, super().minimumSizeHint().height())

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(0, self.width() - 2))
        QLabel.setText(self, shown)


class FeedbackMixin:
    def build_status_bar(self) -> None:
        bar = self.statusBar()
        self.job_label = ElidedLabel("", 340)
        self.job_bar = QProgressBar()
        self.job_bar.setFixedWidth(140)
        self.job_bar.setFixedHeight(12)
        self.job_bar.setTextVisible(False)
        self.job_cancel = QToolButton()
        self.job_cancel.setDefaultAction(self.actions_.cancel_jobs)
        self.job_cancel.setText("Cancel")
        self.sam_label = ElidedLabel("", 240)
        self.pos_label = QLabel("")
        self.zoom_label = QLabel("")
        for w in (self.job_label, self.job_bar, self.job_cancel, self.sam_label, self.pos_label, self.zoom_label):
            bar.addPermanentWidget(w)
        for w in (self.job_label, self.job_bar, self.job_cancel):
            w.setVisible(False)

    @contextlib.contextmanager
    def busy(self, text: str) -> Iterator[None]:
        """Say `text` in the status bar while the block runs; it never outlives the block."""
        bar = self.statusBar()
        bar.showMessage(text)
        try:
            yield
        finally:
            if bar.currentMessage() == text:
                bar.clearMessage()

    def report_done(self, text: str, banner: bool = False, action: tuple[str, Callable[[], None]] | None = None,
                    timeout_ms: int = 10_000) -> None:
        """A finished action: say so in the status bar (and the message bar when `banner`); an old error
        or warning in the message bar is stale now and goes."""
        self.statusBar().showMessage(text, timeout_ms)
        if banner:
            self.messages.show_message(text, "info", timeout_ms=timeout_ms, action=action)
        else:
            self.messages.clear_problems()

    def report_failure(self, text: str, missing_model: bool = False, level: str = "error") -> None:
        """A failure in the message bar; a missing model gets a button that opens File ▸ Models."""
        if missing_model:
            self.messages.show_message(f"{desktop_text(text)} Install it in File ▸ Models.", level,
                                       action=("Open Models…", self.open_models_dialog))
        else:
            self.messages.show_message(text, level)
