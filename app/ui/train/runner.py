"""Training away from the window: child processes, watched through their run folder.

The Train window starts `main.py dataset ...` (when it builds a dataset) and then
`main.py train-lora ...` as child processes in their own session, so the window stays
responsive, a run survives closing the dialog (or the app), and a crash in training
cannot take the window down. Progress comes from the run folder's status.json and the
metrics log (read a few times a second on a timer); pause and cancel go through
control.json (engine/training/runstate.py). Output goes to NAME.train.log beside the LoRA.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from app.engine import TRAINING_STATUS, clear_training_request, read_training_status, request_training
from app.engine import read_training_log as read_rows
from app.engine import training_log_paths as log_paths

MAIN = Path(__file__).resolve().parents[3] / "main.py"
ACTIVE = ("starting", "running", "validating")


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    if sys.platform == "win32":
        import ctypes  # Windows only: os.kill(pid, 0) would end the process there

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, int(pid))  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        ctypes.windll.kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class TrainRunner(QObject):
    """Runs a queue of commands (dataset, then training) for one LoRA and reports on it."""

    status_changed = Signal(dict)  # status.json, or {"state": "dataset", ...} while building the dataset
    rows_changed = Signal(list)  # the metrics log's rows
    finished = Signal(str, dict)  # final state (done, paused, cancelled, failed) and the last status

    def __init__(self, output: Path, parent=None):
        super().__init__(parent)
        self.output = Path(output)
        self.paths = log_paths(self.output)
        self.run_dir = self.paths["run"]
        self.console = Path(f"{self.output.with_suffix('')}.train.log")
        self.queue: list[list[str]] = []
        self.proc: subprocess.Popen | None = None
        self.current: list[str] | None = None
        self._rows_seen = -1
        self._dataset_cancelled = False
        self.last_status: dict | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(400)
        self._timer.timeout.connect(self.poll)

    # ---- starting ------------------------------------------------------------------

    def start(self, commands: list[list[str]]) -> None:
        """Run `main.py` with each argument list in turn; the next starts when one succeeds."""
        self.queue = [list(c) for c in commands]
        self.console.parent.mkdir(parents=True, exist_ok=True)
        self.console.write_text("", encoding="utf-8")
        self._next()

    def _next(self) -> None:
        self.current = self.queue.pop(0)
        if self.current and self.current[0] == "train-lora":
            clear_training_request(self.run_dir)
            (self.run_dir / TRAINING_STATUS).unlink(missing_ok=True)  # the last run's state is not this one's
        with open(self.console, "a", encoding="utf-8") as log:
            log.write("$ main.py " + " ".join(self.current) + "\n")
            log.flush()
            flags = {"start_new_session": True} if sys.platform != "win32" else {
                "creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW}
            self.proc = subprocess.Popen([sys.executable, str(MAIN), *self.current], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         cwd=str(MAIN.parent), **flags)
        if self.current[0] == "dataset":
            self._emit({"state": "dataset", "message": "building the dataset from the photos…"})
        self._timer.start()

    def attach(self) -> bool:
        """Follow a run started earlier (the dialog was closed and opened again). True if it is running."""
        status = read_training_status(self.run_dir)
        if status is None:
            return False
        self._emit(status)
        self._rows()
        if status.get("state") in ACTIVE and pid_alive(status.get("pid")):
            self._timer.start()
            return True
        return False

    # ---- controls ------------------------------------------------------------------

    def pause(self) -> None:
        request_training(self.run_dir, "pause")

    def cancel(self) -> None:
        if self.current and self.current[0] == "dataset" and self.running():
            self.queue.clear()
            self._dataset_cancelled = True
            self.proc.terminate()  # a dataset build has nothing to keep (it is written aside, then moved)
        else:
            request_training(self.run_dir, "cancel")

    def running(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        status = read_training_status(self.run_dir) or {}
        return status.get("state") in ACTIVE and pid_alive(status.get("pid"))

    # ---- watching --------------------------------------------------------------------

    def poll(self) -> None:
        status = read_training_status(self.run_dir) if self.current is None or self.current[0] != "dataset" else None
        if status is not None:
            self._emit(status)
            self._rows()
        if self.running():
            return
        code = self.proc.returncode if self.proc is not None else 0
        self.proc = None
        if code == 0 and self.queue:
            self._next()
            return
        self._timer.stop()
        final = read_training_status(self.run_dir) or {}
        if self._dataset_cancelled:
            final = {"state": "cancelled"}
        elif self.current and self.current[0] == "dataset" or (code not in (0, None) and final.get("state") in ACTIVE):
            final = {"state": "failed", "error": self.tail() or f"exit code {code}"}
        state = final.get("state", "failed")
        if state in ACTIVE:  # gone without a word (killed)
            state, final = "failed", {**final, "state": "failed", "error": self.tail() or "the process ended"}
        if state == "failed" and not final.get("error"):
            final = {**final, "state": "failed", "error": self.tail() or f"exit code {code}"}
        self._emit(final)
        self._rows()
        self.current = None
        self.finished.emit(state, final)

    def _emit(self, status: dict) -> None:
        if status != self.last_status:
            self.last_status = status
            self.status_changed.emit(status)

    def _rows(self) -> None:
        rows = read_rows(self.paths["log"])
        if len(rows) != self._rows_seen:
            self._rows_seen = len(rows)
            self.rows_changed.emit(rows)

    def tail(self, lines: int = 12) -> str:
        try:
            text = self.console.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        useful = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("$ ")]
        errors = [ln for ln in useful if ln.startswith("error")]
        return "\n".join(errors[-3:] if errors else useful[-lines:])
