"""What the window says: the status bar's "…ing" ends and its text fits, an old error goes once
something succeeds, a missing model leads to File ▸ Models (not to a command line), a photo is
read before the user is asked to save, and restored work is named by its project or photo."""

from __future__ import annotations

import shutil
import uuid

import numpy as np
from PySide6.QtWidgets import QMessageBox
from uihelpers import open_photo, paint, run, save_rgb, wait_job, wait_ready

from app.engine import MEMORY_MODES, DeviceInfo, StageRequest, available_devices
from app.ui import settings
from app.ui.autosave import autosave_root
from app.ui.panels.generation_form import auto_set_text
from app.ui.settings import SettingsDialog
from app.ui.window_feedback import desktop_text

# the message the engine gives for a model that is not installed (app.engine.models.catalog)
MISSING = ("model 'sd15-inpainting' (inpaint) is not installed in /data/models. Download it with `python main.py "
           "models download sd15-inpainting --models \"/data/models\"` (or Models > Download in the window), or "
           "import a file you already have with `python main.py models import FILE` (or Models > Import).")


def test_desktop_text_keeps_what_is_missing_and_drops_the_commands():
    text = desktop_text(MISSING)
    assert text == "model 'sd15-inpainting' (inpaint) is not installed in /data/models."
    assert desktop_text("The photo is damaged. Try another.") == "The photo is damaged. Try another."


def test_a_missing_model_offers_the_models_dialog_in_the_banner(qtbot, window, room_file, tmp_path):
    doc = open_photo(qtbot, window, room_file)
    mask = paint(doc)
    opened = []
    window.open_models_dialog = lambda: opened.append(True)
    empty = tmp_path / "no-models"
    empty.mkdir()
    handle = window.submit_generation(StageRequest(photo=doc.base, mask=mask, models=str(empty), model_set="standard",
                                                   steps=1), "Staging")
    wait_job(qtbot, handle)
    assert handle.state == "failed" and handle.missing_model
    bar = window.messages
    assert bar.isVisible() and bar.last.level == "error"
    assert "sd15-inpainting" in bar.last.text and "File ▸ Models" in bar.last.text
    assert "python main.py" not in bar.last.text and "--models" not in bar.last.text
    assert bar.action_button.isVisible() and bar.action_button.text() == "Open Models…"
    bar.action_button.click()
    assert opened == [True] and not bar.isVisible()


def test_status_bar_labels_leave_room_for_the_message(qtbot, window, room_file):
    open_photo(qtbot, window, room_file)
    wait_ready(qtbot, window)  # click-to-select has said its last word about this photo
    window.resize(1280, 800)
    window.sam_label.setText("Click-to-select is unavailable: " + desktop_text(MISSING) * 3)
    for w in (window.job_label, window.job_bar, window.job_cancel):
        w.setVisible(True)
    window.job_label.setText("Staging · Mid-century modern living room — step 12/30 (+2 queued)" * 2)
    message = "Exported living-room-stage-r12.png with the original and a manifest"
    window.statusBar().showMessage(message)
    qtbot.wait(50)
    bar = window.statusBar()
    permanent = sum(w.width() for w in (window.job_label, window.job_bar, window.job_cancel,
                                        window.pos_label, window.zoom_label) if w.isVisible())
    room_left = bar.width() - permanent - 40  # spacing between the widgets
    assert room_left >= bar.fontMetrics().horizontalAdvance(message)
    assert not window.sam_label.isVisible()  # the message covers click-to-select's state for a while ...
    bar.clearMessage()
    qtbot.waitUntil(window.sam_label.isVisible, timeout=2000)  # ... which then shows again, shortened to fit
    assert window.sam_label.toolTip().startswith("Click-to-select is unavailable")  # all of it, on hover
    assert window.sam_label.text().endswith("…") and window.sam_label.width() <= room_left + 40
    assert window.job_label.text().endswith("…") and window.job_label.width() <= 340


