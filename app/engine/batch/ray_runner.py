"""The same batch on a Ray cluster: Ray Data hands the items to a pool of actors, each holding
one engine (models loaded once per actor; one actor per GPU, or CPU actors where there is none).

The actors write the outputs into OUT_DIR (a path every node sees) and send back the item's
record; only this driver writes the manifest, as the records come back. An actor that dies
is restarted and its item retried (bounded: RESTARTS, TASK_RETRIES); an item that still has
no record after that is recorded as failed ("worker-died"), never silently lost; an item that
failed for a passing reason gets one more round.

Every listener stays on 127.0.0.1 when the cluster is on this machine. Ray is imported here
only: the local batch never needs it.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path

from app import settings
from app.engine.batch.item import ItemRunner, warm_up, worker_name
from app.engine.batch.plan import BatchItem, BatchOptions
from app.engine.runtime.logs import quiet_libraries
from app.engine.worker import Engine
from app.errors import UserError

log = logging.getLogger(__name__)

RESTARTS = 3  # an actor that dies is started again this many times
TASK_RETRIES = 2  # an item whose actor died is tried again this many times
ROUNDS = 2  # items that failed for a passing reason get another round, up to this many rounds
SAVE_EVERY_S = 0.5  # manifest saves are coalesced; outputs written meanwhile are adopted on a rerun
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": every Ray listener binds 127.0.0.1


class BatchActor:
    """One per GPU (or CPU slot): an engine that lives as long as the actor."""

    def __init__(self, options: dict, out_dir: str, threads: int, max_pixels: int):
        import torch  # heavy: only inside the actor process

        quiet_libraries()
        torch.set_num_threads(max(1, threads))
        self.options = BatchOptions(**options)
        self.engine = Engine(models=self.options.models, device=self.options.device)
        warm_up(self.engine, self.options)  # the models load now, once per actor, not inside the first photo
        self.runner = ItemRunner(self.engine, self.options, Path(out_dir), max_pixels)

    def __call__(self, batch: dict) -> dict:
        records = []
        for payload in batch["payload"]:
            item = BatchItem.from_payload(json.loads(str(payload)))
            _maybe_die(item.id)
            records.append(json.dumps(self.runner.run(item)))
        return {"id": list(batch["id"]), "record": records}


def _maybe_die(item_id: str) -> None:
    """Fault injection for the tests: the actor process ends abruptly, once, on the named item."""
    spec = settings.batch_fault()
    if not spec:
        return
    target, _, marker = spec.partition(":")
    if target == item_id and marker and not os.path.exists(marker):
        Path(marker).write_text(worker_name())
        os._exit(3)


# ---- connecting ------------------------------------------------------------------------------


def _is_loopback(address: str) -> bool:
    host = address.split("://")[-1].rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _running_cluster() -> bool:
    """A cluster `ray start` left on this machine (or RAY_ADDRESS), checked before importing Ray."""
    if os.environ.get("RAY_ADDRESS"):
        return True
    base = Path(os.environ.get("RAY_TMPDIR") or tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    return base.is_file()


def _job_env() -> dict:
    """What the actors must see of this driver's environment (model folders, caches, offline mode)."""
    keep = ("ROOMSTAGER_", "HF_HUB_OFFLINE", "HF_HOME")  # the app's settings travel to the actors
    return {k: v for k, v in os.environ.items() if k.startswith(keep)}


def connect(address: str):
    """(ray module, whether we started Ray and must shut it down)."""
    started_here = False
    local = address == "auto" and not _running_cluster()
    if local or _is_loopback(address):
        os.environ.setdefault(LOOPBACK_ENV, "0")  # read when Ray is imported: keep it off the network
    if address != "auto" and not os.environ.get("RAY_AUTH_MODE"):
        token_file = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
        if os.environ.get("RAY_AUTH_TOKEN") or token_file.is_file():
            os.environ["RAY_AUTH_MODE"] = "token"  # a head from `ray start` wants its token
    try:
        import ray  # optional and heavy; imported after the listener settings above, which it reads
    except ImportError:
        raise UserError("--ray needs Ray: pip install -e \".[cluster]\"") from None
    if ray.is_initialized():
        return ray, False
    job = {"py_modules": [str(Path(__file__).resolve().parents[2])], "env_vars": _job_env(),
           "excludes": ["__pycache__", "*.pyc"]}
    common = dict(runtime_env=job, log_to_driver=False, logging_level=logging.WARNING)
    try:
        if local:
            ray.init(include_dashboard=False, _node_ip_address="127.0.0.1", **common)
        else:
            ray.init(address=address, **common)
        started_here = True
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UserError(f"cannot connect to the Ray cluster at {address}: {exc}. Start a head with `ray start --head` "
                        "(and copy its ~/.ray/auth_token here), or give its ADDRESS") from None
    return ray, started_here


