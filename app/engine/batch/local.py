"""The batch on this machine: one engine (models loaded once), N item threads feeding it.

The engine's single worker thread owns the GPU, so extra item threads do not multiply GPU
memory: they read, hash, write and thumbnail one photo while the model works on another.
The manifest is saved before each item starts and after it ends, so a kill leaves at most
the item in hand to redo.
"""

from __future__ import annotations

import threading

from app.engine.batch.item import ItemRunner, worker_name
from app.engine.worker import Engine
from app.errors import JobCancelled

MAX_TRIES = 2  # an item that fails for a passing reason is tried once more


def default_workers(device: str | None) -> int:
    """Two photos in flight on a GPU (one's reading and writing overlaps the other's model work);
    one on a CPU, where the model already uses every core."""
    if device == "cpu":
        return 1
    import torch  # heavy; the engine loads it anyway

    return 2 if torch.cuda.is_available() else 1


def run_local(session, engine=None, workers: int | None = None) -> None:
    """Run `session.todo` here. `engine`: an existing Engine (the window's), else one is made."""
    workers = workers or default_workers(session.options.device)
    own = engine is None
    if own:
        engine = Engine(models=session.options.models, device=session.options.device)
    runner = ItemRunner(engine, session.options, session.out_dir, session.max_pixels)
    queue = list(session.todo)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def next_item():
        with lock:
            return queue.pop(0) if queue and not session.cancel.is_set() else None

    def work() -> None:
        while (item := next_item()) is not None:
            try:
                _run_one(session, runner, item, lock)
            except JobCancelled:
                return
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread below
                errors.append(exc)
                session.cancel.set()
                return

    threads = [threading.Thread(target=work, name=f"batch-{i}", daemon=True) for i in range(max(1, workers))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(timeout=0.2)  # a short wait keeps Ctrl+C responsive in the main thread
    except KeyboardInterrupt:
        session.cancel.set()
        for t in threads:
            t.join()
        raise
    finally:
        if own:
            engine.shutdown()
    if errors:
        raise errors[0]


def _run_one(session, runner: ItemRunner, item, lock: threading.Lock) -> None:
    manifest = session.manifest
    for attempt in range(1, MAX_TRIES + 1):
        with lock:
            manifest.start(item, worker_name())
            manifest.save()
        session.emit("started", item)
        try:
            record = runner.run(item, progress=lambda s, t, m: session.emit("progress", item, progress=(s, t, m)),
                                cancel=session.cancel)
        except JobCancelled:
            with lock:
                manifest.interrupt_running()
                manifest.save()
            session.emit("cancelled", item)
            raise
        retry = record["status"] == "failed" and record["reason"] == "error" and attempt < MAX_TRIES
        with lock:
            entry = manifest.finish(item, record)
            manifest.save()
            if not retry:
                session.refresh_report()
        if not retry:
            session.emit("finished", item, entry=entry)
            return
        session.emit("retrying", item, entry=entry)
