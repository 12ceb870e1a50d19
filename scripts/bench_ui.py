"""How responsive the window stays while jobs run: the longest event-loop pause per job.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/bench_ui.py [--jobs 3] [--json]

Drives the real main window with the tiny models: opens the sample room, waits for
click-select to be ready, paints a mask and stages it several times. The first job
includes loading the pipeline; the later ones are the steady state. (A benchmark,
not a test: timings live here, not in pytest.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("ROOMSTAGER_DATA", tempfile.mkdtemp(prefix="roomstager-bench-ui-"))

    import numpy as np
    import qasync
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, os.environ["ROOMSTAGER_DATA"])
    from app.engine import quiet_libraries
    quiet_libraries()
    from app.ui.application import make_app
    from app.ui.main_window import MainWindow

    app = make_app()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow(models="tiny")
    window.resize(1600, 1000)
    window.show()
    report: dict = {}

    async def wait_for(cond, timeout=120.0):
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise TimeoutError(f"timed out waiting: {cond}")
            await asyncio.sleep(0.02)

    async def scenario():
        t0 = time.perf_counter()
        window.open_paths([str(ROOT / "resources" / "sample_room.jpg")])
        await wait_for(lambda: window.doc is not None)
        report["open_s"] = round(time.perf_counter() - t0, 3)
        await wait_for(lambda: window.selection.ready)
        report["click_select_ready_s"] = round(time.perf_counter() - t0, 3)
        p = window.stage_panel
        p.model_set.setCurrentIndex(p.model_set.findData("tiny"))
        p.steps.setValue(args.steps)
        p.variations.setValue(1)
        p.use_mask.setChecked(True)
        mask = np.zeros(window.doc.mask.shape, bool)
        h, w = mask.shape
        mask[int(h * 0.62):int(h * 0.85), int(w * 0.3):int(w * 0.65)] = True
        window.doc.set_mask(mask, "Benchmark mask")
        gaps, times = [], []
        for _ in range(args.jobs):
            before = len(window.generation_gaps)
            t = time.perf_counter()
            window.actions_.stage.trigger()
            await wait_for(lambda n=before: len(window.generation_gaps) > n)
            times.append(round(time.perf_counter() - t, 3))
            gaps.append(round(window.generation_gaps[-1] * 1000, 1))
        report["job_s"] = times
        report["max_event_loop_gap_ms"] = gaps
        report["steady_state_gap_ms"] = max(gaps[1:]) if len(gaps) > 1 else None

    with loop:
        try:
            loop.run_until_complete(scenario())
        finally:
            window.unsaved_choice = lambda what: True  # a benchmark has nothing to save
            window.close()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for k, v in report.items():
            print(f"{k:28s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