# ---- running ---------------------------------------------------------------------------------




def _pool(ray, workers: int | None) -> tuple[int, dict, int]:
    """(actors, their resource request, torch threads each). GPUs: one actor each. CPUs: actors get
    less than a CPU each, so Ray Data's own tasks always find one and the job cannot starve."""
    res = ray.cluster_resources()
    gpus, cpus = int(res.get("GPU", 0)), float(res.get("CPU", 1))
    if gpus:
        size = workers or gpus
        if size > gpus:
            raise UserError(f"--workers {size}: the cluster has {gpus} GPU(s), one actor per GPU")
        return size, {"num_gpus": 1, "num_cpus": min(1.0, max(0.25, (cpus - 1) / size))}, max(1, int(cpus // size))
    size = workers or max(1, min(2, int(cpus)))
    per = max(0.1, min(1.0, (cpus - 1) / size))
    return size, {"num_cpus": per}, max(1, int(cpus // size))


def run_on_ray(session, address: str, workers: int | None) -> None:
    ray, started_here = connect(address)
    try:
        remaining = list(session.todo)
        for round_no in range(1, ROUNDS + 1):
            if not remaining or session.cancel.is_set():
                break
            remaining = _round(ray, session, remaining, workers, last=round_no == ROUNDS)
    finally:
        if started_here:
            ray.shutdown()


def _round(ray, session, items: list[BatchItem], workers: int | None, last: bool) -> list[BatchItem]:
    """One pass over `items`; returns those that failed for a passing reason (for another round)."""
    from ray.data import ActorPoolStrategy, DataContext  # optional: only on a Ray run

    manifest = session.manifest
    size, resources, threads = _pool(ray, workers)
    size = min(size, len(items))
    ctx = DataContext.get_current()
    ctx.max_errored_blocks = len(items)  # one item's failure must not abort the others
    ctx.enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    by_id = {i.id: i for i in items}
    for item in items:
        manifest.start(item, "ray", status="queued")
    manifest.save()
    rows = [{"id": i.id, "payload": json.dumps(i.to_payload())} for i in items]
    options = {k: getattr(session.options, k) for k in session.options.__dataclass_fields__}
    env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), **_job_env()}
    with warnings.catch_warnings():
        # Ray 2.60 bounds actor restarts and task retries only through these (deprecated) remote
        # arguments; without them both are unbounded. pyproject keeps Ray below 2.64, which drops them.
        warnings.simplefilter("ignore", DeprecationWarning)
        ds = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            BatchActor, batch_size=1, fn_constructor_kwargs={"options": options, "out_dir": str(session.out_dir),
                                                              "threads": threads, "max_pixels": session.max_pixels},
            compute=ActorPoolStrategy(size=size, max_tasks_in_flight_per_actor=1), runtime_env={"env_vars": env},
            max_restarts=RESTARTS, max_task_retries=TASK_RETRIES, **resources)
    seen, retry, last_save = set(), [], 0.0
    try:
        for row in ds.iter_rows():
            item = by_id[row["id"]]
            record = json.loads(row["record"])
            seen.add(item.id)
            entry = manifest.finish(item, record)
            if record["status"] == "failed" and record["reason"] == "error" and not last:
                retry.append(item)
                session.emit("retrying", item, entry=entry)
            else:
                session.emit("finished", item, entry=entry)
            if time.monotonic() - last_save > SAVE_EVERY_S:
                manifest.save()
                session.refresh_report()
                last_save = time.monotonic()
            if session.cancel.is_set():
                break
    except Exception as exc:  # the dataset itself gave up (e.g. the cluster went away)
        log.warning("the Ray run stopped: %s", exc)
        message = f"the Ray run stopped: {exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    else:
        message = f"its Ray worker died {1 + TASK_RETRIES} times (see the Ray logs)"
    finally:
        manifest.save()
    if session.cancel.is_set():
        manifest.interrupt_running()
        manifest.save()
        return []
    for item in items:
        if item.id not in seen:  # never silently lost: no record came back for it
            record = {"status": "failed", "reason": "worker-died", "message": message, "worker": "ray"}
            entry = manifest.finish(item, record)
            session.emit("finished", item, entry=entry)
    manifest.save()
    return retry
