"""UI test set-up: offscreen Qt, settings and autosaves in temporary folders, a qasync
loop that pytest-qt's waits drive, and windows that share the session's tiny engine."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_UI_DIR = Path(tempfile.mkdtemp(prefix="roomstager-ui-tests-"))
os.environ["ROOMSTAGER_DATA"] = str(_UI_DIR / "data")

import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402
from uihelpers import save_rgb  # noqa: E402

QSettings.setDefaultFormat(QSettings.Format.IniFormat)
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(_UI_DIR / "settings"))


class SharedEngine:
    """The session's engine, lent to one window: its shutdown only cancels that window's jobs."""

    def __init__(self, engine):
        self._engine = engine
        self._jobs = []

    def submit(self, request, sink=None):
        job = self._engine.submit(request, sink)
        self._jobs.append(job)
        return job

    def cancel(self, job_id=None):
        self._engine.cancel(job_id)

    def pending(self):
        return self._engine.pending()

    def shutdown(self, wait=True):
        for job in self._jobs:
            job.cancel()
        if wait:
            for job in self._jobs:
                try:
                    job.future.exception(timeout=60)
                except Exception:  # noqa: BLE001 - cancelled or failed: either way it is over
                    pass


@pytest.fixture(scope="session")
def qt_loop(qapp):
    import qasync

    from app.ui.application import make_app

    make_app()
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop


@pytest.fixture(autouse=True)
def clean_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("ROOMSTAGER_DATA", str(tmp_path / "data"))
    QSettings("RoomStager", "RoomStager").clear()
    yield
    QSettings("RoomStager", "RoomStager").clear()


@pytest.fixture
def room_file(tmp_path, room) -> Path:
    return save_rgb(tmp_path / "living-room.png", room)


def discard_answer(*_args, **_kwargs):
    return QMessageBox.StandardButton.Discard


@pytest.fixture
def make_window(qtbot, qt_loop, engine):
    """make_window() -> a shown MainWindow on the shared tiny engine (closed at teardown)."""
    from app.ui.main_window import MainWindow

    windows = []

    def make(**kwargs):
        w = MainWindow(models="tiny", engine_factory=lambda: SharedEngine(engine), **kwargs)
        w.ask = discard_answer
        qtbot.addWidget(w)
        w.show()
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.ask = discard_answer
        w.close()


@pytest.fixture
def window(make_window):
    return make_window()
