"""What the canvas and the panels show while working: the live preview inside the edit region with
the crop box outlined, the mask on the "before" half only in compare mode, an object hint that
never moves the buttons, results tiles that keep their size and whole captions, and an autosave
that never mixes up two documents' results."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtWidgets import QPushButton
from uihelpers import open_photo, paint, save_rgb, setup_stage, wait_job

from app.engine import GenerationResult, StageRequest
from app.ui.panels.results_panel import THUMB


def add_result(doc, image, seed=1):
    mask = doc.mask_bool()
    request = StageRequest(photo=doc.base, mask=mask if mask.any() else None)
    return doc.add_results("stage", GenerationResult(images=[image], seeds=[seed], request=request, mask=mask))[0]


def test_live_preview_shows_inside_the_edit_region_with_the_crop_box_outlined(qtbot, window, room_file):
    doc = open_photo(qtbot, window, room_file)
    setup_stage(window, variations=1, steps=3)
    mask = paint(doc, 330, 290, 480, 480)
    seen = []

    def look(ev, handle):
        preview = window.canvas.preview
        if ev.preview is not None and preview.isVisible():
            seen.append((preview.rgba.copy(), preview.outline.rect(), preview.outline.isVisible(), ev.box, ev.region))

    handle = window.stage()
    handle.progress.connect(lambda ev: look(ev, handle))
    wait_job(qtbot, handle)
    assert handle.state == "done", handle.error
    assert seen, "no preview was shown"
    rgba, rect, outlined, box, region = seen[-1]
    x0, y0, x1, y1 = box
    assert outlined and (rect.x(), rect.y(), rect.width(), rect.height()) == (x0, y0, x1 - x0, y1 - y0)
    assert region is not None and mask[y0:y1, x0:x1].any()
    h, w = rgba.shape[:2]
    coverage = cv2.resize(region.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    alpha = rgba[..., 3]
    outside, inside = coverage == 0, coverage == 1
    assert outside.any() and inside.any()
    assert alpha[outside].max() == 0  # the photo shows there, not the model's picture
    assert alpha[inside].min() == 255
    assert not window.canvas.preview.isVisible() and not window.canvas.preview.outline.isVisible()


def test_compare_shows_the_mask_on_the_before_half_only(qtbot, window, room_file, room):
    doc = open_photo(qtbot, window, room_file)
    paint(doc)
    result = add_result(doc, room[::-1].copy())
    window.results_panel.refresh(select=result.id)
    assert window.shown_result == result.id
    assert window.canvas.mask.right_edge is None  # not comparing: the mask shows everywhere
    window.actions_.compare.setChecked(True)
    split = window.canvas.image.split_x
    assert split is not None and window.canvas.mask.right_edge == split
    window.canvas.image.set_split(split / 2)
    window.canvas.split_moved.emit(0.25)  # the user drags the line
    assert window.canvas.mask.right_edge == window.canvas.image.split_x
    window.actions_.compare.setChecked(False)
    assert window.canvas.mask.right_edge is None


def test_the_object_hint_keeps_its_height_so_the_buttons_stay_put(qtbot, window, room_file):
    doc = open_photo(qtbot, window, room_file)
    window.show_panel("selection")
    panel = window.mask_panel
    add = next(b for b in panel.findChildren(QPushButton) if b.text() == "Add")
    qtbot.waitUntil(add.isVisible, timeout=5000)
    where = add.mapTo(panel, add.rect().topLeft()).y()
    for points, box, score, ready in ((1, False, None, False), (3, True, 0.93, True), (12, True, 0.5, False),
                                      (0, False, None, True)):
        panel.show_object(points, box, score, ready)
        qtbot.wait(20)
        assert add.mapTo(panel, add.rect().topLeft()).y() == where
        assert "\n" not in panel.object_info.text()
    assert doc is window.doc


def test_a_tiny_photo_gets_a_full_tile_and_captions_are_whole(qtbot, window, tmp_path):
    tiny = np.zeros((5, 7, 3), np.uint8)
    tiny[:, :4] = (200, 40, 40)
    path = save_rgb(tmp_path / "tiny.png", tiny)
    doc = open_photo(qtbot, window, path)
    entry = add_result(doc, tiny[:, ::-1].copy(), seed=4294967295)
    window.results_panel.refresh(select=entry.id)
    listing = window.results_panel.list
    for row in range(listing.count()):
        item = listing.item(row)
        icon = item.icon().pixmap(THUMB)
        assert (icon.width(), icon.height()) == (THUMB.width(), THUMB.height())
        rect = listing.visualItemRect(item)
        assert rect.height() >= THUMB.height() + 2 * listing.fontMetrics().lineSpacing()
        for line in item.text().split("\n"):
            assert listing.fontMetrics().horizontalAdvance(line) <= listing.gridSize().width()
    caption = listing.item(1).text()
    assert "seed 4294967295" in caption
    bar = listing.horizontalScrollBar().sizeHint().height()
    assert listing.height() - bar >= listing.gridSize().height()  # the scroll bar covers no caption


def test_autosave_of_a_second_photo_never_keeps_the_first_photos_results(qtbot, window, room_file, room, tmp_path):
    doc = open_photo(qtbot, window, room_file)
    add_result(doc, np.full_like(room, 10))
    window.autosaver.save_now()
    window.autosaver.wait()
    other = save_rgb(tmp_path / "other.png", room[::-1].copy())
    doc = open_photo(qtbot, window, other)
    second = add_result(doc, np.full_like(room, 200))
    assert second.id == "r1"
    window.autosaver._dirty = True
    window.autosaver.save_now()
    window.autosaver.wait()
    kept = cv2.imread(str(window.autosaver.folder / "results" / "r1.png"))
    assert kept is not None and int(kept.mean()) == 200
