"""Engine events -> Qt signals on the GUI thread, and `await client.run(request)`.

The engine calls its sink on the worker thread. The sink here only emits a Qt
signal of a QObject living on the GUI thread; Qt queues it, so every handler
below runs on the GUI thread. The engine itself is built on a background thread
(importing torch takes seconds), and jobs submitted before it is ready wait in a
list and go to it the moment it is.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.engine import Cancelled, Event, Failed, Finished, JobKind, Progress, Started
from app.errors import JobCancelled, UserError
from app.ui.eta import StepClock

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
LABELS = {JobKind.STAGE: "Staging", JobKind.DEFURNISH: "De-furnishing", JobKind.SEGMENT: "Selecting",
          JobKind.EMBED: "Preparing selection", JobKind.GUIDES: "Guides", JobKind.AUTOMASK: "Finding objects",
          JobKind.TEXT_SEGMENT: "Selecting by name", JobKind.REPAINT: "Repainting", JobKind.ROOM3D: "Room in 3D"}


class JobFailed(Exception):
    """A job failed for a reason that is not the user's (the message is still readable)."""


class JobHandle(QObject):
    """One submitted job as the UI sees it. Signals fire on the GUI thread."""

    started = Signal()
    progress = Signal(object)  # Progress
    finished = Signal(object)  # the result
    failed = Signal(str, bool)  # message, user_error
    cancelled = Signal()
    ended = Signal()  # after any of finished / failed / cancelled

    def __init__(self, client: EngineClient, uid: int, request: Any, label: str):
        super().__init__(client)
        self.client, self.uid, self.request, self.label = client, uid, request, label
        self.kind: JobKind = request.kind
        self.engine_job = None
        self.state = QUEUED
        self.step, self.total, self.message = 0, 0, ""
        self.preview = None
        self.submitted_at = time.perf_counter()
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.clock = StepClock()
        self.result = None
        self.error: str | None = None
        self.cancel_requested = False
        self._future: asyncio.Future | None = None

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    def cancel(self) -> None:
        self.client.cancel(self)

    def eta(self) -> float | None:
        """Seconds left, from the measured pace of the steps (see eta.py); None until it is known."""
        return self.clock.eta(self.total, time.perf_counter()) if self.state == RUNNING else None

    def future(self) -> asyncio.Future:
        if self._future is None:
            self._future = asyncio.get_event_loop().create_future()
            self._settle()
        return self._future

    def _settle(self) -> None:
        fut = self._future
        if fut is None or fut.done() or self.active:
            return
        if self.state == DONE:
            fut.set_result(self.result)
        elif self.state == CANCELLED:
            fut.set_exception(JobCancelled())
        else:
            fut.set_exception(UserError(self.error) if self._user_error else JobFailed(self.error))

    # called by the client, on the GUI thread
    def _on_event(self, ev: Event, at: float | None = None) -> None:
        """`at`: when the engine made the event (perf_counter on its thread)."""
        at = time.perf_counter() if at is None else at
        if isinstance(ev, Started):
            self.state, self.started_at = RUNNING, time.perf_counter()
            self.started.emit()
        elif isinstance(ev, Progress):
            if self.state == QUEUED:
                self.state, self.started_at = RUNNING, time.perf_counter()
            self.step, self.total, self.message = ev.step, ev.total, ev.message or self.message
            if ev.preview is not None:
                self.preview = ev.preview
            if ev.total > 0:
                self.clock.add(at, ev.step)
            self.progress.emit(ev)
        elif isinstance(ev, Finished):
            self.result, self.state = ev.result, DONE
            self._end()
            self.finished.emit(ev.result)
        elif isinstance(ev, Failed):
            self.error, self._user_error, self.state = ev.message, ev.user_error, FAILED
            self.missing_model = ev.missing_model
            self._end()
            self.failed.emit(ev.message, ev.user_error)
        elif isinstance(ev, Cancelled):
            self.state = CANCELLED
            self._end()
            self.cancelled.emit()

    _user_error = False
    missing_model = False  # it failed because a model is not installed

    def _end(self) -> None:
        self.ended_at = time.perf_counter()
        self._settle()
        self.ended.emit()


