"""Export: pixels outside the edit equal the original's, the disclosure label, the
unaltered original beside it with a manifest, and never a write over the original."""

from __future__ import annotations

import json

import numpy as np
from uihelpers import open_photo, paint, run, setup_stage, wait_job

from app.imaging.io import read_photo
from app.ui.export_dialog import ExportDialog, ExportOptions


def staged(qtbot, window, room_file):
    doc = open_photo(qtbot, window, room_file)
    setup_stage(window, variations=1)
    paint(doc)
    handle = window.stage()
    wait_job(qtbot, handle)
    assert handle.state == "done", handle.error
    return doc, doc.results[-1]


def test_export_keeps_pixels_outside_the_mask_and_links_the_original(qtbot, window, room_file, room, tmp_path):
    doc, result = staged(qtbot, window, room_file)
    out = tmp_path / "out" / "staged.png"
    exported = run(qtbot, window, window.export_to(ExportOptions(path=out, stamp=False, save_original=True)))
    assert exported.image == out and out.is_file()
    pixels = read_photo(out).pixels
    assert np.array_equal(pixels, result.image)
    outside = ~result.mask
    assert np.array_equal(pixels[outside], room[outside])
    assert exported.original.read_bytes() == room_file.read_bytes()  # the unaltered original, byte for byte
    manifest = json.loads(exported.manifest.read_text())
    assert manifest["altered"]["file"] == "staged.png" and manifest["original"]["file"] == exported.original.name
    assert manifest["request"]["seed"] == result.seed and manifest["request"]["kind"] == "stage"
    assert manifest["commercial_use"] is True and "license_warning" not in manifest
    assert {m["model"] for m in manifest["models"]} >= {"tiny-sd15-inpainting", "tiny-sd15-controlnet-depth"}
    sidecar = json.loads((out.parent / "staged.png.json").read_text())
    assert sidecar["request"]["style"] == result.request.style


def test_export_with_the_disclosure_label_changes_only_its_corner(qtbot, window, room_file, room, tmp_path):
    doc, result = staged(qtbot, window, room_file)
    out = tmp_path / "labelled.png"
    run(qtbot, window, window.export_to(ExportOptions(path=out, stamp=True, save_original=False)))
    pixels = read_photo(out).pixels
    changed = np.any(pixels != result.image, axis=2)
    ys, xs = np.nonzero(changed)
    h, w = changed.shape
    assert changed.any() and xs.min() > w * 0.5 and ys.min() > h * 0.8  # bottom-right label only
    assert not (tmp_path / "labelled-original.png").exists()


def test_export_refuses_to_write_over_the_original(qtbot, window, room_file):
    doc, _ = staged(qtbot, window, room_file)
    before = room_file.read_bytes()
    run(qtbot, window, window.export_to(ExportOptions(path=room_file, stamp=False)))
    assert window.messages.last.level == "error" and "original" in window.messages.last.text
    assert room_file.read_bytes() == before


def test_export_dialog_defaults_to_the_label_and_previews_a_thumbnail(qtbot, window, room_file, tmp_path):
    doc = open_photo(qtbot, window, room_file)
    dialog = ExportDialog(doc.base, tmp_path / "x.jpg", window)
    qtbot.addWidget(dialog)
    opts = dialog.options()
    assert opts.stamp and opts.stamp_text == "Virtually staged" and opts.save_original
    assert dialog.preview.pixmap().width() == 400
    dialog.format.setCurrentIndex(dialog.format.findData("png"))
    assert dialog.options().path.suffix == ".png"
    assert not dialog.quality.isEnabled()


def test_manifest_flags_a_non_commercial_model():
    from app.ui.export_dialog import licence_record

    record = licence_record([{"model": "flux1-fill-dev", "license": "flux-1-dev-non-commercial-license",
                              "commercial_use": False}, {"model": "sam-vit-b", "license": "apache-2.0",
                                                         "commercial_use": True}])
    assert record["commercial_use"] is False and "flux1-fill-dev" in record["license_warning"]
    assert licence_record(None) == {}
