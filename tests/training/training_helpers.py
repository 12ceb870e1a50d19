"""Paths and a command-line runner shared by the training tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOMS = Path("/work/shared/rooms") if Path("/work/shared/rooms").is_dir() else ROOT.parent / "shared" / "rooms"
LPIPS_DIR = ROOMS.parent / "weights" / "lpips"
LPIPS_FEATURES = LPIPS_DIR / "alexnet_features.safetensors"
LPIPS_HEADS = LPIPS_DIR / "alex_lin_v0.1.safetensors"


def run_cli(*args, check_rc: int | None = 0, threads: int = 1, timeout: int = 900):
    """`main.py ARGS` in a child process (one thread per process unless told otherwise)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=timeout)
    if check_rc is not None:
        assert proc.returncode == check_rc, f"rc {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr[-3000:]}"
    return proc
