"""Click-to-select: the SAM embedding is computed the moment a photo (or a new base
image) is shown; each click then asks for the mask of the current object with all
of its points. At most one segment job is in flight; clicks that arrive meanwhile
are folded into the next request, so the mask always catches up with the latest
click and never lags behind a queue of stale ones. Clicks made before the
embedding is ready are answered as soon as it is."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from app.engine import EmbedRequest, SegmentRequest, SegmentResult
from app.ui.document import Document
from app.ui.engine_client import EngineClient, JobHandle


class SelectionController(QObject):
    status = Signal(str)
    unavailable = Signal(str, bool)  # why click-to-select cannot work (message, a model is missing)
    ready_changed = Signal(bool)
    segmented = Signal(float)  # click -> mask on screen, seconds

    def __init__(self, client: EngineClient, request_fields: Callable[[], dict], parent: QObject | None = None):
        super().__init__(parent)
        self.client = client
        self.request_fields = request_fields  # models / model_set / device for every request
        self.doc: Document | None = None
        self.ready = False
        self.latencies: list[float] = []
        self._embed_job: JobHandle | None = None
        self._inflight: JobHandle | None = None
        self._inflight_sig = None
        self._shown_sig = None
        self._clicked_at: float | None = None
        self._embed_started = 0.0

    def attach(self, doc: Document | None) -> None:
        if self.doc is not None:
            self.doc.selection_changed.disconnect(self._on_selection)
            self.doc.image_changed.disconnect(self.prepare)
        self.doc = doc
        self._inflight = None
        self._shown_sig = None
        if doc is not None:
            doc.selection_changed.connect(self._on_selection)
            doc.image_changed.connect(self.prepare)
            self.prepare()

    def prepare(self) -> None:
        """Compute (or fetch) the embedding of the current base image in the background."""
        if self.doc is None:
            return
        if self._embed_job is not None and self._embed_job.active:
            self._embed_job.cancel()
        self._set_ready(False)
        self._embed_started = time.perf_counter()
        self.status.emit("Preparing click-to-select…")
        job = self.client.submit(EmbedRequest(photo=self.doc.base, **self.request_fields()))
        self._embed_job = job
        job.finished.connect(lambda _r, j=job: self._embedded(j))
        job.failed.connect(lambda msg, _u, j=job: self._embed_failed(j, msg))

    def _embedded(self, job: JobHandle) -> None:
        if job is not self._embed_job:
            return
        self._set_ready(True)
        self.status.emit(f"Click-to-select ready ({time.perf_counter() - self._embed_started:.1f} s)")
        self._on_selection()

    def _embed_failed(self, job: JobHandle, message: str) -> None:
        if job is self._embed_job:
            self.status.emit("Click-to-select is unavailable")
            self.unavailable.emit(f"Click-to-select is unavailable: {message}", job.missing_model)

    def _set_ready(self, ready: bool) -> None:
        if ready != self.ready:
            self.ready = ready
            self.ready_changed.emit(ready)

    def _signature(self):
        doc = self.doc
        return (id(doc.base), tuple(doc.points), doc.box) if doc is not None else None

    def _on_selection(self) -> None:
        doc = self.doc
        if doc is None:
            return
        sig = self._signature()
        if not doc.points and doc.box is None:
            self._shown_sig = sig
            return
        if sig in (self._shown_sig, self._inflight_sig):
            return
        if self._clicked_at is None:
            self._clicked_at = time.perf_counter()
        if not self.ready:
            self.status.emit("Your click will be answered as soon as click-to-select is ready…")
            return
        if self._inflight is not None and self._inflight.active:
            return  # the reply to the in-flight request triggers the next one
        self._inflight_sig = sig
        points = list(doc.points)
        request = SegmentRequest(photo=doc.base, points=points, box=doc.box,
                                    multimask=len(points) == 1 and doc.box is None, **self.request_fields())
        job = self.client.submit(request)
        self._inflight = job
        job.finished.connect(lambda result, j=job, s=sig: self._segmented(j, s, result))
        job.failed.connect(lambda msg, _u, j=job: self._segment_failed(j, msg))
        job.cancelled.connect(lambda j=job: self._segment_failed(j, None))

    def _segmented(self, job: JobHandle, sig, result: SegmentResult) -> None:
        if job is not self._inflight or self.doc is None:
            return
        self._inflight, self._inflight_sig = None, None
        if sig == self._signature():
            score = result.scores[result.chosen] if result.scores else None
            self._shown_sig = sig
            self.doc.set_candidate(result.mask, score)
            if self._clicked_at is not None:
                latency = time.perf_counter() - self._clicked_at
                self._clicked_at = None
                self.latencies.append(latency)
                self.segmented.emit(latency)
        else:
            self._on_selection()  # the user clicked again meanwhile: ask with all points

    def _segment_failed(self, job: JobHandle, message: str | None) -> None:
        if job is not self._inflight:
            return
        self._inflight, self._inflight_sig, self._clicked_at = None, None, None
        if message:
            self.status.emit(f"Selection failed: {message}")
