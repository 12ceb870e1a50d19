"""One batch run, shared by the command line and the window: plan, decide, run, report.

    session = BatchSession(source, options, out_dir, listener=print_event)
    session.prepare()            # UserError for bad usage: nothing has run yet
    session.run(ray=None)        # or ray="auto" / "HOST:PORT"
    session.close()              # writes report.html, releases the folder's lock

Events reach `listener(BatchEvent)` from the runner's threads: "planned", "skipped",
"started", "progress", "retrying", "finished", "cancelled".
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from app import settings
from app.engine.batch.jobs import JobSource, photos_source, read_source
from app.engine.batch.local import run_local
from app.engine.batch.manifest import NAME, Manifest
from app.engine.batch.plan import BatchItem, BatchOptions, check_not_inputs, plan_items
from app.engine.batch.ray_runner import run_on_ray
from app.engine.batch.report import NAME as REPORT_NAME
from app.engine.batch.report import write_report
from app.errors import UserError

log = logging.getLogger(__name__)

# report.html is rewritten at most this often while a batch runs, so a long shoot can be looked
# at before it ends (a page of 1,000 photos takes a few milliseconds to write).
REPORT_EVERY_S = 30.0


@dataclass
class BatchEvent:
    kind: str
    item: BatchItem | None = None
    entry: dict | None = None  # the manifest entry (finished, skipped)
    progress: tuple[int, int, str] | None = None  # step, total, message
    why: str = ""


class BatchSession:
    def __init__(self, source: str | Path | JobSource, options: BatchOptions, out_dir: str | Path,
                 retry_failed: bool = False, listener: Callable[[BatchEvent], None] | None = None,
                 max_pixels: int | None = None):
        self.source = source
        self.options = options
        self.out_dir = Path(out_dir).expanduser().resolve()
        self.retry_failed = retry_failed
        self.listener = listener
        self.max_pixels = settings.max_pixels() if max_pixels is None else max_pixels
        self.cancel = threading.Event()
        self.manifest: Manifest | None = None
        self.items: list[BatchItem] = []
        self.todo: list[BatchItem] = []
        self.why: dict[str, str] = {}
        self.kept_failed: list[BatchItem] = []
        self.started_at = time.perf_counter()
        self.finished_now = 0
        self.started_now = 0  # items begun in this run: an error after one began is not a usage error
        self._report_at: float | None = None
        self.report_problem = ""  # why report.html could not be written at the end, if it could not

    # ---- before anything runs ------------------------------------------------------------

    def prepare(self) -> None:
        self.options.validate()
        source = self.source if isinstance(self.source, JobSource) else read_source(self.source)
        if source.kind == "folder" and source.path == self.out_dir:
            raise UserError(f"{self.out_dir}: choose an output folder other than the photos' folder")
        self.manifest = Manifest.open(self.out_dir, str(source.path))
        try:
            self.items = plan_items(source, self.options, self.manifest.batch_seed, self.manifest.input_cache)
            check_not_inputs(self.items, self.out_dir)
            self.manifest.register(self.items, str(source.path))
            self.manifest.data["options"] = asdict(self.options)  # so the window can resume it as it was
            self.manifest.data["photos"] = [str(r.photo) for r in source.rows] if source.kind == "photos" else None
            self.manifest.interrupt_running()
            for item in self.items:
                action, why = self.manifest.decide(item, self.retry_failed)
                self.why[item.id] = why
                if action == "run":
                    entry = self.manifest.entry(item.id) or {}
                    item.owned = [o["file"] for o in [*(entry.get("outputs") or []), *(entry.get("empty") or [])]]
                    self.todo.append(item)
                elif action == "adopt":
                    self.emit("skipped", item, entry=self.manifest.adopt(item), why=why)
                elif action == "keep-failed":
                    self.kept_failed.append(item)
                    self.emit("skipped", item, entry=self.manifest.entry(item.id), why=why)
                else:
                    self.emit("skipped", item, entry=self.manifest.entry(item.id), why=why)
            self.manifest.save()
        except BaseException:
            self.manifest.close()
            raise
        self.emit("planned")

    # ---- running ---------------------------------------------------------------------------

    def run(self, ray: str | None = None, workers: int | None = None, engine=None) -> None:
        self.started_at = time.perf_counter()
        if not self.todo:
            return
        if ray:
            run_on_ray(self, ray, workers)
        else:
            run_local(self, engine=engine, workers=workers)

    def emit(self, kind: str, item: BatchItem | None = None, **kw) -> None:
        if kind == "finished":
            self.finished_now += 1
        elif kind == "started":
            self.started_now += 1
        if self.listener is not None:
            self.listener(BatchEvent(kind, item, **kw))

    def refresh_report(self) -> None:
        """Rewrite report.html if REPORT_EVERY_S has passed since the last time (the first finished
        photo writes it). Runners call it right after saving the manifest, with no item changing it."""
        now = time.monotonic()
        if self._report_at is not None and now - self._report_at < REPORT_EVERY_S:
            return
        self._report_at = now
        try:
            write_report(self.manifest, time.perf_counter() - self.started_at)
        except (OSError, UserError) as exc:  # the page is a convenience; the manifest is the record
            log.warning("could not update %s: %s", self.out_dir / REPORT_NAME, exc)

    def close(self, report: bool = True) -> Path | None:
        """Write report.html (from the manifest) and release the output folder."""
        if self.manifest is None:
            return None
        try:
            if report:
                return write_report(self.manifest, time.perf_counter() - self.started_at)
            return None
        except (OSError, UserError) as exc:  # the results and the manifest stand; say why the page is missing
            self.report_problem = str(exc)
            return None
        finally:
            self.manifest.close()

    # ---- results ---------------------------------------------------------------------------

    def entries(self) -> list[dict]:
        return [dict(self.manifest.entry(i.id) or {}, id=i.id) for i in self.items]

    def failed(self) -> list[dict]:
        return [e for e in self.entries() if e.get("status") != "done"]

    def exit_code(self) -> int:
        """0 every item done, 1 some failed or were not reached."""
        return 0 if not self.failed() else 1


def previous_batch(out_dir: str | Path) -> tuple[JobSource, BatchOptions, dict] | None:
    """What an earlier batch in `out_dir` ran (its source, options, manifest), to resume it; None if none."""
    path = Path(out_dir).expanduser() / NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        options = BatchOptions(**data["options"])
        source = photos_source(data["photos"]) if data.get("photos") else read_source(data["source"])
    except (OSError, ValueError, KeyError, TypeError, UserError):
        return None
    return source, options, data
