"""The run folder's two small files, the bridge between a training process and whoever watches it.

    status.json   written by the trainer (state, step, total, loss, ETA, best, samples, paths)
    control.json  written by the Train window: {"command": "pause" | "cancel"}

A training process may outlive the window that started it; reopening the window reads
status.json again. Pause and cancel are checked between steps: pause saves a
checkpoint and ends the process (resume starts it again from that checkpoint, also
with another number of processes), cancel ends it keeping the last checkpoint.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

STATUS = "status.json"
CONTROL = "control.json"
COMMANDS = ("pause", "cancel")
# status.json "state": starting, running, validating, paused, cancelled, done or failed


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_status(run_dir: Path, status: dict) -> None:
    _write_json(Path(run_dir) / STATUS, {**status, "updated": time.time(), "pid": os.getpid()})


def read_status(run_dir: Path) -> dict | None:
    return _read_json(Path(run_dir) / STATUS)


def request(run_dir: Path, command: str) -> None:
    """Ask the training process of `run_dir` to pause or cancel at its next step."""
    if command not in COMMANDS:
        raise ValueError(command)
    _write_json(Path(run_dir) / CONTROL, {"command": command, "at": time.time()})


def clear_request(run_dir: Path) -> None:
    (Path(run_dir) / CONTROL).unlink(missing_ok=True)


def requested(run_dir: Path) -> str | None:
    data = _read_json(Path(run_dir) / CONTROL)
    command = data.get("command") if data else None
    return command if command in COMMANDS else None
