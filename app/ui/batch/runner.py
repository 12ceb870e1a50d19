"""The window's side of a batch: the panels' settings as BatchOptions, and a BatchSession run on a
background thread whose events arrive as a Qt signal on the GUI thread.

The batch shares the window's engine: its jobs queue behind nothing the user does by hand
(clicks jump ahead), and no second copy of the models is loaded."""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Signal

from app.engine import BatchEvent, BatchOptions, BatchSession
from app.errors import UserError

log = logging.getLogger(__name__)


def options_from_panels(window, task: str, disclose: str | None) -> BatchOptions:
    """The Stage (or De-furnish) panel's current settings for every photo of the batch."""
    stage = window.stage_panel.request_fields()
    furnish = window.defurnish_panel.request_fields()
    sampling = furnish if task == "defurnish" else stage
    common = window.common_request_fields(window.stage_panel.model_set.currentData())
    return BatchOptions(
        task=task, style=stage["style"], room=stage["room"],
        prompt=furnish["prompt"] if task == "defurnish" else stage["prompt"], seed=sampling["seed"],
        variations=sampling["variations"], models=common["models"], model_set=common["model_set"],
        device=common["device"], steps=sampling["steps"], guidance=sampling["guidance"],
        strength=sampling["strength"], negative=stage["negative"] if task != "defurnish" else "",
        margin=furnish["margin_px"], prefill=furnish["prefill"], disclose=disclose)


class BatchRun(QObject):
    """Prepares and runs one session off the GUI thread. `event` carries BatchEvents; `ended`
    carries an error message ("" when the run ended normally or was cancelled)."""

    event = Signal(object)
    ended = Signal(str)

    def __init__(self, session_args: dict, engine, parent=None):
        super().__init__(parent)
        self.session = BatchSession(**session_args, listener=self.event.emit)
        self.engine = engine
        self._thread = threading.Thread(target=self._run, name="roomstager-batch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self.session.cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        error = ""
        try:
            self.session.prepare()
            try:
                self.session.run(engine=self.engine)
            finally:
                self.session.close()
        except UserError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - shown in the dialog; the window keeps running
            log.exception("batch failed")
            error = f"{exc.__class__.__name__}: {exc}"
        self.event.emit(BatchEvent("ended"))
        self.ended.emit(error)
