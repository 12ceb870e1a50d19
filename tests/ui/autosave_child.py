"""Child process for the crash-recovery test: opens a photo, edits the mask, waits for
the autosave, reports the mask's digest on stdout, then idles until it is killed.

usage: python autosave_child.py PHOTO
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtCore import QSettings  # noqa: E402


class IdleEngine:
    """An engine that accepts jobs and never runs them (this test is about the mask)."""

    class Job:
        def __init__(self, i):
            self.id = i

        def cancel(self):
            pass

    def submit(self, request, sink=None):
        return self.Job(1)

    def cancel(self, job_id=None):
        pass

    def shutdown(self, wait=True):
        pass


def main() -> None:
    import qasync

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, os.environ["ROOMSTAGER_TEST_SETTINGS"])
    from app.ui.application import make_app
    from app.ui.main_window import MainWindow

    app = make_app()
    loop = qasync.QEventLoop(app, already_running=True)
    asyncio.set_event_loop(loop)
    window = MainWindow(models="tiny", engine_factory=IdleEngine)
    window.show()

    def spin(cond, timeout=60.0):
        end = time.time() + timeout
        while not cond():
            app.processEvents()
            time.sleep(0.01)
            if time.time() > end:
                raise TimeoutError

    window.open_paths([sys.argv[1]])
    spin(lambda: window.doc is not None)
    doc = window.doc
    doc.begin_stroke(200, 200, 30, 1.0, False)
    doc.stroke_to(500, 260)
    doc.end_stroke()
    doc.begin_stroke(300, 400, 50, 0.4, False)
    doc.end_stroke()
    before_last = hashlib.sha256(doc.mask.tobytes()).hexdigest()
    doc.grow(7)
    window.stage_panel.prompt.setPlainText("a green velvet sofa")
    spin(lambda: doc.params.get("stage", {}).get("prompt") == "a green velvet sofa")
    window.autosaver.save_now()
    window.autosaver.wait()
    digest = hashlib.sha256(doc.mask.tobytes()).hexdigest()
    print(f"SAVED {digest} {before_last} {doc.stack.count()}", flush=True)
    while True:  # until SIGKILL
        app.processEvents()
        time.sleep(0.02)


if __name__ == "__main__":
    main()
