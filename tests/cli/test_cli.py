"""The headless commands, run as a user runs them: `python main.py ...` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from tests.conftest import draw_room, sofa_mask

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args, check_rc: int | None = 0):
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, env=os.environ.copy(), timeout=600)
    if check_rc is not None:
        assert proc.returncode == check_rc, f"rc {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny_models):
    d = tmp_path_factory.mktemp("cli")
    room = draw_room()
    Image.fromarray(room).save(d / "room.png")
    Image.fromarray(room).save(d / "room.jpg", quality=95,
                               icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    Image.fromarray(sofa_mask().astype(np.uint8) * 255).save(d / "mask.png")
    return d


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def test_stage_png_json_and_sidecar(files):
    out = files / "staged.png"
    proc = run_cli("stage", files / "room.png", "--mask", files / "mask.png", "--models", "tiny", "--steps", 2,
                   "--seed", 42, "--style", "scandinavian", "--room", "bedroom", "-o", out, "--json")
    report = json.loads(proc.stdout)
    assert report["outputs"] == [str(out)] and report["seeds"] == [42]
    assert report["request"]["style"] == "scandinavian" and report["request"]["photo"]["shape"] == [640, 960, 3]
    assert {"diffusion_s", "total_s"} <= set(report["timings"])
    assert "step 2/2" in proc.stderr, "progress is reported on stderr"
    original = np.array(Image.open(files / "room.png"))
    staged = np.array(Image.open(out))
    assert staged.shape == original.shape
    changed = (staged != original).any(axis=-1)
    near = np.zeros_like(changed)
    ys, xs = np.nonzero(sofa_mask())
    near[ys.min() - 40:ys.max() + 40, xs.min() - 40:xs.max() + 40] = True
    assert changed.any() and not changed[~near].any(), "PNG output: every pixel away from the mask is the original"
    sidecar = json.loads((files / "staged.png.json").read_text())
    assert sidecar["request"]["seed"] == 42 and sidecar["request"]["steps"] == 2


def test_jpeg_output_keeps_icc_and_quality_outside_the_mask(files):
    out = files / "staged.jpg"
    run_cli("stage", files / "room.jpg", "--mask", files / "mask.png", "--models", "tiny", "--steps", 2,
            "--seed", 1, "-o", out)
    with Image.open(out) as img:
        assert img.info.get("icc_profile") == Image.open(files / "room.jpg").info["icc_profile"]
        staged = np.array(img.convert("RGB"))
    original = np.array(Image.open(files / "room.jpg").convert("RGB"))
    outside = ~np.pad(sofa_mask(), 0)
    ys, xs = np.nonzero(sofa_mask())
    outside[ys.min() - 40:ys.max() + 40, xs.min() - 40:xs.max() + 40] = False
    assert psnr(staged[outside], original[outside]) >= 45


def test_exif_rotated_photo_comes_out_upright(files):
    upright = draw_room(640, 480, seed=3)
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # what a camera held sideways stores (480x640)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    Image.fromarray(stored).save(files / "rotated.jpg", quality=98, exif=exif)
    mask = np.zeros((480, 640), np.uint8)
    mask[200:300, 250:400] = 255
    Image.fromarray(mask).save(files / "rotated_mask.png")
    out = files / "rotated_out.png"
    run_cli("stage", files / "rotated.jpg", "--mask", files / "rotated_mask.png", "--models", "tiny",
            "--steps", 1, "--seed", 3, "-o", out)
    result = np.array(Image.open(out))
    assert result.shape == (480, 640, 3)
    # far from the mask the upright picture is the original's (JPEG-decoded) pixels
    assert psnr(result[:120], upright[:120]) > 30


def test_defurnish_to_a_folder_with_variations(files):
    out_dir = files / "empty"
    proc = run_cli("defurnish", files / "room.png", "--mask", files / "mask.png", "--models", "tiny",
                   "--steps", 1, "--seed", 5, "--variations", 2, "-o", out_dir, "--json")
    report = json.loads(proc.stdout)
    assert report["seeds"] == [5, 6] and len(report["outputs"]) == 2
    assert all(Path(p).parent == out_dir and Path(p).is_file() for p in report["outputs"])


def test_segment_and_guides(files):
    out = files / "sofa_mask.png"
    proc = run_cli("segment", files / "room.png", "--point", "500,400", "--point", "50,50,neg",
                   "--box", "300,250,700,500", "--models", "tiny", "-o", out, "--json")
    report = json.loads(proc.stdout)
    assert report["outputs"] == [str(out)] and len(report["scores"]) == 3
    with Image.open(out) as m:
        assert m.size == (960, 640) and set(np.unique(np.array(m))) <= {0, 255}
    guides = files / "guides"
    run_cli("guides", files / "room.png", "--models", "tiny", "-o", guides)
    for name in ("canny.png", "depth.png", "staging_area.png"):
        with Image.open(guides / name) as g:
            assert g.size == (960, 640)


@pytest.mark.parametrize(
    "args, message",
    [
        (["stage", "{d}/missing.jpg", "-o", "{d}/o.png"], "missing.jpg"),
        (["stage", "{d}/empty.jpg", "-o", "{d}/o.png"], "empty.jpg"),
        (["stage", "{d}/notes.jpg", "-o", "{d}/o.png"], "notes.jpg"),
        (["stage", "{d}/room.png", "--mask", "{d}/small_mask.png", "-o", "{d}/o.png"], "960x640"),
        (["stage", "{d}/room.png", "-o", "{d}/room.png"], "original"),
        (["stage", "{d}/room.png", "--steps", "0", "-o", "{d}/o.png"], "--steps"),
        (["stage", "{d}/room.png", "--style", "gothic", "--mask", "{d}/mask.png", "-o", "{d}/o.png"], "gothic"),
        (["stage", "{d}/room.png", "--model-set", "nope", "-o", "{d}/o.png"], "nope"),
        (["stage", "{d}/room.png", "--models", "{d}/no_such_dir", "-o", "{d}/o.png"], "no_such_dir"),
        (["segment", "{d}/room.png", "-o", "{d}/m.png"], "--point"),
        (["segment", "{d}/room.png", "--point", "12", "-o", "{d}/m.png"], "X,Y"),
        (["defurnish", "{d}/room.png", "-o", "{d}/o.png"], "--mask"),
        (["stage"], "PHOTO"),
    ],
)
def test_bad_input_exits_2_with_a_message(files, args, message):
    (files / "empty.jpg").write_bytes(b"")
    (files / "notes.jpg").write_text("not a picture")
    Image.fromarray(np.zeros((100, 80), np.uint8)).save(files / "small_mask.png")
    argv = [a.format(d=files) for a in args]
    if len(argv) > 1 and "--models" not in argv:
        argv += ["--models", "tiny"]
    from app.cli import main

    proc_rc, err = _run_in_process(main, argv)
    assert proc_rc == 2, err
    assert message in err and "Traceback" not in err


def _run_in_process(main, argv):
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(argv)
    return rc, err.getvalue()


def test_truncated_and_oversized_photos_are_refused(files, monkeypatch):
    from app.cli import main

    data = (files / "room.jpg").read_bytes()
    (files / "cut.jpg").write_bytes(data[: len(data) // 2])
    rc, err = _run_in_process(main, ["stage", str(files / "cut.jpg"), "--models", "tiny", "-o", str(files / "o.png")])
    assert rc == 2 and "cut.jpg" in err and "Traceback" not in err
    monkeypatch.setenv("ROOMSTAGER_MAX_MEGAPIXELS", "0.5")
    rc, err = _run_in_process(main, ["stage", str(files / "room.png"), "--models", "tiny", "-o", str(files / "o.png")])
    assert rc == 2 and "room.png" in err and "megapixel" in err


def test_a_missing_model_names_it_and_the_ways_to_get_it(files, tmp_path):
    proc = run_cli("stage", files / "room.png", "--mask", files / "mask.png", "--models", tmp_path,
                   "--model-set", "standard", "-o", files / "o.png", check_rc=2)
    assert "sd15-inpainting" in proc.stderr
    assert "models download" in proc.stderr and "models import" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bench_quick_reports_the_numbers():
    proc = run_cli("bench", "--quick", "--json")
    report = json.loads(proc.stdout)
    for key in ("sam_click_ms", "sam_predict_ms", "sam2_embed_s", "sam2_click_ms", "prepost_24mp_s", "tiny_stage_s", "second_job_loads",
                "text_select_tiny_again_s", "automask_furniture_tiny_sam3_s", "text_mask_ms_per_instance",
                "export_png_24mp_s", "export_png_24mp_pillow_default_s", "export_tiff_24mp_s", "project_save_24mp_s",
                "train_tiny_step_s", "train_tiny_peak_mb"):
        assert key in report
    assert report["second_job_loads"] == 0
    assert report["sam2_model"] == "tiny" and report["sam2_click_ms"] > 0
    assert report["prepost_outside_mask_identical"] is True
    assert report["repaint_24mp_kept_identical"] is True
    assert report["train_tiny_step_s"] > 0 and report["train_tiny_device"] in ("cpu", "cuda", "mps")
    for key in ("repaint_24mp_around_model_s", "mesh_24mp_build_s", "mesh_24mp_glb_mb", "view3d_render_800x600_ms"):
        assert report[key] > 0
    # fast mode against the normal preset, same photo, same run
    assert report["tiny_normal_steps"] == 30 and report["tiny_fast_steps"] == 4
    assert report["tiny_fast_step_ratio"] >= 4 and report["tiny_fast_denoise_speedup"] >= 4
