"""Checkpoints: accelerate's saved state, with the UNet reduced to its LoRA, plus the trainer's own.

    RUN/checkpoints/step-0000100/lora.safetensors       the LoRA (a usable LoRA file by itself)
                                 optimizer.bin, ...     accelerate: optimizer, scaler, random states
                                 trainer_state.json     step, samples drawn, best metrics, config

accelerate reads its files back with `weights_only=True`. Nothing in a checkpoint depends
on the number of processes (the data order is a function of the samples drawn, see
data.py), so a run can resume on more or fewer GPUs than it was saved from.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from app.engine.training import runstate
from app.errors import UserError

STATE = "trainer_state.json"
LORA = "lora.safetensors"
KEEP = 2  # newest checkpoints kept (the best LoRA is kept apart)
# a checkpoint that changes these cannot continue the run it came from
MUST_MATCH = ("task", "rank", "alpha", "targets", "base_model", "dataset_sha256")


def folder(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step-{step:07d}"


def register_hooks(accelerator, save_lora, load_lora) -> None:
    """Save and load only the LoRAs of the prepared models (not the gigabytes they sit on):
    `save_lora(model, folder)` and `load_lora(model, folder)` name the files."""

    def save_hook(models, weights, output_dir):
        if accelerator.is_main_process:
            for model in models:
                save_lora(accelerator.unwrap_model(model), Path(output_dir))
        weights.clear()

    def load_hook(models, input_dir):
        while models:
            load_lora(accelerator.unwrap_model(models.pop()), Path(input_dir))

    accelerator.register_save_state_pre_hook(save_hook)
    accelerator.register_load_state_pre_hook(load_hook)


def save(accelerator, run_dir: Path, step: int, state: dict) -> Path:
    """Write a checkpoint at `step` (every process takes part); keeps the newest KEEP."""
    path = folder(run_dir, step)
    accelerator.save_state(str(path))
    if accelerator.is_main_process:
        (path / STATE).write_text(json.dumps({**state, "step": step}, indent=1, default=str), encoding="utf-8")
        for old in all_checkpoints(run_dir)[:-KEEP]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return path


def all_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints of a run folder, oldest first."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / STATE).is_file() and (p / LORA).is_file())


def find(resume: str | Path) -> Path:
    """A checkpoint folder, or the newest checkpoint of a run folder."""
    path = Path(resume)
    if (path / STATE).is_file():
        return path
    found = all_checkpoints(path) or all_checkpoints(path.with_suffix(".training"))
    if not found:
        raise UserError(f"{resume}: no checkpoint to resume from (give a run folder NAME.training or one of "
                        f"its checkpoints/step-N folders)")
    return found[-1]


def read_state(path: Path) -> dict:
    try:
        return json.loads((Path(path) / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: damaged checkpoint ({exc})") from None


def check_compatible(saved: dict, now: dict, path: Path) -> None:
    for key in MUST_MATCH:
        if key in saved and saved[key] != now.get(key):
            raise UserError(f"{path}: the checkpoint was trained with {key} = {saved[key]!r}, this run has "
                            f"{now.get(key)!r}; resume with the same settings and dataset, or start a new run")


def failed_before_training(run_dir: Path) -> bool:
    """A run folder whose run failed before its first step and saved nothing (a wrong dataset path,
    say): it holds nothing of the user's, so the corrected command may replace it."""
    if not Path(run_dir).is_dir() or all_checkpoints(run_dir):
        return False
    status = runstate.read_status(run_dir) or {}
    return status.get("state") == "failed" and not status.get("step")
