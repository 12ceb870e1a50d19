"""LoRA training for de-furnishing and staging: datasets (dataset_builder), the run (trainer),
validation, checkpoints and the trained LoRA's file and catalog entry.

What the commands and the window use is named here. Importing it loads no torch: the trainer
(torch, diffusers, accelerate, peft) loads when a run starts."""

from app.engine.training.config import (
    ARCHES,
    OPTIMIZERS,
    PRECISIONS,
    PRESETS,
    SCHEDULERS,
    TASKS,
    TrainConfig,
    expand_targets,
)
from app.engine.training.dataset_builder import DatasetOptions, build_dataset
from app.engine.training.launch import launch, under_launcher, without_processes
from app.engine.training.metrics_log import log_paths, read_rows
from app.engine.training.runstate import STATUS, clear_request, read_status, request


def train(cfg: TrainConfig, progress=None) -> dict:
    """Run one LoRA training to its end (or its pause or cancel) and return its summary."""
    # heavy: the trainer brings torch, diffusers, accelerate and peft, loaded when a run starts
    from app.engine.training.trainer import train as run

    return run(cfg, progress)


__all__ = [
    "ARCHES", "OPTIMIZERS", "PRECISIONS", "PRESETS", "SCHEDULERS", "STATUS", "TASKS", "DatasetOptions", "TrainConfig",
    "build_dataset", "clear_request", "expand_targets", "launch", "log_paths", "read_rows", "read_status",
    "request", "train", "under_launcher", "without_processes",
]
