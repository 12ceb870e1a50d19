"""`segment --auto`, `defurnish --auto` and `eval-defurnish` on the command line (in-process)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from automask_rooms import draw_room

import app.cli.common  # noqa: F401  (imported at collection: ProgressPrinter binds sys.stderr when imported)
from app.cli import main
from app.engine.evaluation.furniture import generate_mask, paint_furniture
from app.engine.evaluation.metrics import psnr, ssim
from app.imaging.io import read_mask, read_photo, write_mask, write_photo


@pytest.fixture
def room_file(tmp_path, furnished_room, seeing_semantic):
    path = tmp_path / "room.png"
    write_photo(path, furnished_room.photo)
    seeing_semantic(read_photo(path).pixels, furnished_room.labels)
    return path


def test_segment_auto_furniture_writes_the_mask_and_lists_objects(room_file, furnished_room, tmp_path, capsys):
    out = tmp_path / "mask.png"
    rc = main(["segment", str(room_file), "--auto", "furniture", "--method", "semantic", "--models", "tiny",
               "--margin", "5", "--objects-dir", str(tmp_path / "objects"), "-o", str(out), "--json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(o["label"] for o in report["objects"]) == sorted(
        ["sofa", "coffee table", "chair", "chair", "lamp", "plant", "rug"])
    mask = read_mask(out, (320, 240))
    assert mask[furnished_room.mask("sofa")].mean() > 0.9
    assert not mask[furnished_room.mask("window")].any()
    assert len(list((tmp_path / "objects").glob("*.png"))) == 7


def test_segment_auto_nothing_found_says_so_and_writes_nothing(tmp_path, seeing_semantic, capsys):
    empty = draw_room(240, 180, with_furniture=False)
    path = tmp_path / "empty.png"
    write_photo(path, empty.photo)
    seeing_semantic(read_photo(path).pixels, empty.labels)
    out = tmp_path / "mask.png"
    rc = main(["segment", str(path), "--auto", "furniture", "--method", "semantic", "--models", "tiny", "-o", str(out)])
    assert rc == 2 and not out.exists()
    assert "No furniture was found" in capsys.readouterr().err


def test_segment_auto_floor(room_file, furnished_room, tmp_path):
    out = tmp_path / "floor.png"
    assert main(["segment", str(room_file), "--auto", "floor", "--models", "tiny", "-o", str(out)]) == 0
    floor = read_mask(out, (320, 240))
    assert floor[furnished_room.mask("floor")].mean() > 0.95 and not floor[furnished_room.mask("window")].any()


def test_defurnish_auto_removes_what_was_found(room_file, furnished_room, tmp_path, capsys):
    out = tmp_path / "empty.png"
    rc = main(["defurnish", str(room_file), "--auto", "--method", "semantic", "--models", "tiny", "--steps", "1",
               "--seed", "3", "-o", str(out), "--json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["request"]["margin_px"] == 0, "the ring came with the automatic mask"
    result = read_photo(out).pixels
    given = read_photo(room_file).pixels
    changed = (result != given).any(axis=-1)
    assert changed[furnished_room.mask("sofa")].mean() > 0.5
    assert not changed[furnished_room.mask("window")].any(), "the window is kept"


def test_defurnish_auto_with_nothing_found_fails_cleanly(tmp_path, seeing_semantic, capsys):
    empty = draw_room(240, 180, with_furniture=False)
    path = tmp_path / "empty.png"
    write_photo(path, empty.photo)
    seeing_semantic(read_photo(path).pixels, empty.labels)
    out = tmp_path / "out.png"
    rc = main(["defurnish", str(path), "--auto", "--method", "semantic", "--models", "tiny", "--steps", "1",
               "-o", str(out)])
    assert rc == 2 and not out.exists()
    assert "No furniture was found" in capsys.readouterr().err


def test_metrics():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert psnr(a, a) == 100.0 and ssim(a, a) == pytest.approx(1.0)
    b = np.clip(a.astype(int) + 10, 0, 255).astype(np.uint8)
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    assert psnr(a, b) == pytest.approx(10 * np.log10(255**2 / mse))
    region = np.zeros((64, 64), bool)
    region[10:40, 10:40] = True
    c = a.copy()
    c[~region] = 0  # damage outside the region only
    assert psnr(c, a, region) == 100.0 and ssim(c, a, region) > 0.8 and psnr(c, a) < 20
    assert psnr(a, a, np.zeros((64, 64), bool)) is None


def test_generated_furniture_stands_on_the_floor_with_its_shadow_near():
    rng = np.random.default_rng(1)
    mask = generate_mask((240, 320), rng, count=3)
    assert mask.any() and mask[: int(240 * 0.2)].sum() < mask.sum() * 0.2
    photo = np.full((240, 320, 3), 180, np.uint8)
    painted = paint_furniture(photo, mask, rng, shadow_px=6)
    from app.imaging import masks

    changed = (painted != photo).any(axis=-1)
    assert changed[mask].mean() > 0.95
    assert not changed[~masks.grow(mask, 6)].any(), "shadows stay within the margin ring"


def test_eval_defurnish_reports_finite_metrics(tmp_path, capsys):
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    for i in range(3):
        write_photo(empty_dir / f"room{i}.png", draw_room(192, 144, seed=10 + i, with_furniture=False).photo)
    mask_dir = tmp_path / "masks"
    mask_dir.mkdir()
    m = np.zeros((144, 192), bool)
    m[70:120, 60:140] = True
    write_mask(mask_dir / "room1.png", m)
    report_path = tmp_path / "report.json"
    rc = main(["eval-defurnish", str(empty_dir), "--masks", str(mask_dir), "-o", str(report_path), "--models", "tiny",
               "--steps", "1", "--no-lpips", "--save-dir", str(tmp_path / "saved")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "PSNR" in out and "SSIM" in out
    report = json.loads(report_path.read_text())
    assert report["photos"] == 3
    assert [r["mask"] for r in report["images"]].count("generated") == 2
    for part in ("mask_region", "whole"):
        for key in ("psnr", "ssim"):
            assert np.isfinite(report["summary"][part][key])
    assert report["summary"]["mask_region"]["psnr"] < report["summary"]["whole"]["psnr"]
    assert report["summary"]["outside"]["all_identical"], "outside the mask the photo is untouched"
    assert report["summary"]["mask_region"]["lpips"] is None and report["lpips"]["reason"]
    fs = report["summary"]["furniture_score"]
    assert fs is not None and 0.0 <= fs["before"] <= 1.0 and 0.0 <= fs["after"] <= 1.0
    assert len(list((tmp_path / "saved").glob("*-output.png"))) == 3
