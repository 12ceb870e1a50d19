"""Helpers shared by the UI tests (imported as a plain module: conftest names collide)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def save_rgb(path: Path, rgb: np.ndarray) -> Path:
    cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))
    return path


def open_photo(qtbot, window, path, timeout=30_000):
    window.open_paths([str(path)])
    qtbot.waitUntil(lambda: window.doc is not None and window.doc.path == Path(path), timeout=timeout)
    return window.doc


def wait_job(qtbot, handle, timeout=120_000):
    qtbot.waitUntil(lambda: not handle.active, timeout=timeout)
    return handle


def wait_ready(qtbot, window, timeout=120_000):
    qtbot.waitUntil(lambda: window.selection.ready, timeout=timeout)


def setup_stage(window, steps=2, variations=2, use_mask=True):
    p = window.stage_panel
    p.model_set.setCurrentIndex(p.model_set.findData("tiny"))
    p.steps.setValue(steps)
    p.variations.setValue(variations)
    (p.use_mask if use_mask else p.use_auto).setChecked(True)
    d = window.defurnish_panel
    d.model_set.setCurrentIndex(d.model_set.findData("tiny"))
    d.steps.setValue(steps)


def paint(doc, x0=330, y0=290, x1=680, y1=480):
    m = np.zeros(doc.mask.shape, bool)
    m[y0:y1, x0:x1] = True
    doc.set_mask(m, "Test mask")
    return m


def run(qtbot, window, coro):
    task = window.spawn(coro)
    qtbot.waitUntil(task.done, timeout=60_000)
    return task.result()
