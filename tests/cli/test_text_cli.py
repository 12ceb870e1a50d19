"""`segment PHOTO --text ...` (SAM 3): one run as a user runs it (a subprocess), the bad inputs in-process."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import app.cli.common  # noqa: F401  (imported at collection: ProgressPrinter binds sys.stderr when imported)
from app.cli import main
from tests.cli.test_cli import run_cli
from tests.conftest import draw_room


@pytest.fixture(scope="module")
def photo(tmp_path_factory, tiny_models):
    path = tmp_path_factory.mktemp("text-cli") / "room.png"
    Image.fromarray(draw_room(480, 320)).save(path)
    return path


def test_segment_text_writes_the_mask_objects_and_json(photo, tmp_path):
    out = tmp_path / "chairs.png"
    proc = run_cli("segment", photo, "--text", "Sofa, floor lamp", "--min-score", "0", "--models", "tiny",
                   "--objects-dir", tmp_path / "objects", "-o", out, "--json")
    report = json.loads(proc.stdout)
    assert report["model"] == "tiny-sam3" and report["text"] == "Sofa, floor lamp"
    assert report["outputs"][0] == str(out) and report["request"]["kind"] == "text_segment"
    assert report["request"]["threshold"] == 0.0 and report["request"]["photo"]["shape"] == [320, 480, 3]
    objects = report["objects"]
    assert objects and {o["label"] for o in objects} <= {"sofa", "floor lamp"}
    assert all(o["source"] == "sam3" and 0 <= o["score"] <= 1 for o in objects)
    mask = np.array(Image.open(out))
    assert mask.shape == (320, 480) and set(np.unique(mask)) <= {0, 255}
    assert report["area"] == int((mask > 0).sum())
    per_object = sorted((tmp_path / "objects").glob("*.png"))
    assert len(per_object) == len(objects) == len(report["outputs"]) - 1
    union = np.zeros((320, 480), bool)
    for f in per_object:
        union |= np.array(Image.open(f)) > 0
    assert np.array_equal(union, mask > 0), "the mask is the union of the instances"
    assert "looking for sofa, floor lamp" in proc.stderr, "progress goes to stderr"


@pytest.mark.parametrize("args, message", [
    (["--text", "sofa", "--min-score", "1.5"], "--min-score must be in [0, 1] (got 1.5)"),
    (["--text", "sofa", "--max-instances", "0"], "--max-instances must be between 1 and 500 (got 0)"),
    (["--text", " , "], "name what to select"),
    (["--text", "sofa", "--point", "10,10"], "leave out --point and --box"),
    (["--text", "sofa", "--auto", "furniture"], "choose one of --text and --auto"),
])
def test_bad_text_options_exit_2_with_a_message(photo, tmp_path, capsys, args, message):
    out = tmp_path / "mask.png"
    rc = main(["segment", str(photo), *args, "--models", "tiny", "-o", str(out)])
    assert rc == 2 and message in capsys.readouterr().err
    assert not out.exists()


def test_the_photo_is_never_written_over_and_nothing_found_writes_nothing(photo, tmp_path, capsys):
    before = photo.read_bytes()
    assert main(["segment", str(photo), "--text", "sofa", "--models", "tiny", "-o", str(photo)]) == 2
    assert "is the original photo; choose another name" in capsys.readouterr().err and photo.read_bytes() == before
    out = tmp_path / "none.png"
    assert main(["segment", str(photo), "--text", "piano", "--min-score", "1", "--models", "tiny",
                 "-o", str(out)]) == 2
    assert "Nothing matching 'piano'" in capsys.readouterr().err and not out.exists()
