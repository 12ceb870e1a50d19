"""What the window says about work in progress and how it ended (a MainWindow mixin): the status
bar (labels that never push its message off the edge), "…ing" messages that always end, and
failures in the message bar with a button that leads to the fix (File ▸ Models for a missing model).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator

from PySide6.QtWidgets import QLabel, QProgressBar, QToolButton

from app.ui.panels.common import ElidedLabel

# A sentence telling a terminal user which command to type; the window offers its own way instead.
_COMMAND_ADVICE = re.compile(r"`?python main\.py|--models\b|`models (download|import|remove|list)")


def desktop_text(message: str) -> str:
    """The message without its sentences of command-line advice (for the window)."""
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z`(])", message.strip())
    kept = [s for s in sentences if not _COMMAND_ADVICE.search(s)]
    return " ".join(kept) if kept else message


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
        # Click-to-select's state is normal information: a message (an action's outcome) covers it for a
        # while, then it shows again. The job's progress and the cursor stay at the right.
        self.sam_label = ElidedLabel("", 10_000)
        bar.addWidget(self.sam_label, 1)
        self.pos_label = QLabel("")
        self.zoom_label = QLabel("")
        for w in (self.job_label, self.job_bar, self.job_cancel, self.pos_label, self.zoom_label):
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