class EngineClient(QObject):
    job_added = Signal(object)
    job_changed = Signal(object)
    job_ended = Signal(object)
    ready = Signal()
    engine_failed = Signal(str)
    _deliver = Signal(object, object, float)  # (handle, event, when it was made), emitted on the worker thread
    _engine_built = Signal(object, str)

    def __init__(self, factory: Callable[[], Any], parent: QObject | None = None):
        super().__init__(parent)
        self._factory = factory
        self._engine = None
        self._error: str | None = None
        self._waiting: list[JobHandle] = []
        self._jobs: dict[int, JobHandle] = {}
        self._uids = itertools.count(1)
        self._deliver.connect(self._on_event)
        self._engine_built.connect(self._on_built)
        self._thread: threading.Thread | None = None
        self._closed = False

    # ---- engine lifetime -------------------------------------------------------

    def start(self) -> None:
        """Build the engine on a background thread (idempotent)."""
        if self._thread is not None or self._engine is not None:
            return

        def build():
            try:
                engine, err = self._factory(), ""
            except Exception as exc:  # noqa: BLE001 - reported to the user
                log.exception("engine start failed")
                engine, err = None, str(exc) or exc.__class__.__name__
            self._engine_built.emit(engine, err)

        self._thread = threading.Thread(target=build, name="roomstager-engine-start", daemon=True)
        self._thread.start()

    @property
    def engine(self):
        return self._engine

    def _on_built(self, engine, error: str) -> None:
        if self._closed:
            if engine is not None:
                engine.shutdown(wait=False)
            return
        self._engine, self._error = engine, error or None
        waiting, self._waiting = self._waiting, []
        if engine is None:
            self.engine_failed.emit(error)
            for handle in waiting:
                handle._on_event(Failed(0, f"The engine could not start: {error}", user_error=True))
            return
        self.ready.emit()
        for handle in waiting:
            if handle.cancel_requested:
                continue
            refused = self._send(handle)
            self.job_changed.emit(handle)
            if refused:
                handle._on_event(Failed(0, refused, user_error=True))

    def shutdown(self) -> None:
        self._closed = True
        for handle in list(self._jobs.values()):
            if handle.active:
                handle.cancel_requested = True
        if self._engine is not None:
            self._engine.shutdown(wait=True)
            self._engine = None

    # ---- jobs ------------------------------------------------------------------

    def submit(self, request: Any, label: str | None = None) -> JobHandle:
        handle = JobHandle(self, next(self._uids), request, label or LABELS.get(request.kind, request.kind))
        self._jobs[handle.uid] = handle
        handle.ended.connect(lambda h=handle: self._forget(h))
        if self._engine is not None:
            refused = self._send(handle)  # events come queued, so listeners connected below miss none
            self.job_added.emit(handle)
            if refused:
                handle._on_event(Failed(0, refused, user_error=True))
        elif self._error is not None:
            self.job_added.emit(handle)
            handle._on_event(Failed(0, f"The engine could not start: {self._error}", user_error=True))
        else:
            try:  # the engine is still starting: say now what Engine.submit would say then
                request.validate()
            except UserError as exc:
                self.job_added.emit(handle)
                handle._on_event(Failed(0, str(exc), user_error=True))
                return handle
            self._waiting.append(handle)
            self.job_added.emit(handle)
            self.start()
        return handle

    def _send(self, handle: JobHandle) -> str:
        """Hand the job to the engine; returns why the engine refused it ("" when queued)."""
        def sink(ev, h=handle):
            self._deliver.emit(h, ev, time.perf_counter())

        try:
            handle.engine_job = self._engine.submit(handle.request, sink)
        except UserError as exc:  # the request's own check: the message the commands show too
            return str(exc)
        return ""

    async def run(self, request: Any, label: str | None = None):
        """Submit and wait (on the qasync loop). Raises UserError, JobCancelled or JobFailed."""
        return await self.submit(request, label).future()

    def cancel(self, handle: JobHandle | None = None) -> None:
        """Cancel one job, or every active job when `handle` is None."""
        handles = [h for h in self._jobs.values() if h.active] if handle is None else [handle]
        for h in handles:
            if not h.active or h.cancel_requested:
                continue
            h.cancel_requested = True
            if h.engine_job is not None:
                h.engine_job.cancel()
            else:  # never reached the engine
                if h in self._waiting:
                    self._waiting.remove(h)
                h._on_event(Cancelled(0))
            self.job_changed.emit(h)

    def active_jobs(self) -> list[JobHandle]:
        return [h for h in self._jobs.values() if h.active]

    def _on_event(self, handle: JobHandle, ev: Event, at: float) -> None:
        handle._on_event(ev, at)
        if handle.active:
            self.job_changed.emit(handle)

    def _forget(self, handle: JobHandle) -> None:
        self._jobs.pop(handle.uid, None)
        self.job_ended.emit(handle)
