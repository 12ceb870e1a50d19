"""All the benchmarks, in order, into one dict of numbers (what `python main.py bench` prints)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable

from app.engine.benchmarks.fast import bench_fast
from app.engine.benchmarks.jobs import bench_jobs
from app.engine.benchmarks.prepost import bench_io, bench_prepost, bench_save
from app.engine.benchmarks.rooms import bench_repaint, bench_room3d
from app.engine.benchmarks.sam import bench_sam
from app.engine.benchmarks.scenes import synthetic_room
from app.engine.benchmarks.text_masks import bench_text_masks
from app.engine.benchmarks.training import bench_training


def run_benchmarks(quick: bool = False, clicks: int = 15, sam3_real: bool = False,
                   say: Callable[[str], None] = lambda name: None) -> dict:
    """Measure on this machine. `quick` uses a 1200x800 photo, the tiny SAM and fewer repeats (tests)."""
    # heavy: loaded on first use, not when the app starts
    import torch

    torch.set_grad_enabled(False)
    results: dict = {"torch_threads": torch.get_num_threads()}
    w, h = (1200, 800) if quick else (6000, 4000)
    photo = synthetic_room(w, h)
    with tempfile.TemporaryDirectory() as tmp:
        steps = [("sam", lambda: bench_sam(photo, quick, 3 if quick else clicks)),
                 ("prepost", lambda: bench_prepost(photo)),
                 ("io", lambda: bench_io(photo, tmp)),
                 ("save", lambda: bench_save(photo, tmp)),
                 ("jobs", bench_jobs),
                 ("fast", lambda: bench_fast(("tiny",) if quick else ("tiny", "best"))),
                 ("repaint", lambda: bench_repaint(photo)),
                 ("room3d", lambda: bench_room3d(photo)),
                 ("text masks", lambda: bench_text_masks(photo, sam3_real)),
                 ("training", lambda: bench_training(quick))]
        for name, fn in steps:
            say(name)
            results.update(fn())
    results["photo"] = f"{w}x{h}"
    return results
