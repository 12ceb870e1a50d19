"""File ▸ Batch… in the window: photos and a job file, thumbnails and per-photo status, the
panels' settings, cancel, resume, and a result opened in the editor."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "batch"))
from tests.batch.conftest import write_shoot  # noqa: E402


def _dialog(qtbot, window, tmp_path, count=3):
    from app.ui.batch.dialog import BatchDialog

    qtbot.waitUntil(lambda: window.client.engine is not None, timeout=60_000)
    window.stage_panel.steps.setValue(1)
    window.stage_panel.variations.setValue(1)
    window.stage_panel.seed.spin.setValue(21)
    window.stage_panel.seed.lock.setChecked(True)
    window.actions_.batch.trigger()
    dialog = window._batch_dialog
    assert isinstance(dialog, BatchDialog) and dialog.isVisible()
    jobs = write_shoot(tmp_path / "photos", count=count)
    assert dialog.set_source(str(jobs))
    dialog.use_file.setChecked(False)  # the panels decide; the job file's masks stay
    dialog.out.setText(str(tmp_path / "out"))
    dialog._check_resume()
    return dialog, jobs


def _manifest(tmp_path):
    return json.loads((tmp_path / "out" / "manifest.json").read_text())


def test_batch_dialog_runs_the_panels_settings_and_opens_a_result(qtbot, window, tmp_path):
    dialog, _ = _dialog(qtbot, window, tmp_path)
    assert dialog.list.topLevelItemCount() == 3
    qtbot.waitUntil(lambda: not dialog.list.topLevelItem(2).icon(0).isNull(), timeout=10_000)  # thumbnails
    window.stage_panel.style.setCurrentIndex(window.stage_panel.style.findData("industrial"))
    assert dialog.start()
    qtbot.waitUntil(lambda: not dialog.running, timeout=300_000)
    statuses = [dialog.list.topLevelItem(i).text(2) for i in range(3)]
    assert statuses == ["done"] * 3, (statuses, dialog.status.text())
    m = _manifest(tmp_path)
    assert {e["style"] for e in m["items"].values()} == {"industrial"} and {e["seed"] for e in m["items"].values()} == {21}
    assert dialog.report_button.isEnabled() and (tmp_path / "out" / "report.html").is_file()
    dialog.list.setCurrentItem(dialog.list.topLevelItem(1))
    qtbot.waitUntil(lambda: not dialog.list.topLevelItem(1).icon(0).isNull())
    task = dialog.open_selected()
    qtbot.waitUntil(task.done, timeout=30_000)
    assert window.doc is not None and Path(window.doc.path).name == "room01-stage.png"


def test_cancel_then_resume_finishes_without_redoing(qtbot, window, tmp_path):
    dialog, _ = _dialog(qtbot, window, tmp_path, count=3)
    assert dialog.start()
    qtbot.waitUntil(lambda: dialog.list.topLevelItem(0).text(2) == "done", timeout=300_000)
    dialog.cancel()
    qtbot.waitUntil(lambda: not dialog.running, timeout=120_000)
    m = _manifest(tmp_path)
    done = [k for k, e in m["items"].items() if e["status"] == "done"]
    assert 1 <= len(done) < 3 and "cancelled" in dialog.status.text()
    assert dialog.start_button.text() == "Resume"

    dialog.close()  # reopened later from the menu: the interrupted batch is offered again
    window.actions_.batch.trigger()
    assert window._batch_dialog is dialog and dialog.start_button.text() == "Resume"
    assert dialog.start()
    qtbot.waitUntil(lambda: not dialog.running, timeout=300_000)
    m = _manifest(tmp_path)
    assert all(e["status"] == "done" for e in m["items"].values())
    assert all(m["items"][k]["attempts"] == 1 for k in done), "finished photos were not made again"
    labels = [dialog.list.topLevelItem(i).text(2) for i in range(3)]
    assert labels.count("done earlier") == len(done)
    out = np.array(Image.open(tmp_path / "out" / "room00-stage.jpg"))
    assert out.shape == (160, 224, 3)


def test_a_report_that_cannot_be_written_is_said_and_the_results_stand(qtbot, window, tmp_path):
    dialog, _ = _dialog(qtbot, window, tmp_path, count=1)
    (tmp_path / "out" / "report.html").mkdir(parents=True)  # a folder in the page's place
    assert dialog.start()
    qtbot.waitUntil(lambda: not dialog.running, timeout=300_000)
    assert dialog.list.topLevelItem(0).text(2) == "done"
    text = dialog.status.text()
    assert "1 done" in text and "no report:" in text and "report.html" in text, text
    assert not dialog.report_button.isEnabled()
