"""Guides, settings, layout memory, recent files and the error surface."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox
from uihelpers import open_photo, paint, run, setup_stage

from app.engine import GuidesRequest, StageRequest, available_devices
from app.errors import JobCancelled, UserError
from app.ui import settings
from app.ui.messages import install_excepthook, readable


def test_guides_arrive_follow_the_thresholds_and_reach_the_request(qtbot, window, room_file):
    doc = open_photo(qtbot, window, room_file)
    panel = window.guides_panel
    assert panel._depth is None and window.guides_stale  # not computed while nobody looks
    window.show_panel("guides")
    qtbot.waitUntil(lambda: panel._depth is not None, timeout=60_000)
    assert panel._depth.shape[:2] == doc.mask.shape[:2] or max(panel._depth.shape) <= 1024
    assert "Staging area" in panel.status.text()
    edges_before = int(np.count_nonzero(panel._canny))
    panel.low.setValue(10)
    panel.high.setValue(30)
    qtbot.waitUntil(lambda: int(np.count_nonzero(panel._canny)) != edges_before, timeout=5000)
    assert np.count_nonzero(panel._canny) > edges_before  # lower thresholds, more edges, live
    panel.overlay.setCurrentIndex(panel.overlay.findData("depth"))
    assert window.canvas.guide.isVisible()
    assert abs(window.canvas.guide.scale() * panel._depth.shape[1] - doc.size[0]) < 1
    panel.overlay.setCurrentIndex(panel.overlay.findData("none"))
    assert not window.canvas.guide.isVisible()
    setup_stage(window)
    paint(doc)
    request = window.build_stage_request()
    assert (request.canny_low, request.canny_high) == (10, 30)
    assert request.mask.shape == doc.mask.shape and request.photo is doc.base
    assert request.model_set == "tiny" and request.models == "tiny"


def test_a_painted_mask_switches_staging_to_the_mask(qtbot, window, room_file):
    doc = open_photo(qtbot, window, room_file)
    assert window.stage_panel.use_auto.isChecked()
    paint(doc)
    qtbot.waitUntil(window.stage_panel.use_mask.isChecked, timeout=3000)
    window.actions_.clear.trigger()
    qtbot.waitUntil(window.stage_panel.use_auto.isChecked, timeout=3000)


def test_window_layout_and_recent_files_are_remembered(qtbot, make_window, room_file):
    first = make_window()
    open_photo(qtbot, first, room_file)
    assert settings.get("recent")[0] == str(room_file.resolve())
    first.docks["activity"].hide()
    first.close()
    second = make_window()
    assert not second.docks["activity"].isVisible() and second.docks["generate"].isVisible()
    second.recent_menu.aboutToShow.emit()
    names = [a.text() for a in second.recent_menu.actions()]
    assert room_file.name in names


def test_settings_dialog_writes_qsettings(qtbot, window):
    dialog = settings.SettingsDialog(window, available_devices())
    qtbot.addWidget(dialog)
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    dialog.stamp_text.setText("Virtually staged — not the real furniture")
    dialog.corner.setCurrentText("top-left")
    dialog.accept()
    assert settings.get("device") == "cpu"
    assert settings.get("disclosure/corner") == "top-left"
    assert window.common_request_fields()["device"] == "cpu"


def test_uncaught_errors_become_a_short_dialog_and_a_log_entry(qtbot, window, monkeypatch, tmp_path, caplog):
    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda self: shown.append(self.text()) or 0)
    old = sys.excepthook
    try:
        install_excepthook(lambda: window, tmp_path / "roomstager.log")
        try:
            raise ValueError("the frobnicator is out of range")
        except ValueError:
            with caplog.at_level(logging.ERROR):
                sys.excepthook(*sys.exc_info())
    finally:
        sys.excepthook = old
    assert shown and "Something went wrong: the frobnicator is out of range" in shown[0]
    assert "Traceback" not in shown[0] and "roomstager.log" in shown[0]
    assert "Traceback" in caplog.text  # the details go to the log
    assert readable(UserError("photo.jpg: the file is damaged")) == "photo.jpg: the file is damaged"
    assert window.isVisible()


def test_await_client_run_results_errors_and_cancel(qtbot, window, room_file, room_depth):
    doc = open_photo(qtbot, window, room_file)
    fields = window.common_request_fields("tiny")

    async def scenario():
        result = await window.client.run(GuidesRequest(photo=doc.base, **fields))
        assert result.canny.shape == doc.mask.shape
        with pytest.raises(UserError, match="unknown model set"):
            await window.client.run(GuidesRequest(photo=doc.base, **dict(fields, model_set="no-such-set")))
        handle = window.client.submit(StageRequest(photo=doc.base, mask=None, steps=30, **fields))
        handle.cancel()
        with pytest.raises(JobCancelled):
            await handle.future()
        return True

    assert run(qtbot, window, scenario()) is True


def test_fast_switch_and_auto_sampling_reach_the_requests(qtbot, window, room_file):
    doc = open_photo(qtbot, window, room_file)
    setup_stage(window)
    paint(doc)
    stage, defurnish = window.stage_panel, window.defurnish_panel
    stage.steps.setValue(0)  # "Auto": the model set's preset
    stage.guidance.setValue(stage.guidance.minimum())
    assert stage.steps.text() == "Auto" and stage.guidance.text() == "Auto"
    stage.fast.setChecked(True)
    assert not stage.steps.isEnabled() and not stage.guidance.isEnabled(), "fast mode decides steps and guidance"
    request = window.build_stage_request()
    assert request.fast and request.steps is None and request.guidance is None
    defurnish.fast.setChecked(True)
    defurnish.steps.setValue(12)
    assert defurnish.request_fields()["fast"] and defurnish.request_fields()["steps"] == 12
    saved = stage.values()
    stage.fast.setChecked(False)
    stage.set_values(saved)
    assert stage.fast.isChecked() and stage.request_fields()["steps"] is None
