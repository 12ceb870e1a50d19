"""Job lists without models: what a folder, a CSV and a TOML file turn into."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.engine.batch.jobs import read_source
from app.engine.batch.plan import BatchOptions, output_names, plan_items
from app.errors import UserError


def _photo(path: Path, data: bytes = b"not decoded while planning") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_precedence_row_then_command_line_then_defaults(tmp_path):
    _photo(tmp_path / "a.jpg")
    _photo(tmp_path / "sub" / "b.tif")
    jobs = tmp_path / "listing.toml"
    jobs.write_text('[defaults]\nstyle = "coastal"\nroom = "bedroom"\nseed = 7\n\n'
                    '[[job]]\nphoto = "a.jpg"\nstyle = "rustic"\n\n'
                    '[[job]]\nphoto = "sub/b.tif"\nvariations = 3\nmask = "auto:floor"\n')
    items = plan_items(read_source(jobs), BatchOptions(room="office"), batch_seed=99)
    a, b = items
    assert (a.style, a.room, a.seed) == ("rustic", "office", 7), "row > command line > [defaults]"
    assert (b.style, b.room, b.mask) == ("coastal", "office", "auto:floor")
    assert b.photo == str(tmp_path / "sub" / "b.tif"), "relative to the job file"
    assert b.outputs == ["b-stage-1.png", "b-stage-2.png", "b-stage-3.png"], "TIFF in, PNG out"
    assert a.outputs == ["a-stage.jpg"] and len(a.photo_sha256) == 64


def test_csv_with_semicolons_byte_order_mark_and_empty_cells(tmp_path):
    _photo(tmp_path / "Living Room.JPG")
    _photo(tmp_path / "k.png")
    (tmp_path / "m.png").write_bytes(b"mask")
    jobs = tmp_path / "jobs.csv"
    jobs.write_bytes("\ufeffphoto;task;mask;seed\nLiving Room.JPG;defurnish;m.png;\nk.png;;;12\n\n".encode())
    items = plan_items(read_source(jobs), BatchOptions(seed=5, format="webp"), batch_seed=1)
    assert [(i.id, i.task, i.seed) for i in items] == [("Living Room-defurnish", "defurnish", 5), ("k-stage", "stage", 12)]
    assert items[0].outputs == ["Living Room-defurnish.webp"] and items[0].mask == str(tmp_path / "m.png")
    assert items[0].mask_sha256 is not None


def test_the_request_key_follows_content_not_place(tmp_path):
    _photo(tmp_path / "one" / "r.jpg", b"same bytes")
    _photo(tmp_path / "two" / "r.jpg", b"same bytes")
    key = [plan_items(read_source(tmp_path / d), BatchOptions(), 3)[0].key for d in ("one", "two")]
    assert key[0] == key[1], "a batch moved to another machine or mount is still the same batch"
    _photo(tmp_path / "two" / "r.jpg", b"edited")
    changed = plan_items(read_source(tmp_path / "two"), BatchOptions(), 3)[0].key
    other = plan_items(read_source(tmp_path / "one"), BatchOptions(steps=31), 3)[0].key
    assert len({key[0], changed, other}) == 3


def test_a_folder_takes_its_photos_only(tmp_path):
    for name in ("b.png", "a.JPG", ".hidden.jpg", "notes.txt", "c.heic"):
        _photo(tmp_path / name)
    (tmp_path / "sub").mkdir()
    _photo(tmp_path / "sub" / "d.jpg")
    assert [r.where for r in read_source(tmp_path).rows] == ["a.JPG", "b.png", "c.heic"]
    with pytest.raises(UserError, match="no photos"):
        read_source(_empty(tmp_path))


def _empty(tmp_path: Path) -> Path:
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


@pytest.mark.parametrize("text, message", [
    ('[[job]]\nphoto = "a.jpg"\nstlye = "x"\n', "unknown key(s) 'stlye'"),
    ('[defaults]\nphoto = "a.jpg"\n[[job]]\nphoto = "a.jpg"\n', "[defaults]: unknown key(s) 'photo'"),
    ('[[job]]\nphoto = "a.jpg"\nseed = true\n', "seed must be a whole number"),
    ('[[job]]\nphoto = "a.jpg"\nseed = 1.5\n', "seed must be a whole number"),
    ('[[job]]\ntask = "stage"\n', "[[job]] 1: no photo"),
    ('photo = "a.jpg"\n', "unknown table(s) 'photo'"),
    ('[[job]\n', "not valid TOML"),
])
def test_bad_toml_names_the_table_and_key(tmp_path, text, message):
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(text)
    with pytest.raises(UserError) as err:
        read_source(jobs)
    assert message in str(err.value) and "jobs.toml" in str(err.value)


def test_options_validate_before_anything_runs():
    # the sampling options are checked by the requests themselves (the command names the option)
    for bad, message in ((dict(steps=0), "steps must be between 1 and 500"),
                         (dict(guidance=float("nan")), "guidance must be a finite number"),
                         (dict(strength=1.5), "strength must be in"), (dict(quality=0), "--quality"),
                         (dict(format="bmp"), "--format"), (dict(prefill="magic"), "prefill must be one of"),
                         (dict(task="paint"), "--task"), (dict(variations=0), "variations")):
        with pytest.raises(UserError, match=message.replace("-", r"\-")):
            BatchOptions(**bad).validate()
    assert output_names("room", "defurnish+stage", ".jpg", 2) == ["room-defurnish+stage-1.jpg",
                                                                   "room-defurnish+stage-2.jpg"]
    json.dumps(BatchOptions().result_settings())  # recorded in the manifest as it is
