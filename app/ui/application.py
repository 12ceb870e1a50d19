"""The application: QApplication, dark theme, logging, excepthook and the qasync loop.

`run_app(photo, models)` is what `python main.py [PHOTO] [--models tiny|DIR]` calls.
"""

from __future__ import annotations

import asyncio
import os
import sys

from PySide6.QtCore import QCoreApplication, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from app.ui import settings, wheel_guard
from app.ui.main_window import MainWindow
from app.ui.messages import install_excepthook, setup_logging
from app.ui.theme import apply_dark_theme


def make_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        QCoreApplication.setOrganizationName(settings.ORG)
        QCoreApplication.setApplicationName(settings.APP)
        app = QApplication(argv if argv is not None else sys.argv[:1])
    QCoreApplication.setOrganizationName(settings.ORG)
    QCoreApplication.setApplicationName(settings.APP)
    app.setApplicationDisplayName("RoomStager")
    apply_dark_theme(app)
    wheel_guard.install(app)
    return app


def run_app(photo: str | None = None, models: str | None = None) -> int:
    """Open the main window (optionally with a photo) and run until it closes."""
    # heavy: loaded on first use, not when the app starts
    import qasync

    app = make_app()
    log_file = settings.data_dir() / "roomstager.log"
    setup_logging(log_file)
    window_ref: list = []
    install_excepthook(lambda: window_ref[0] if window_ref else None, log_file)

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow(models=models)
    window_ref.append(window)
    window.show()

    def start() -> None:
        restoring = window.check_autosave()
        if photo and restoring is None:
            window.open_paths([photo])
        elif photo:
            window.messages.show_message(f"Restored your previous work instead of opening {os.path.basename(photo)}.")

    QTimer.singleShot(0, start)
    app.lastWindowClosed.connect(app.quit)
    with loop:
        code = loop.run_forever()
    return int(code or 0)
