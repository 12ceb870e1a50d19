"""What the commands write, run as a user runs them: write targets are refused before the job,
a huge prompt fits a JPEG (bounded in the file, whole in the sidecar), Pillow's warnings about odd
files stay out of the terminal."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.imaging.io import read_metadata
from tests.conftest import draw_room, sofa_mask

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=os.environ.copy(), timeout=600)


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny_models) -> Path:
    d = tmp_path_factory.mktemp("outputs")
    Image.fromarray(draw_room(320, 240)).save(d / "room.png")
    Image.fromarray(sofa_mask(320, 240).astype(np.uint8) * 255).save(d / "mask.png")
    return d


def test_a_bad_target_is_refused_before_any_model_loads(files):
    proc = run_cli("stage", "room.png", "--mask", "mask.png", "--models", "tiny", "-o", "x.gif", cwd=files)
    assert proc.returncode == 2 and "'.gif'" in proc.stderr
    assert "preparing" not in proc.stderr and "step" not in proc.stderr, "refused before the job"
    assert not (files / "x.gif").exists(), "no folder is made for an unknown format"


def test_a_100000_character_prompt_fits_a_jpeg(files):
    prompt = "warm oak floor, linen sofa, " * 3600  # about 100 000 characters
    proc = run_cli("stage", "room.png", "--mask", "mask.png", "--models", "tiny", "--steps", "1", "--seed", "4",
                   "--prompt", prompt, "-o", "long.jpg", cwd=files)
    assert proc.returncode == 0, proc.stderr
    side = json.loads((files / "long.jpg.json").read_text(encoding="utf-8"))
    assert side["request"]["prompt"] == prompt, "the sidecar holds the whole request"
    embedded = read_metadata(files / "long.jpg")
    assert embedded["truncated"]["full_record"] == "long.jpg.json"
    assert "request.prompt" in embedded["truncated"]["fields"] and embedded["seed"] == 4


def test_pillow_warnings_about_a_photo_stay_out_of_the_terminal(files):
    # EXIF whose one tag points past the end of the data: Pillow warns "Tag data larger than file"
    ifd = struct.pack("<2sHIH", b"II", 42, 8, 1) + struct.pack("<HHII", 0x010F, 2, 400, 5000) + struct.pack("<I", 0)
    Image.fromarray(draw_room(320, 240)).save(files / "odd-exif.jpg", exif=b"Exif\0\0" + ifd)
    proc = run_cli("segment", "odd-exif.jpg", "--point", "160,150", "--models", "tiny", "-o", "pm.png", cwd=files)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and "warn" not in proc.stderr.lower(), proc.stderr
