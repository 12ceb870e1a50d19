"""Child process for the screenshot test: runs the real window on an X display (Xvfb),
stages the sample room with the tiny models and saves a picture of the window.

usage: python screenshot_child.py OUT.png [PHOTO]
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QPointF, QSettings  # noqa: E402


def main() -> int:
    import numpy as np
    import qasync

    settings_dir = os.environ.get("ROOMSTAGER_TEST_SETTINGS")
    if settings_dir:
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings_dir)
    from app.ui.application import make_app
    from app.ui.main_window import MainWindow

    out = Path(sys.argv[1])
    photo = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "resources" / "sample_room.jpg"
    app = make_app()
    loop = qasync.QEventLoop(app, already_running=True)
    asyncio.set_event_loop(loop)
    window = MainWindow(models="tiny")
    window.ask = lambda *a, **k: None
    window.resize(1600, 1000)
    window.show()

    def spin(cond, timeout=300.0):
        end = time.time() + timeout
        while not cond():
            app.processEvents()
            time.sleep(0.01)
            if time.time() > end:
                raise TimeoutError("screenshot child timed out")

    window.open_paths([str(photo)])
    spin(lambda: window.doc is not None)
    doc = window.doc
    w, h = doc.size
    # a sofa-sized area on the floor, painted with the brush the way a user would
    window.set_tool("brush")
    window.tool_settings.size = int(h * 0.12)
    window.tool_settings.hardness = 0.9
    doc.begin_stroke(w * 0.30, h * 0.74, window.tool_settings.size / 2, 0.9, False)
    for t in np.linspace(0, 1, 24):
        doc.stroke_to(w * (0.30 + 0.40 * t), h * (0.74 + 0.02 * np.sin(t * np.pi)))
    doc.end_stroke()
    doc.begin_stroke(w * 0.33, h * 0.83, window.tool_settings.size / 2, 0.9, False)
    doc.stroke_to(w * 0.67, h * 0.83)
    doc.end_stroke()
    doc.fill_holes()
    panel = window.stage_panel
    panel.model_set.setCurrentIndex(max(0, panel.model_set.findData("tiny")))
    panel.style.setCurrentIndex(max(0, panel.style.findData("scandinavian")))
    panel.prompt.setPlainText("a light grey linen sofa, oak coffee table, wool rug")
    panel.steps.setValue(3)
    panel.variations.setValue(3)
    panel.use_mask.setChecked(True)
    window.guides_panel.overlay.setCurrentIndex(0)
    handle = window.stage()
    spin(lambda: not handle.active)
    if handle.state != "done":
        print(f"staging failed: {handle.error}", file=sys.stderr)
        return 2
    spin(lambda: window.selection.ready, 120)
    window.set_tool("click")
    window.canvas.brush.setVisible(False)
    window.split_fraction = 0.42
    window.actions_.compare.setChecked(True)
    window.refresh_display()
    window.canvas.fit()
    window.canvas.mapFromScene(QPointF(0, 0))
    window.statusBar().showMessage("Staging · Scandinavian living room: 3 result(s)")
    for _ in range(30):
        app.processEvents()
        time.sleep(0.02)
    out.parent.mkdir(parents=True, exist_ok=True)
    shot = window.grab()
    if not shot.save(str(out)):
        return 3
    print(f"SCREENSHOT {out} {shot.width()}x{shot.height()}", flush=True)
    window.autosaver.close(keep=False)
    window.client.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
