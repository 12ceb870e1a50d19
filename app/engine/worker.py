"""The engine: one worker thread owns the device and runs a queue of jobs.

Callers submit a request and receive events through a callback that runs on the
worker thread (the UI marshals them to its own thread; the CLI just prints).
Interactive jobs (segmenting, guides) jump ahead of queued generations.
"""

from __future__ import annotations

import gc
import itertools
import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from app.engine.events import Cancelled, Event, Failed, Finished, Progress, Started
from app.engine.jobs import PRIORITY, handler_for
from app.engine.requests import Request
from app.engine.runtime.manager import ModelManager
from app.engine.tiny.models import MODEL_SOURCES
from app.errors import JobCancelled, ModelMissing, UserError

log = logging.getLogger(__name__)

EventSink = Callable[[Event], None]


class JobContext:
    """What a running job may use: progress reporting, cancel checks, shared models."""

    def __init__(self, job: Job, engine: Engine):
        self.job = job
        self.engine = engine
        self.box: tuple[int, int, int, int] | None = None  # the photo region previews show
        self.region = None  # bool mask over `box`: where the job repaints (previews are shown there only)

    @property
    def models(self):
        return self.engine.models

    def progress(self, step: int, total: int, message: str = "", preview=None) -> None:
        self.check_cancel()
        self.job.emit(Progress(self.job.id, step, total, message, preview, self.box, self.region))

    def check_cancel(self) -> None:
        if self.job.cancel_event.is_set():
            raise JobCancelled()


@dataclass(eq=False)
class Job:
    id: int
    request: Request
    sink: EventSink | None
    future: Future = field(default_factory=Future)
    cancel_event: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self.cancel_event.set()

    def emit(self, event: Event) -> None:
        if self.sink is not None:
            try:
                self.sink(event)
            except Exception:  # a broken listener must not kill the job
                log.exception("event listener failed")


class Engine:
    """Owns the model manager and the worker thread. Thread-safe `submit`/`cancel`."""

    def __init__(self, models: str | None = None, device: str | None = None, memory_mode: str | None = None,
                 preload: bool = False):
        self.models = ModelManager(models=models, device=device, memory_mode=memory_mode,
                                   sources=MODEL_SOURCES)
        self._preload = preload
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._ids = itertools.count(1)
        self._jobs: dict[int, Job] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="roomstager-engine", daemon=True)
        self._thread.start()

    # ---- public --------------------------------------------------------------

    def submit(self, request: Request, sink: EventSink | None = None) -> Job:
        """Check the request (InvalidRequest, before anything is queued), then queue it."""
        handler_for(request)  # an unknown request type is refused here too
        request.validate()
        job = Job(next(self._ids), request, sink)
        with self._lock:
            self._jobs[job.id] = job
        self._queue.put((PRIORITY[request.kind], job.id, job))
        return job

    def run(self, request: Request, sink: EventSink | None = None, timeout: float | None = None):
        """Submit and wait. Raises UserError, JobCancelled or the job's own error."""
        return self.submit(request, sink).future.result(timeout)

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel one job, or every queued and running job when `job_id` is None."""
        with self._lock:
            jobs = list(self._jobs.values()) if job_id is None else [self._jobs.get(job_id)]
        for job in jobs:
            if job is not None:
                job.cancel()

    def shutdown(self, wait: bool = True) -> None:
        self.cancel()
        self._queue.put((-1, 0, None))
        if wait:
            self._thread.join(timeout=30)

    # ---- worker thread -------------------------------------------------------

    def _loop(self) -> None:
        if self._preload:
            _import_heavy_modules()
        while True:
            _, _, job = self._queue.get()
            if job is None:
                return
            self._execute(job)
            with self._lock:
                self._jobs.pop(job.id, None)

    def _execute(self, job: Job) -> None:
        if job.cancel_event.is_set():
            job.emit(Cancelled(job.id))
            job.future.set_exception(JobCancelled())
            return
        job.emit(Started(job.id, job.request))
        started = time.perf_counter()
        try:
            result = handler_for(job.request)(job.request, JobContext(job, self))
        except JobCancelled as exc:
            job.emit(Cancelled(job.id))
            job.future.set_exception(exc)
        except UserError as exc:
            job.emit(Failed(job.id, str(exc), user_error=True, missing_model=isinstance(exc, ModelMissing)))
            job.future.set_exception(exc)
        except Exception as exc:  # report, keep the worker alive for the next job
            message = self.models.explain_failure(exc)
            log.error("job %s failed: %s\n%s", job.id, message, traceback.format_exc())
            job.emit(Failed(job.id, message))
            job.future.set_exception(exc)
        else:
            timings = getattr(result, "timings", None)
            if isinstance(timings, dict):
                timings.setdefault("total_s", time.perf_counter() - started)
            job.emit(Finished(job.id, result))
            job.future.set_result(result)


def _import_heavy_modules() -> None:
    """Import torch, diffusers and transformers here, before any job and on this thread.

    A first job would otherwise import them mid-session, holding the interpreter
    for up to a second while the window waits (and lazy imports from two threads
    at once are not safe in transformers).
    """
    try:
        import diffusers  # noqa: F401
        from diffusers import StableDiffusionControlNetInpaintPipeline  # noqa: F401
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation, CLIPTextModel, CLIPTokenizer  # noqa: F401  # noqa: F401
    except Exception:  # a broken install surfaces as a clear error in the first job instead
        log.exception("preloading the model libraries failed")
        return
    # These libraries leave a few hundred thousand long-lived objects behind. A full garbage
    # collection walks them all while holding the interpreter (~300 ms here, freezing the
    # window); frozen, they are skipped, and the collections that loading models triggers stay short.
    gc.freeze()