def test_an_old_error_goes_when_a_later_action_succeeds(qtbot, window, room_file, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a photo")
    run(qtbot, window, window.open_photo(broken))
    assert window.messages.isVisible() and window.messages.last.level == "error"
    assert window.statusBar().currentMessage() == ""  # no "Opening…" left behind
    open_photo(qtbot, window, room_file)
    assert not window.messages.isVisible()
    assert window.statusBar().currentMessage().startswith("Opened living-room.png")


def test_another_photo_is_read_before_asking_to_save(qtbot, window, room_file, room, tmp_path):
    doc = open_photo(qtbot, window, room_file)
    paint(doc)
    asked = []

    def ask(title, text, *args, **kwargs):
        asked.append(text)
        return QMessageBox.StandardButton.Discard

    window.ask = ask
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    assert run(qtbot, window, window.open_photo(broken)) is False
    assert asked == [] and window.doc is doc  # nothing asked, nothing lost
    other = save_rgb(tmp_path / "other.png", room[::-1].copy())
    assert run(qtbot, window, window.open_photo(other)) is True
    assert len(asked) == 1 and window.doc.path == other


def test_saving_before_opening_another_photo_happens_off_the_window_thread(qtbot, window, room_file, room, tmp_path):
    doc = open_photo(qtbot, window, room_file)
    paint(doc)
    target = tmp_path / "kept.rsproj"
    window.ask = lambda *a, **k: QMessageBox.StandardButton.Save
    window._project_target = lambda ask: target
    threads = []
    real = window.in_thread

    async def spy(fn, *args):
        threads.append(getattr(fn, "__name__", ""))
        return await real(fn, *args)

    window.in_thread = spy
    other = save_rgb(tmp_path / "other.png", room[::-1].copy())
    assert run(qtbot, window, window.open_photo(other)) is True
    assert target.is_file() and "write_zip" in threads


def test_restored_work_is_named_by_its_project_not_an_id(qtbot, make_window, room_file, tmp_path):
    first = make_window()
    doc = open_photo(qtbot, first, room_file)
    paint(doc)
    run(qtbot, first, first.save_project(path=tmp_path / "Smith kitchen.rsproj"))
    paint(doc, 10, 10, 60, 60)
    first.autosaver._dirty = True
    first.autosaver.save_now()
    first.autosaver.wait()
    crashed = autosave_root() / uuid.uuid4().hex[:12]  # what a killed session leaves: its folder, unlocked
    shutil.copytree(first.autosaver.folder, crashed, ignore=shutil.ignore_patterns("session.lock"))

    second = make_window()
    asked = []
    second.ask = lambda title, text, *a, **k: asked.append(text) or QMessageBox.StandardButton.Yes
    task = second.check_autosave()
    qtbot.waitUntil(task.done, timeout=60_000)
    assert task.result() is True
    assert "Smith kitchen.rsproj" in asked[0]
    said = " ".join([second.statusBar().currentMessage()] + [m.text for m in second.messages.history])
    assert "Restored your work on Smith kitchen.rsproj" in said and crashed.name not in said
    assert np.array_equal(second.doc.mask, doc.mask)


def test_settings_and_model_sets_speak_of_the_devices_this_computer_has(qtbot, window):
    devices = available_devices()  # a CPU-only machine here (and in CI)
    qtbot.waitUntil(lambda: window.devices is not None, timeout=60_000)
    assert [d.device for d in window.devices] == [d.device for d in devices]
    has_gpu = any(d.device != "cpu" for d in devices)
    assert window.stage_panel.model_set.itemText(0) == auto_set_text(has_gpu)
    if not has_gpu:
        assert "GPU" not in window.stage_panel.model_set.itemText(0)


def test_settings_offer_only_the_devices_found_and_explain_memory_modes(qtbot, window):
    cpu = DeviceInfo("cpu", "float32", "CPU", None, "full")
    settings.put("device", "cuda")  # chosen on another computer
    dialog = SettingsDialog(window, [cpu])
    qtbot.addWidget(dialog)
    offered = [dialog.device.itemData(i) for i in range(dialog.device.count())]
    assert offered == ["auto", "cpu"]
    assert "GPU" not in dialog.device.itemText(0) and dialog.device.currentData() == "auto"
    assert "not on this computer" in dialog.device_note.text()
    assert not dialog.memory.isEnabled() and "graphics cards" in dialog.memory_note.text()

    card = DeviceInfo("cuda", "float16", "NVIDIA GeForce RTX 4070", 12.0, "low")
    dialog = SettingsDialog(window, [card, cpu])
    qtbot.addWidget(dialog)
    assert [dialog.device.itemData(i) for i in range(dialog.device.count())] == ["auto", "cuda", "cpu"]
    assert "RTX 4070" in dialog.device.itemText(1) and dialog.device.currentData() == "cuda"
    assert dialog.memory.isEnabled()
    notes = set()
    for i in range(dialog.memory.count()):
        dialog.memory.setCurrentIndex(i)
        notes.add(dialog.memory_note.text())
    assert len(notes) == dialog.memory.count() and all(notes)  # each mode says what it does
    assert {dialog.memory.itemData(i) for i in range(dialog.memory.count())} == {"auto", *MEMORY_MODES}
    dialog.memory.setCurrentIndex(dialog.memory.findData("lowest"))
    dialog.accept()
    assert settings.get("device") == "cuda" and settings.get("memory_mode") == "lowest"
