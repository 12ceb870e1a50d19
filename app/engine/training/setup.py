"""What a run needs before its first step: device and accelerate, models, data, optimizer, schedule."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState, GradientState
from accelerate.utils import InitProcessGroupKwargs
from diffusers.optimization import get_scheduler

from app.engine.runtime.device import pick_device
from app.engine.training.config import TrainConfig
from app.engine.training.manifest import Sample, manifest_hash, read_manifest
from app.errors import UserError

log = logging.getLogger(__name__)


def make_accelerator(cfg: TrainConfig, device: str):
    """accelerate for mixed precision, gradient accumulation, data parallelism and checkpoints.

    On the CPU it runs several processes over gloo when started by `accelerate launch
    --multi_gpu` (see launch.py); a long validation on the main process must not time
    the others out, hence the generous process-group timeout."""
    mixed = {"fp32": "no", "fp16": "fp16", "bf16": "bf16"}[cfg.precision]
    # accelerate keeps one state per process; a second run in the same process (the bench, tests) may ask
    # for another precision. The process group itself (PartialState) is kept.
    AcceleratorState._reset_state(reset_partial_state=False)
    GradientState._reset_state()
    group = {"timeout": timedelta(hours=4)}
    if sys.platform == "win32" and device == "cuda":
        group["backend"] = "gloo"  # PyTorch on Windows has no NCCL
    return Accelerator(mixed_precision=mixed, gradient_accumulation_steps=cfg.grad_accum, cpu=device == "cpu",
                       kwargs_handlers=[InitProcessGroupKwargs(**group)])


def pick_device_name(cfg: TrainConfig) -> str:
    """'cuda', 'mps' or 'cpu': the requested device, else the best available."""
    return pick_device(cfg.device).device


@dataclass
class Data:
    folder: Path
    samples: list[Sample]
    train: list[int]  # indices into samples
    shapes: list[int]
    val: list[int]
    sha256: str
    notes: list[str] = field(default_factory=list)


def load_data(cfg: TrainConfig) -> Data:
    """The dataset's splits; `--overfit` trains and validates on its first training picture."""
    folder = Path(cfg.dataset)
    samples = read_manifest(folder)
    main_kinds = ("furniture", "paired", "pseudo")

    def pick(split, kinds):
        return [i for i, s in enumerate(samples) if s.split == split and s.kind in kinds]

    train, shapes, val = pick("train", main_kinds), pick("train", ("shape",)), pick("val", main_kinds)
    notes = []
    if not train:
        raise UserError(f"{folder}: the dataset has no training samples (split 'train')")
    if cfg.overfit:
        train, shapes, val = train[:1], [], train[:1]
        notes.append("overfit: one picture, trained and validated on itself")
    elif not val:
        notes.append("no validation split: no metrics, no early stopping; the last step's LoRA is kept")
    val = val[: cfg.val_limit]
    return Data(folder, samples, train, shapes, val, manifest_hash(folder), notes)


def make_optimizer(cfg: TrainConfig, params):
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=1e-2)
    if cfg.optimizer == "adagrad":
        return torch.optim.Adagrad(params, lr=cfg.lr)
    try:  # optional, CUDA only: loaded when asked for
        import bitsandbytes as bnb
    except ImportError:
        raise UserError("--optimizer adamw8bit needs bitsandbytes: `pip install bitsandbytes` "
                        "(CUDA GPUs only), or use --optimizer adamw") from None
    return bnb.optim.AdamW8bit(params, lr=cfg.lr)


def make_schedule(cfg: TrainConfig, optimizer, total: int, done: int):
    """diffusers' schedule, stepped once per optimizer step (not per process: a resume on another
    number of processes continues the same curve); fast-forwarded to `done` steps."""

    schedule = get_scheduler(cfg.scheduler, optimizer, num_warmup_steps=cfg.warmup_steps, num_training_steps=total)
    with warnings.catch_warnings():  # stepping ahead of the optimizer is the point of a fast-forward
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(done):
            schedule.step()
    return schedule


def threads_per_process(processes: int) -> None:
    """CPU processes share the cores instead of each taking all of them."""
    if "OMP_NUM_THREADS" not in os.environ and processes > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 2) // processes))


def peak_memory_mb(device: str) -> float | None:
    """Peak memory of this process: the GPU's allocator on CUDA, else the resident set (Linux, macOS)."""
    if device == "cuda":
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    try:  # Linux: this process image's own high-water mark
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 2**10, 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource  # POSIX only; ru_maxrss survives exec, so a child started by a big process reports its size
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)
