"""Generation jobs through the window with the tiny models: staging, de-furnishing,
results, applying a result as the new base, re-running, cancelling, queueing, and how
responsive the window stays meanwhile."""

from __future__ import annotations

import time

import numpy as np
from uihelpers import open_photo, paint, setup_stage, wait_job

from app.ui.engine_client import CANCELLED, DONE, QUEUED


def test_staging_puts_results_in_the_panel_and_on_the_canvas(qtbot, window, room_file, room):
    doc = open_photo(qtbot, window, room_file)
    setup_stage(window)
    paint(doc)
    previews = []
    window.client.job_added.connect(lambda h: h.progress.connect(
        lambda ev: previews.append((ev.step, window.canvas.preview.isVisible()))))
    handle = window.actions_.stage.trigger() or next(h for h in window.client.active_jobs() if h.kind == "stage")
    assert window.job_label.isVisible()
    wait_job(qtbot, handle)
    assert handle.state == DONE, handle.error
    assert len(doc.results) == 2
    assert window.results_panel.list.count() == 3  # working image + two variations
    shown = doc.result(window.shown_result)
    assert shown is doc.results[0]
    assert window.canvas.image._levels[0] is shown.image  # the canvas shows the result
    assert any(visible for step, visible in previews if step > 0)  # live preview over the crop
    assert not window.canvas.preview.isVisible()  # and gone when the job is done
    outside = ~shown.mask
    assert np.array_equal(shown.image[outside], room[outside])
    assert window.stage_panel.seed.spin.value() == shown.seed % (2**31)
    gap = window.generation_gaps[-1]
    print(f"\nlongest event-loop pause while a tiny staging job ran: {gap * 1000:.0f} ms")
    assert gap < 1.0
    assert "Longest pause" in window.jobs_panel.stats.text()

    # compare split and picking the other variation
    window.actions_.compare.trigger()
    assert window.canvas.image.split_x is not None and window.canvas.image._before
    window.results_panel.select(doc.results[1].id)
    assert window.shown_result == doc.results[1].id
    window.actions_.compare.trigger()
    assert window.canvas.image.split_x is None


def test_automatic_staging_area_defurnish_then_stage_chain(qtbot, window, room_file, room, room_depth):
    doc = open_photo(qtbot, window, room_file)
    setup_stage(window, variations=1, use_mask=False)
    assert window.build_stage_request().mask is None
    paint(doc)
    window.defurnish()
    handle = next(h for h in window.client.active_jobs() if h.kind == "defurnish")
    wait_job(qtbot, handle)
    assert handle.state == DONE, handle.error
    cleared = doc.results[-1]
    assert cleared.kind == "defurnish" and window.shown_result == cleared.id
    assert window.actions_.apply_result.isEnabled()
    window.actions_.apply_result.trigger()
    assert doc.base_id == cleared.id and doc.base is cleared.image
    assert window.canvas.image._levels[0] is cleared.image
    assert doc.stack.text(doc.stack.count() - 1).startswith("Apply")
    qtbot.waitUntil(lambda: window.selection.ready, timeout=60_000)  # re-embedded for the new base

    window.stage_panel.use_auto.setChecked(True)
    handle = window.stage()  # automatic staging area on the de-furnished image
    assert handle.request.mask is None and handle.request.photo is cleared.image
    wait_job(qtbot, handle)
    assert handle.state == DONE, handle.error
    staged = doc.results[-1]
    assert staged.request.photo is cleared.image

    window.undo_action.trigger()  # undo "apply": back to the original
    assert doc.base_id == "original" and np.array_equal(doc.base, room)
    window.redo_action.trigger()
    assert doc.base_id == cleared.id

    # every result keeps its request and can be re-run with its seed
    window.results_panel.select(staged.id)
    rerun = window.rerun_shown_result()
    assert rerun.request.seed == staged.seed and rerun.request.photo is cleared.image
    wait_job(qtbot, rerun)
    assert rerun.state == DONE
    assert np.array_equal(doc.results[-1].image, staged.image)


def test_cancel_mid_job_and_queued_jobs_are_listed(qtbot, window, room_file):
    doc = open_photo(qtbot, window, room_file)
    setup_stage(window, steps=40, variations=1)
    paint(doc)
    first = window.stage()
    second = window.stage()
    rows = window.jobs_panel.rows
    assert first.uid in rows and second.uid in rows
    qtbot.waitUntil(lambda: first.step >= 2, timeout=120_000)
    assert second.state == QUEUED and "queued" in rows[second.uid].status.text()
    assert "step" in rows[first.uid].status.text()
    step_time = (time.perf_counter() - first.started_at) / max(first.step, 1)
    t0 = time.perf_counter()
    rows[first.uid].cancel.click()
    wait_job(qtbot, first)
    took = time.perf_counter() - t0
    assert first.state == CANCELLED
    print(f"\ncancel took {took * 1000:.0f} ms (one step ~ {step_time * 1000:.0f} ms)")
    assert took < max(3 * step_time, 1.0) + 1.0
    qtbot.waitUntil(lambda: second.step >= 1, timeout=120_000)
    window.actions_.cancel_jobs.trigger()
    wait_job(qtbot, second)
    assert second.state == CANCELLED
    assert doc.results == []
    assert rows[first.uid].status.text() == "cancelled"
