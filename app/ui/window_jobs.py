"""Generation jobs, results and guides (a MainWindow mixin).

Staging and de-furnishing requests are built from the panels and the document,
submitted through the engine client, followed with progress (status bar, Jobs
panel, a live preview over the edited area) and land in the Results panel and on
the canvas. While a generation runs, a heartbeat measures the longest pause of the
event loop, which is shown in the Jobs panel.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.engine import (
    DefurnishRequest,
    GenerationResult,
    GuidesRequest,
    JobKind,
    Progress,
    StageRequest,
    available_devices,
)
from app.ui.canvas.layers import pyramid
from app.ui.engine_client import JobHandle
from app.ui.models_dialog import ModelsDialog
from app.ui.panels.auto_mask_panel import AutoMaskPanel
from app.ui.panels.generation_form import AUTO_SET, auto_set_text, fill_loras, fill_model_sets
from app.ui.panels.models_panel import list_loras, list_sets, models_root
from app.ui.train.dialog import TrainDialog
from app.ui.window_feedback import desktop_text

log = logging.getLogger(__name__)
ASYNC_PYRAMID_PIXELS = 8_000_000 * 3  # results bigger than ~8 MP get their display levels built off-thread


def make_auto_panel():
    """The automatic-masks panel wrapped with panel margins."""
    panel = AutoMaskPanel()
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(10, 8, 10, 10)
    hint = QLabel("Find furniture, the floor or the room's structure automatically. The selection shows in "
                  "blue: Enter adds it to the mask, Shift+Enter subtracts it.")
    hint.setWordWrap(True)
    hint.setObjectName("Hint")
    layout.addWidget(hint)
    layout.addWidget(panel, 1)
    box.panel = panel
    return box


class JobsMixin:
    def connect_jobs(self) -> None:
        a = self.actions_
        a.stage.triggered.connect(self.stage)
        a.defurnish.triggered.connect(self.defurnish)
        a.cancel_jobs.triggered.connect(lambda: self.client.cancel(None))
        a.apply_result.triggered.connect(self.apply_shown_result)
        a.rerun.triggered.connect(self.rerun_shown_result)
        self.results_panel.shown.connect(self.show_result)
        self.results_panel.use_settings.connect(self.use_result_settings)
        self.stage_panel.changed.connect(lambda: self._store_params("stage", self.stage_panel.values()))
        self.defurnish_panel.changed.connect(lambda: self._store_params("defurnish", self.defurnish_panel.values()))
        self.defurnish_panel.margin_preview.connect(lambda *_: self._update_margin())
        self.guides_panel.refresh_requested.connect(self.request_guides)
        dock, tabs = self.panel_tabs["guides"]
        dock.visibilityChanged.connect(lambda _v: self.maybe_request_guides())
        if tabs is not None:
            tabs.currentChanged.connect(lambda _i: self.maybe_request_guides())
        self.guides_panel.overlay_changed.connect(self._guide_overlay)
        self.models_panel.refresh_button.clicked.connect(self._refresh_models)
        self.selection.ready_changed.connect(lambda ready: ready and self._refresh_models())
        self.models_panel.manage_button.clicked.connect(self.open_models_dialog)
        self.client.job_added.connect(self._jobs_changed)
        self.client.job_changed.connect(self._jobs_changed)
        self.client.job_ended.connect(self._jobs_changed)
        self.client.ready.connect(lambda: self.spawn(self.known_devices()))
        self.client.engine_failed.connect(lambda msg: self.messages.show_message(
            f"The engine could not start: {msg}", "error"))
        self.autosaver.failed.connect(lambda msg: self.messages.show_message(
            f"Autosave failed ({msg}): save the project with File ▸ Save to keep your work safe.", "warning"))
        self.heartbeat.stall.connect(lambda s: log.info("event loop paused %.0f ms", s * 1000))
        auto = self.auto_panel.panel
        auto.requested.connect(self._auto_requested)
        auto.mask_changed.connect(lambda mask: self.doc is not None and self.doc.set_candidate(mask))
        auto.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.generation_gaps: list[float] = []  # longest event-loop pause per generation run (s)
        self._guides_job: JobHandle | None = None

    def generation_panel(self, kind: JobKind):
        return {JobKind.STAGE: self.stage_panel, JobKind.REPAINT: self.repaint_panel}.get(kind, self.defurnish_panel)

    def _store_params(self, section: str, values: dict) -> None:
        if self.doc is not None:
            self.doc.set_params(section, values)

    def _refresh_models(self) -> None:
        sets, where = list_sets(self.models)
        self.models_panel.show_sets(sets, where)
        auto = auto_set_text(any(d.device != "cpu" for d in self.devices)) if self.devices is not None else AUTO_SET
        fill_model_sets(self.stage_panel.model_set, sets, auto)
        fill_model_sets(self.defurnish_panel.model_set, sets, auto)
        fill_model_sets(self.repaint_panel.model_set, sets, auto)
        loras = list_loras(self.models)
        fill_loras(self.stage_panel.lora.combo, loras)
        fill_loras(self.defurnish_panel.lora.combo, loras)

    devices: list | None = None  # app.engine.available_devices(), once known

    async def known_devices(self) -> list:
        """The devices jobs can run on here (looked up once, off the window's thread)."""
        if self.devices is None:
            self.devices = await self.in_thread(available_devices)
            self._refresh_models()
        return self.devices

    def open_models_dialog(self) -> None:
        dialog = ModelsDialog(self, models_root(self.models))
        dialog.exec()
        self._refresh_models()

    def open_train_dialog(self):
        """Tools > Train a LoRA: one dialog, kept (not modal), so a run can be watched while working."""
        dialog = getattr(self, "train_dialog", None)
        if dialog is None:
            dialog = self.train_dialog = TrainDialog(self, self.models)
            dialog.use_lora.connect(self.use_trained_lora)
        dialog.show()
        dialog.raise_()
        return dialog

    def use_trained_lora(self, name: str, task: str) -> None:
        """Select a freshly trained LoRA in its task's panel and show that panel."""
        self._refresh_models()
        panel = self.defurnish_panel if task == "defurnish" else self.stage_panel
        panel.lora.select(name)
        self.show_panel("defurnish" if task == "defurnish" else "stage")

    # ---- building requests ------------------------------------------------------------

    def build_stage_request(self) -> StageRequest | None:
        doc = self.doc
        if doc is None:
            return None
        panel = self.stage_panel
        use_mask = panel.use_mask.isChecked()
        if use_mask and not doc.has_mask():
            self.messages.show_message("The mask is empty. Select where the furniture goes, or choose "
                                       "'Automatic staging area' in the Stage panel.", "warning")
            return None
        lo, hi = self.guides_panel.thresholds()
        common = self.common_request_fields(panel.model_set.currentData())
        return StageRequest(photo=doc.base, mask=doc.mask_bool() if use_mask else None, canny_low=lo,
                               canny_high=hi, **common, **panel.request_fields())

    def build_defurnish_request(self) -> DefurnishRequest | None:
        doc = self.doc
        if doc is None:
            return None
        if not doc.has_mask():
            self.messages.show_message("The mask is empty. Select the furniture to remove first "
                                       "(click it with the Click tool, or paint it with the brush).", "warning")
            return None
        panel = self.defurnish_panel
        lo, hi = self.guides_panel.thresholds()
        common = self.common_request_fields(panel.model_set.currentData())
        return DefurnishRequest(photo=doc.base, mask=doc.mask_bool(), canny_low=lo, canny_high=hi,
                                   **common, **panel.request_fields())

    def stage(self) -> JobHandle | None:
        request = self.build_stage_request()
        if request is None:
            return None
        style = self.stage_panel.style.currentText()
        room = self.stage_panel.room.currentText()
        return self.submit_generation(request, f"Staging · {style} {room.lower()}")

    def defurnish(self) -> JobHandle | None:
        request = self.build_defurnish_request()
        return None if request is None else self.submit_generation(request, "De-furnishing")

    # ---- running them --------------------------------------------------------------------

    def submit_generation(self, request, label: str) -> JobHandle:
        doc = self.doc
        handle = self.client.submit(request, label)
        handle.started.connect(self._generation_started)
        handle.progress.connect(lambda ev, h=handle: self._on_progress(h, ev))
        handle.finished.connect(lambda result, h=handle, d=doc: self._on_generated(h, d, result))
        handle.failed.connect(lambda msg, _user, h=handle: self.report_failure(f"{h.label} failed: {msg}",
                                                                               h.missing_model))
        handle.cancelled.connect(lambda h=handle: self.statusBar().showMessage(f"{h.label} cancelled", 4000))
        handle.ended.connect(lambda h=handle: self._generation_ended(h))
        self.show_panel("jobs")
        return handle

    def _on_progress(self, handle: JobHandle, ev: Progress) -> None:
        # the engine sends a preview with the crop box it sits in and the region it repaints
        if ev.preview is not None and ev.box is not None and self.doc is not None and handle.request.photo is self.doc.base:
            self.canvas.set_preview(ev.preview, tuple(ev.box), ev.region)

    def _on_generated(self, handle: JobHandle, doc, result: GenerationResult) -> None:
        if doc is not self.doc or doc is None:  # the photo was closed meanwhile: say where the result went
            self.messages.show_message(f"{handle.label} finished after its photo was closed, so its result was "
                                       "not kept. Open the photo again and re-run the job to get it.")
            return
        if result.images and result.images[0].size > ASYNC_PYRAMID_PIXELS:
            self.spawn(self._show_big_results(handle, doc, result))
            return
        self._add_results(handle, doc, result)

    async def _show_big_results(self, handle, doc, result) -> None:
        await self.in_thread(lambda: [pyramid(image) for image in result.images])
        if doc is self.doc:
            self._add_results(handle, doc, result)

    def _add_results(self, handle: JobHandle, doc, result: GenerationResult) -> None:
        entries = doc.add_results(handle.kind, result, handle.label)
        if handle.kind == JobKind.REPAINT:
            self.split_repaint_entries(entries, result)
        panel = self.generation_panel(handle.kind)
        if result.seeds:
            panel.seed.show_used(result.seeds[0])
        self.results_panel.refresh(select=entries[0].id if entries else None)
        self.show_panel("results")
        total = result.timings.get("total_s")
        took = f" in {total:.1f} s" if isinstance(total, (int, float)) else ""
        self.report_done(f"{handle.label}: {len(entries)} result(s){took}")

    def _generation_started(self) -> None:
        """Measure from when the engine starts the job: time spent queued is not time running."""
        if not self.heartbeat.running:
            self.heartbeat.reset()
            self.heartbeat.start()

    def _generation_ended(self, handle: JobHandle) -> None:
        if not any(h.kind.generates for h in self.client.active_jobs()):
            self.canvas.set_preview(None, None)
            if self.heartbeat.running:
                self.heartbeat.stop()
                gap = self.heartbeat.max_gap
                self.generation_gaps.append(gap)
                self.jobs_panel.show_stats(f"Longest pause of the window during the last run: {gap * 1000:.0f} ms")

    def _jobs_changed(self, _handle=None) -> None:
        active = [h for h in self.client.active_jobs() if h.kind.generates]
        running = next((h for h in active if h.state == "running"), None) or (active[0] if active else None)
        for w in (self.job_label, self.job_bar, self.job_cancel):
            w.setVisible(running is not None)
        self.actions_.cancel_jobs.setEnabled(bool(self.client.active_jobs()))
        if running is None:
            return
        queued = len(active) - 1
        text = running.label
        if running.total > 0:
            self.job_bar.setRange(0, running.total)
            self.job_bar.setValue(running.step)
            text += f" — step {running.step}/{running.total}"
        else:
            self.job_bar.setRange(0, 0)
        if queued:
            text += f" (+{queued} queued)"
        self.job_label.setText(text)

    # ---- results ---------------------------------------------------------------------------

    def apply_shown_result(self) -> bool:
        doc = self.doc
        if doc is None or not self.shown_result:
            return False
        rid = self.shown_result
        if not doc.apply_result(rid):
            return False
        self.shown_result = None
        self.actions_.compare.setChecked(False)
        self.results_panel.refresh(select=None)
        self.messages.show_message(f"Result {rid} is now the working image: new jobs start from it. "
                                   "Undo (Ctrl+Z) goes back.")
        return True

    def rerun_shown_result(self) -> JobHandle | None:
        doc = self.doc
        entry = doc.result(self.shown_result) if doc is not None and self.shown_result else None
        if entry is None:
            return None
        request = dataclasses.replace(entry.request, seed=entry.seed, variations=1)
        return self.submit_generation(request, f"Re-run of {entry.id}")

    def use_result_settings(self, result_id: str) -> None:
        entry = self.doc.result(result_id) if self.doc else None
        if entry is None:
            return
        req = entry.request
        panel = self.generation_panel(entry.kind)
        values = panel.values()
        values.update({k: getattr(req, k) for k in ("prompt", "steps", "guidance", "strength") if hasattr(req, k)})
        values.update(seed=entry.seed, seed_locked=True, model_set=req.model_set)
        if entry.kind == JobKind.STAGE:
            values.update(style=req.style, room=req.room, avoid=list(req.avoid), negative=req.negative)
        elif entry.kind == JobKind.REPAINT:
            target = req.region if req.mode == "region" else req.mode
            values.update(target=target, prompts=list(req.prompts), negative=req.negative, blur=req.blur_px,
                          noise_background=req.noise_background)
        else:
            values.update(margin=req.margin_px, prefill=req.prefill)
        panel.set_values(values)
        self._store_params(entry.kind, panel.values())
        self.show_panel(entry.kind)

    # ---- automatic masks -----------------------------------------------------------------------

    def _auto_requested(self, target: str, options: dict) -> None:
        doc, auto = self.doc, self.auto_panel.panel
        if doc is None:
            auto.set_failed("Open a photo first.")
            return
        request = auto.build_request(doc.base, target, options, **self.common_request_fields())
        auto.set_busy(True)
        job = self.client.submit(request, f"Finding the {target}")

        def done(result, d=doc):
            auto.set_busy(False)
            if d is self.doc:
                auto.set_result(result)

        def failed(message, _user):
            auto.set_busy(False)
            auto.set_failed(desktop_text(message))
            if job.missing_model:
                self.report_failure(f"Finding the {target} failed: {message}", True)

        job.finished.connect(done)
        job.failed.connect(failed)
        job.cancelled.connect(lambda: auto.set_busy(False))

    # ---- guides ------------------------------------------------------------------------------

    guides_stale = False

    def maybe_request_guides(self) -> None:
        """Guides are computed when their panel is in view: depth on a big photo takes seconds, and
        the engine's single worker would make the first clicks wait behind it."""
        if self.guides_stale and self.doc is not None and self.guides_panel.isVisible():
            self.request_guides()

    def request_guides(self) -> None:
        doc = self.doc
        if doc is None:
            return
        self.guides_stale = False
        if self._guides_job is not None and self._guides_job.active:
            self._guides_job.cancel()
        lo, hi = self.guides_panel.thresholds()
        job = self.client.submit(GuidesRequest(photo=doc.base, canny_low=lo, canny_high=hi,
                                                  **self.common_request_fields()))
        self._guides_job = job
        job.finished.connect(lambda result, j=job: j is self._guides_job and self.guides_panel.set_guides(result))
        job.failed.connect(lambda msg, _u, j=job: j is self._guides_job and self.guides_panel.set_failed(msg))

    def _guide_overlay(self, image: np.ndarray | None, scale: float, opacity: float, additive: bool) -> None:
        layer = self.canvas.guide
        layer.composition = (QPainter.CompositionMode.CompositionMode_Screen if additive
                             else QPainter.CompositionMode.CompositionMode_SourceOver)
        if image is None:
            layer.setVisible(False)
            layer.set_image(None)
            return
        layer.set_image(image)
        layer.setScale(scale)
        layer.setOpacity(opacity)
        layer.setVisible(True)
