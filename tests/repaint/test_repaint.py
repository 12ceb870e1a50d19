"""Repaint through the real engine and the command line, with the tiny models."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

import app.cli.common  # noqa: F401  (imported at collection: ProgressPrinter binds sys.stderr when imported)
from app.cli import main
from app.engine import RepaintRequest
from app.errors import UserError
from app.imaging.io import read_photo, write_photo
from tests.conftest import draw_room


def repaint(engine, photo, **kw):
    kw.setdefault("models", "tiny")
    kw.setdefault("model_set", "tiny")
    kw.setdefault("steps", 2)
    kw.setdefault("seed", 7)
    return engine.run(RepaintRequest(photo=photo, **kw))


def test_keep_leaves_the_kept_object_bit_exact_and_repaints_the_rest(engine):
    photo = draw_room(480, 320, seed=1)
    keep = np.zeros(photo.shape[:2], bool)
    keep[140:250, 160:340] = True  # the sofa stays
    result = repaint(engine, photo, mode="keep", mask=keep, prompts=["a sunny beach"], blur_px=6)
    (image,) = result.images
    assert image.shape == photo.shape and image.dtype == np.uint8
    assert np.array_equal(image[keep], photo[keep]), "the kept object is the original, bit for bit"
    changed = (image != photo).any(axis=-1)
    far = ~np.pad(keep, 0)
    far[130:260, 150:350] = False  # beyond the soft edge
    assert changed[far].mean() > 0.95, "everything else is repainted"
    assert np.array_equal(result.mask, ~keep)
    assert result.prompts == ["a sunny beach"] and result.seeds == [7]
    assert result.request.feather_px == 6 and result.request.grow_px == 0


def test_several_prompts_and_variations_give_one_image_each_with_its_prompt(engine):
    photo = draw_room(320, 240, seed=2)
    region = np.zeros(photo.shape[:2], bool)
    region[:100] = True
    result = repaint(engine, photo, mode="mask", mask=region, prompts=["red wall", "blue wall"], variations=2)
    assert result.prompts == ["red wall", "red wall", "blue wall", "blue wall"]
    assert result.seeds == [7, 8, 7, 8]
    assert len(result.images) == 4
    assert not np.array_equal(result.images[0], result.images[2]), "a different prompt, a different picture"
    for image in result.images:
        assert np.array_equal(image[~region], photo[~region])


def test_region_walls_changes_only_wall_pixels(engine, labelled_room, seeing_semantic):
    room = labelled_room
    seeing_semantic(room.photo, room.labels)
    result = repaint(engine, room.photo, mode="region", region="walls", prompts=["sage green painted walls"],
                     blur_px=2)
    (image,) = result.images
    walls = room.mask("wall")
    changed = (image != room.photo).any(axis=-1)
    assert not changed[~walls].any(), "window, door, radiator, floor, ceiling and furniture are untouched"
    assert changed[walls].mean() > 0.9
    assert np.array_equal(result.mask, walls)
    assert result.timings["region_model"] == "tiny-oneformer-ade"


def test_a_region_the_photo_does_not_have_is_said_plainly(engine, labelled_room, seeing_semantic):
    room = labelled_room
    seeing_semantic(room.photo, room.labels)  # an interior: no sky in it
    with pytest.raises(UserError, match="no sky was found"):
        repaint(engine, room.photo, mode="region", region="sky", prompts=["blue sky"])


@pytest.mark.parametrize("fields, message", [
    ({"mode": "region", "region": "garden"}, "region must be one of window-view, walls, floor, ceiling, sky"),
    ({"mode": "keep"}, r"mask is empty \(what to keep\)"),
    ({"mode": "keep", "mask": np.ones((240, 320), bool)}, "keeps the whole photo"),
    ({"mode": "mask", "mask": np.ones((10, 10), bool)}, "mask is 10x10 but the photo is 320x240"),
    ({"mode": "region", "region": "walls", "prompts": ["  "]}, "prompt is missing"),
    ({"mode": "region", "region": "walls", "strength": float("nan")}, "strength must be a finite number"),
    ({"mode": "region", "region": "walls", "guidance": 99.0}, r"guidance must be in \[0, 50\] \(got 99\)"),
    ({"mode": "region", "region": "walls", "blur_px": -1}, "blur_px must be between 0 and 1000"),
])
def test_validate_names_the_problem_before_anything_runs(fields, message):
    fields.setdefault("prompts", ["a view"])
    request = RepaintRequest(photo=np.zeros((240, 320, 3), np.uint8), **fields)
    with pytest.raises(UserError, match=message):
        request.validate()


# ---- the command line ----------------------------------------------------------------------


@pytest.fixture
def room_jpg(tmp_path):
    path = tmp_path / "room.jpg"
    Image.fromarray(draw_room(480, 320, seed=5)).save(path, quality=95)
    return path


def test_prompt_file_with_three_prompts_gives_three_outputs_sidecars_and_a_csv(room_jpg, tmp_path, capsys):
    keep = np.zeros((320, 480), np.uint8)
    keep[150:250, 170:330] = 255
    Image.fromarray(keep).save(tmp_path / "keep.png")
    prompts = tmp_path / "backgrounds.txt"
    prompts.write_text("a beach at sunset\n\n# not a prompt\na pine forest, morning mist\nsnowy mountains\n",
                       encoding="utf-8")
    out = tmp_path / "out"
    rc = main(["repaint", str(room_jpg), "--keep", str(tmp_path / "keep.png"), "--prompt-file", str(prompts),
               "--models", "tiny", "--steps", "2", "--seed", "11", "-o", str(out), "--json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["outputs"]) == 3
    assert report["prompts"] == ["a beach at sunset", "a pine forest, morning mist", "snowy mountains"]
    with open(out / "repaint.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["file_name"] for r in rows] == [f"room_repaint_{i}.jpg" for i in (1, 2, 3)]
    assert [r["prompt"] for r in rows] == report["prompts"] and {r["seed"] for r in rows} == {"11"}
    original = read_photo(room_jpg).pixels
    for i, path in enumerate(report["outputs"]):
        sidecar = json.loads((out / f"room_repaint_{i + 1}.jpg.json").read_text(encoding="utf-8"))
        assert sidecar["prompt"] == report["prompts"][i] and sidecar["seed"] == 11
        assert sidecar["request"]["kind"] == "repaint" and sidecar["request"]["mode"] == "keep"
        assert "digitally altered" in sidecar["disclosure"]
        assert read_photo(path).pixels.shape == original.shape

    # a second run into the same folder keeps the list whole: new files get rows, rewritten files new rows
    rc = main(["repaint", str(room_jpg), "--keep", str(tmp_path / "keep.png"), "--prompt", "a city skyline",
               "--variations", "2", "--models", "tiny", "--steps", "2", "--seed", "3", "-o", str(out)])
    assert rc == 0
    with open(out / "repaint.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and {r["prompt"] for r in rows} == {"a city skyline", "snowy mountains"}


def test_png_output_keeps_the_kept_region_bit_exact(tmp_path, capsys):
    photo = draw_room(480, 320, seed=6)
    write_photo(tmp_path / "room.png", photo)
    keep = np.zeros((320, 480), np.uint8)
    keep[100:300, 50:200] = 255
    Image.fromarray(keep).save(tmp_path / "keep.png")
    out = tmp_path / "new.png"
    rc = main(["repaint", str(tmp_path / "room.png"), "--keep", str(tmp_path / "keep.png"), "--prompt", "a garden",
               "--noise-background", "--models", "tiny", "--steps", "2", "-o", str(out)])
    assert rc == 0
    image = read_photo(out).pixels
    assert np.array_equal(image[keep > 0], photo[keep > 0])
    assert (image != photo).any(axis=-1)[keep == 0].mean() > 0.9
    sidecar = json.loads((tmp_path / "new.png.json").read_text(encoding="utf-8"))
    assert sidecar["request"]["strength"] == 1.0 and sidecar["request"]["noise_background"] is True


@pytest.mark.parametrize("args, message", [
    (["--region", "walls", "--prompt", "x", "--strength", "2"], "--strength must be in (0, 1] (got 2)"),
    (["--region", "walls", "--prompt-file", "missing.txt"], "missing.txt: no such file"),
    (["--region", "walls"], "needs --prompt TEXT or --prompt-file FILE"),
    (["--region", "patio", "--prompt", "x"], "invalid choice: 'patio'"),
    (["--keep", "nothing.png", "--prompt", "x"], "nothing.png"),
    (["--region", "walls", "--mask", "m.png", "--prompt", "x"], "not allowed with argument"),
])
def test_bad_options_exit_2_with_a_message_and_no_traceback(room_jpg, tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    rc = main(["repaint", str(room_jpg), *args, "--models", "tiny", "-o", str(tmp_path / "o.png")])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "o.png").exists()


def test_refuses_to_write_over_its_inputs(room_jpg, capsys):
    rc = main(["repaint", str(room_jpg), "--region", "walls", "--prompt", "x", "--models", "tiny",
               "-o", str(room_jpg)])
    assert rc == 2 and "is the original photo; choose another name" in capsys.readouterr().err
