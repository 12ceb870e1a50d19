"""Training numbers: seconds per LoRA training step and peak memory, with the tiny models.

The run is a real `train-lora` in a child process (so its peak memory is its own, not the
bench's), on a dataset built by `dataset` from synthetic rooms, on the best device there is
(a GPU when one is present). No validation split: nothing but the training steps is timed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from app import settings
from app.engine.benchmarks.scenes import synthetic_room
from app.imaging.io import write_mask, write_photo

MAIN = settings.APP_ROOT / "main.py"


def _run(*args) -> dict:
    proc = subprocess.run([sys.executable, str(MAIN), *map(str, args), "--json"], capture_output=True, text=True,
                          timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {proc.stderr.strip()[-400:]}")
    return json.loads(proc.stdout)


def bench_training(quick: bool) -> dict:
    """Seconds per LoRA training step and peak memory of a tiny `train-lora` run."""
    size, steps = (64, 6) if quick else (128, 40)
    with tempfile.TemporaryDirectory(prefix="roomstager-bench-train-") as tmp:
        root = Path(tmp)
        (root / "empty").mkdir()
        (root / "masks").mkdir()
        for i in range(4):
            write_photo(root / "empty" / f"room{i}.png", synthetic_room(320, 240, seed=10 + i), sidecar=False)
        mask = np.zeros((240, 320), bool)
        mask[110:200, 90:230] = True
        write_mask(root / "masks" / "sofa.png", mask)
        _run("dataset", root / "empty", "--masks", root / "masks", "-o", root / "data", "--size", size,
             "--split", "1,0,0", "--models", "tiny")
        result = _run("train-lora", root / "data", "--task", "defurnish", "-o", root / "bench.safetensors",
                      "--models", "tiny", "--steps", steps, "--rank", 16, "--save-every", 0, "--val-every", 0, "--no-register")
    return {"train_tiny_step_s": round(result["seconds_per_step"], 4),
            "train_tiny_peak_mb": result["peak_memory_mb"],
            "train_tiny_device": result["device"], "train_tiny_size": size, "train_tiny_steps": steps}
