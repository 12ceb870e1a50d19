"""`--model-set best` / `best-commercial` and `--fast` from the command line, as a user runs them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageCms

from tests.cli.test_cli import run_cli
from tests.conftest import draw_room


@pytest.fixture(scope="module")
def rotated(tmp_path_factory, tiny_models):
    """A sideways-stored JPEG with EXIF orientation 6 and an sRGB profile, and an upright mask."""
    d = tmp_path_factory.mktemp("families")
    upright = draw_room(640, 480, seed=4)
    exif = Image.Exif()
    exif[0x0112] = 6
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(np.ascontiguousarray(np.rot90(upright, 1))).save(d / "room.jpg", quality=98, exif=exif,
                                                                     icc_profile=icc)
    mask = np.zeros((480, 640), np.uint8)
    mask[200:330, 220:420] = 255
    Image.fromarray(mask).save(d / "mask.png")
    return d


@pytest.mark.slow
@pytest.mark.parametrize("command,model_set,fast", [("stage", "best", True), ("defurnish", "best-commercial", False)])
def test_best_sets_run_end_to_end(rotated, model_set, fast, command):
    from app.imaging.io import read_photo

    out = rotated / f"{command}-{model_set}.png"
    args = [command, rotated / "room.jpg", "--mask", rotated / "mask.png", "--models", "tiny", "--model-set",
            model_set, "--seed", 9, "-o", out, "--json"] + (["--fast"] if fast else ["--steps", 2])
    report = json.loads(run_cli(*args).stdout)
    timings = report["timings"]
    assert timings["model_set"] == model_set and timings["fast"] is fast
    assert timings["steps"] == (8 if fast else 2)
    original = read_photo(rotated / "room.jpg")
    with Image.open(out) as img:
        assert img.info.get("icc_profile") == original.icc_profile, "the colour profile is carried over"
        result = np.array(img.convert("RGB"))
    assert result.shape == (480, 640, 3), "upright, like the photo is shown"
    sidecar = json.loads(out.with_name(out.name + ".json").read_text())
    assert sidecar["sampling"]["model_set"] == model_set and sidecar["request"]["fast"] is fast
    assert sidecar["licenses"] and all("commercial_use" in m for m in sidecar["licenses"])
    # outside the edited region (mask grown by the job's defaults) every pixel is the upright original's
    far = np.ones((480, 640), bool)
    far[150:380, 170:470] = False
    assert np.array_equal(result[far], original.pixels[far])


def test_fast_on_a_set_without_its_lora_names_the_download(rotated, tmp_path, tiny_models):
    import shutil

    root = tmp_path / "m"
    shutil.copytree(tiny_models, root)
    (root / "loras" / "tiny-flux-turbo.safetensors").unlink()
    proc = run_cli("stage", rotated / "room.jpg", "--mask", rotated / "mask.png", "--models", root, "--model-set",
                   "best", "--fast", "-o", tmp_path / "o.png", check_rc=2)
    assert "models download tiny-flux-turbo-lora" in proc.stderr and "Traceback" not in proc.stderr


def test_models_list_recommends_by_vram(tmp_path):
    for vram, expected, best in (("16", "best-commercial", "best-16gb"), ("24", "best-commercial", "best"),
                                 ("8", "standard", "standard")):
        listing = json.loads(run_cli("models", "list", "--models", tmp_path, "--vram", vram, "--json").stdout)
        assert listing["recommended_set"] == expected and listing["best_quality_set"] == best
        sets = {s["name"]: s for s in listing["sets"]}
        assert sets["best"]["commercial_use"] is False and sets["best-commercial"]["commercial_use"] is True
        assert sets["standard"]["fast"] and sets["best"]["speed"] == "slow"
    text = run_cli("models", "list", "--models", tmp_path, "--vram", "24").stdout
    assert "Highest quality that fits: best (NON-COMMERCIAL" in text


def test_guidance_out_of_range_is_a_usage_error(rotated, tmp_path):
    proc = run_cli("stage", rotated / "room.jpg", "--models", "tiny", "--guidance", "-3", "-o", tmp_path / "x.png",
                   check_rc=2)
    assert "--guidance must be in [0, 50] (got -3)" in proc.stderr
