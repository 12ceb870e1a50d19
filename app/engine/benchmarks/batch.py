"""`bench --batch`: batch throughput on this machine, locally with 1 worker and on a private Ray
with 2 actors, with the tiny models on synthetic 24 MP JPEGs.

The tiny model's own time is small, so these numbers are mostly what a batch costs *around*
the model: reading and hashing the photo, masks, crop and paste-back at full size, writing
the 24 MP JPEG with its sidecar, thumbnails and the manifest. On a GPU the model's time is
added per photo (see docs/batch-scaling.md). Every worker uses one CPU thread, so "1 worker"
and "1 of 2 actors" do the same work and the scaling efficiency compares like with like.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from app.engine.batch import BatchOptions, BatchSession  # loads OpenCV: only when this bench runs
from app.engine.benchmarks.scenes import synthetic_room
from app.engine.worker import Engine


def _write_photos(folder: Path, count: int, size: tuple[int, int]) -> Path:
    w, h = size
    mask = np.zeros((h, w), np.uint8)
    mask[int(h * 0.45):int(h * 0.85), int(w * 0.3):int(w * 0.7)] = 255  # ~16 % of the frame
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask).save(folder / "masks" / "m.png")
    rows = ["photo,mask"]
    for i in range(count):
        Image.fromarray(synthetic_room(w, h, seed=10 + i)).save(folder / f"p{i:02d}.jpg", quality=92)
        rows.append(f"p{i:02d}.jpg,masks/m.png")
    (folder / "jobs.csv").write_text("\n".join(rows) + "\n")
    return folder / "jobs.csv"


def _session(jobs: Path, out: Path, listener=None):

    options = BatchOptions(models="tiny", device="cpu", steps=2, seed=1)
    session = BatchSession(jobs, options, out, listener=listener)
    session.prepare()
    return session


def _numbers(session, prefix: str) -> dict:
    """Throughput over the span from the first photo's start to the last one's end (start-up excluded)."""
    entries = session.entries()
    wall_s = max(e["ended"] for e in entries) - min(e["started"] for e in entries)
    per = [e["timings"]["total_s"] for e in entries]
    outside = [e["timings"]["outside_model_s"] for e in entries]
    done = sum(e.get("status") == "done" for e in entries)
    return {f"{prefix}_photos_per_min": round(60 * len(entries) / wall_s, 2),
            f"{prefix}_photo_s": round(statistics.median(per), 3),
            f"{prefix}_outside_model_s": round(statistics.median(outside), 3),
            f"{prefix}_wall_s": round(wall_s, 2), f"{prefix}_done": done}


def bench_local(jobs: Path, out: Path) -> dict:
    engine = Engine(models="tiny", device="cpu")
    try:
        warm = _session(jobs, out / "warm")  # loads the models: the batch below measures the steady state
        warm.todo = warm.todo[:1]
        warm.run(engine=engine)
        warm.close(report=False)
        session = _session(jobs, out / "local")
        session.run(engine=engine, workers=1)
        session.close()
    finally:
        engine.shutdown()
    t = time.perf_counter()
    session.manifest.save()
    numbers = _numbers(session, "local_1w")
    numbers["manifest_save_s"] = round(time.perf_counter() - t, 4)
    return numbers


def bench_ray(jobs: Path, out: Path, actors: int = 2) -> dict:
    """The actors' start-up (a Ray worker importing torch and loading the models) is reported apart."""
    session = _session(jobs, out / "ray")
    t0 = time.time()
    session.run(ray="auto", workers=actors)
    session.close()
    numbers = _numbers(session, f"ray_{actors}a")
    numbers[f"ray_{actors}a_startup_s"] = round(min(e["started"] for e in session.entries()) - t0, 2)
    return numbers


def run_batch_bench(quick: bool, photos: int, with_ray: bool) -> dict:
    """Photos per minute and per-photo time outside the model: locally with 1 worker, on Ray with 2 actors."""
    import torch  # heavy: only when this bench runs

    torch.set_num_threads(1)  # one core per worker, as each Ray actor gets here
    size = (1200, 800) if quick else (6000, 4000)
    results: dict = {"photo": f"{size[0]}x{size[1]}", "photos": photos, "threads_per_worker": 1}
    with tempfile.TemporaryDirectory(prefix="rs-bench-") as tmp:
        jobs = _write_photos(Path(tmp) / "in", photos, size)
        print("bench: batch, local 1 worker ...", file=sys.stderr)
        results.update(bench_local(jobs, Path(tmp)))
        if with_ray:
            print("bench: batch, Ray 2 actors ...", file=sys.stderr)
            results.update(bench_ray(jobs, Path(tmp)))
            results["scaling_efficiency"] = round(
                results["ray_2a_photos_per_min"] / (2 * results["local_1w_photos_per_min"]), 3)
    return results
