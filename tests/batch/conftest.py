"""A photographer's shoot for the batch tests: 12 small rooms (JPEG with EXIF and an ICC
profile, and PNG), a mask per room, and a CSV job list; plus the reference outputs of single
`stage` runs and of one uninterrupted local batch, made once per session.

CPU results depend on torch's thread count, so every run that is compared here uses one
thread per worker (OMP_NUM_THREADS=1), as the Ray actors on a 2-CPU machine do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "automask"))  # automask_rooms, as its conftest expects

from tests.automask.conftest import seeing_semantic  # noqa: E402,F401  (a fixture: semantic masks with known answers)
from tests.conftest import draw_room  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SIZE = (224, 160)
SEED = 11
COMMON = ["--models", "tiny", "--steps", "2", "--seed", str(SEED)]


def one_thread_env(**extra) -> dict:
    env = os.environ.copy()
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1", **extra)
    return env


def run_main(*args, env=None, check_rc: int | None = 0, timeout=600) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env=env or one_thread_env(), timeout=timeout)
    if check_rc is not None:
        assert proc.returncode == check_rc, f"rc {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    return proc


def room_mask(w: int, h: int, i: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    x0 = int(w * (0.2 + 0.02 * (i % 5)))
    m[int(h * 0.5):int(h * 0.8), x0:x0 + int(w * 0.45)] = True
    return m


def write_shoot(folder: Path, count: int = 12, task: str = "stage") -> Path:
    """count rooms + masks + jobs.csv in `folder`; returns the job file."""
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    rows = ["photo,task,mask,style,room,prompt,seed,variations"]
    w, h = SIZE
    for i in range(count):
        pixels = draw_room(w, h, seed=i)
        if i % 2 == 0:
            exif = Image.Exif()
            exif[0x010F] = "TestCam"  # Make
            name = f"room{i:02d}.jpg"
            Image.fromarray(pixels).save(folder / name, quality=92, exif=exif, icc_profile=srgb)
        else:
            name = f"room{i:02d}.png"
            Image.fromarray(pixels).save(folder / name)
        Image.fromarray(room_mask(w, h, i).astype(np.uint8) * 255).save(folder / "masks" / f"room{i:02d}.png")
        style = "scandinavian" if i == 3 else ""
        rows.append(f"{name},{task},masks/room{i:02d}.png,{style},,,,")
    jobs = folder / "jobs.csv"
    jobs.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return jobs


def in_process(argv: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `main(argv)` in this process."""
    import contextlib
    import io

    from app.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.array(img.convert("RGB"))


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def shoot(tmp_path_factory, tiny_models) -> Path:
    return write_shoot(tmp_path_factory.mktemp("shoot") / "photos")


@pytest.fixture(scope="session")
def local_batch(shoot, tmp_path_factory) -> Path:
    """One uninterrupted local batch of the shoot (the reference for every other run)."""
    out = tmp_path_factory.mktemp("local") / "out"
    proc = run_main("batch", shoot, "-o", out, *COMMON, "--json")
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert len(lines) == 12 and all(x["status"] == "done" for x in lines), proc.stderr
    return out


@pytest.fixture(scope="session")
def single_runs(shoot, tmp_path_factory) -> Path:
    """`stage` once per photo, as a user would, all in one process with one thread."""
    out = tmp_path_factory.mktemp("single")
    calls = []
    for photo in sorted(shoot.parent.glob("room*.*")):
        style = ["--style", "scandinavian"] if photo.stem == "room03" else []
        target = out / f"{photo.stem}-stage{'.jpg' if photo.suffix == '.jpg' else '.png'}"
        calls.append(["stage", str(photo), "--mask", str(shoot.parent / "masks" / f"{photo.stem}.png"), *COMMON,
                      *style, "-o", str(target)])
    code = ("import json, sys; from app.cli import main\n"
            f"for argv in json.loads({json.dumps(json.dumps(calls))}):\n"
            "    assert main(argv) == 0, argv\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=one_thread_env(), capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out
