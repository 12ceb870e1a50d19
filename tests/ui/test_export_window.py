"""Export from the window: one manifest per export, the status bar after it, the dialog's folder,
format and quality, and a record that names the real chain after "Apply as base"."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
from uihelpers import open_photo, paint, run, setup_stage, wait_job

from app.engine import array_digest
from app.imaging.io import read_metadata, read_photo
from app.ui import settings
from app.ui.export_dialog import ExportDialog, ExportOptions


def stage_once(qtbot, window):
    handle = window.stage()
    wait_job(qtbot, handle)
    assert handle.state == "done", handle.error
    return window.doc.results[-1]


def test_each_export_keeps_its_own_manifest_and_the_status_bar_says_it_is_done(qtbot, window, room_file, tmp_path):
    doc = open_photo(qtbot, window, room_file)
    setup_stage(window, variations=1)
    paint(doc)
    result = stage_once(qtbot, window)
    first = run(qtbot, window, window.export_to(ExportOptions(path=tmp_path / "staged.png", stamp=False)))
    assert window.statusBar().currentMessage().startswith("Exported staged.png")  # not "Exporting…"
    assert window.messages.action_button.text() == "Open folder"
    manifest_one = first.manifest.read_text()
    second = run(qtbot, window, window.export_to(ExportOptions(path=tmp_path / "staged.png", stamp=False)))
    third = run(qtbot, window, window.export_to(ExportOptions(path=tmp_path / "staged.jpg", stamp=False)))
    images = [first.image, second.image, third.image]
    manifests = [first.manifest, second.manifest, third.manifest]
    assert len(set(images)) == 3 and len(set(manifests)) == 3  # nothing written over
    assert first.manifest.read_text() == manifest_one
    for image, manifest in zip(images, manifests, strict=True):
        data = json.loads(manifest.read_text())
        assert data["altered"]["file"] == image.name
        assert data["original"]["sha256"] == json.loads(manifests[0].read_text())["original"]["sha256"]
    assert np.array_equal(read_photo(first.image).pixels, result.image)


def test_a_name_and_a_format_never_disagree(qtbot, window, room_file, tmp_path):
    doc = open_photo(qtbot, window, room_file)
    dialog = ExportDialog(doc.base, tmp_path / "room.jpg", window)
    qtbot.addWidget(dialog)
    dialog.format.setCurrentIndex(dialog.format.findData("png"))
    assert dialog.path.text().endswith("room.png") and not dialog.quality.isEnabled()
    assert "every pixel outside the edit stays" in dialog.note.text()
    dialog.format.setCurrentIndex(dialog.format.findData("tif"))
    assert not dialog.quality.isEnabled() and "lossless" in dialog.note.text()
    dialog.format.setCurrentIndex(dialog.format.findData("jpg"))
    assert dialog.quality.isEnabled() and "re-encodes the whole photo" in dialog.note.text()
    dialog.format.setCurrentIndex(dialog.format.findData("png"))
    dialog.path.setText(str(tmp_path / "typed.jpg"))  # typed by hand while PNG is chosen
    opts = dialog.options()
    assert opts.path.suffix == ".jpg" and opts.format == "jpg" and dialog.format.currentData() == "jpg"
    dialog.path.setText(str(tmp_path / "no-suffix"))
    assert dialog.options().path.name == "no-suffix.jpg"
    out = run(qtbot, window, window.export_to(ExportOptions(path=tmp_path / "x.jpg", format="png", stamp=False)))
    assert out is None and not (tmp_path / "x.jpg").exists()  # refused, not JPEG under a PNG choice
    assert window.messages.last.level == "error" and "x.jpg" in window.messages.last.text


def test_the_dialog_starts_in_the_last_export_folder(qtbot, window, room_file, tmp_path):
    open_photo(qtbot, window, room_file)
    elsewhere = tmp_path / "listing photos"
    elsewhere.mkdir()
    dialogs = []
    ExportDialog.exec = lambda self: dialogs.append(self) or 0  # look at it, do not run it
    try:
        window._export_dialog()
        assert Path(dialogs[-1].path.text()).parent == room_file.parent
        dialogs[-1].path.setText(str(elsewhere / "a.jpg"))
        dialogs[-1].accept()
        assert settings.get("export/folder") == str(elsewhere)
        window._export_dialog()
        assert Path(dialogs[-1].path.text()).parent == elsewhere
    finally:
        del ExportDialog.exec


def test_replacing_an_earlier_export_is_asked_first(qtbot, window, room_file, tmp_path):
    doc = open_photo(qtbot, window, room_file)
    (tmp_path / "done.png").write_bytes(b"an earlier export")
    dialog = ExportDialog(doc.base, tmp_path / "done.png", window)
    qtbot.addWidget(dialog)
    dialog.confirm_replace = lambda path: False
    dialog.accept()
    assert dialog.options().replace is False  # kept: the export takes a free name
    dialog.confirm_replace = lambda path: True
    dialog.accept()
    assert dialog.options().replace is True


def test_after_apply_as_base_the_record_names_the_chain_that_reproduces_it(qtbot, window, room_file, tmp_path,
                                                                           engine):
    doc = open_photo(qtbot, window, room_file)
    setup_stage(window, variations=1)
    paint(doc)
    first = stage_once(qtbot, window)
    window.show_result(first.id)
    assert window.apply_shown_result() and doc.base_id == first.id
    second = stage_once(qtbot, window)
    window.show_result(second.id)
    out = run(qtbot, window, window.export_to(ExportOptions(path=tmp_path / "chained.png", stamp=False)))
    record = read_metadata(out.image)["request"]
    sidecar = json.loads(Path(f"{out.image}.json").read_text())["request"]
    manifest = json.loads(out.manifest.read_text())["request"]
    assert record == sidecar == manifest
    made_from = record["input"]
    assert made_from["image"] == "result" and made_from["id"] == first.id
    assert made_from["sha256"] == array_digest(first.image)
    assert made_from["made_by"]["seed"] == first.seed
    assert made_from["made_by"]["input"] == {"image": "original", "sha256": array_digest(doc.original),
                                             "file": str(room_file)}
    # the chain run again from the photo with the recorded seeds gives the same pixels
    again = engine.run(dataclasses.replace(first.request, photo=doc.original, seed=made_from["made_by"]["seed"]))
    assert array_digest(again.images[0]) == made_from["sha256"]
    final = engine.run(dataclasses.replace(second.request, photo=again.images[0], seed=record["seed"]))
    assert np.array_equal(final.images[0], second.image)
