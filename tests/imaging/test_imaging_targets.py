"""check_write_targets: no write target is an input by any spelling, and every target is writable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.imaging import targets
from app.imaging.targets import TargetError, check_write_targets, folder, image, mask, named


@pytest.fixture
def photo(tmp_path) -> Path:
    p = tmp_path / "room.png"
    p.write_bytes(b"photo")
    return p


def refused(inputs, outputs, fragment: str) -> str:
    with pytest.raises(TargetError) as err:
        check_write_targets(inputs, outputs)
    assert fragment in str(err.value), str(err.value)
    return str(err.value)


def test_an_input_is_refused_by_every_spelling(tmp_path, photo):
    refused([photo], [photo], "is an input of this job")
    refused([photo], [tmp_path / "sub" / ".." / "room.png"], "room.png")
    (tmp_path / "sub").mkdir()
    refused([photo], [tmp_path / "sub" / ".." / "room.png"], "an input of this job")
    link = tmp_path / "link.png"
    link.symlink_to(photo)
    refused([photo], [link], "is the same file as")
    refused([link], [photo], "is the same file as")  # the input given as a link
    hard = tmp_path / "hard.png"
    os.link(photo, hard)
    msg = refused([photo], [hard], "is the same file as")
    assert str(hard) in msg
    assert photo.read_bytes() == b"photo"


def test_inside_an_input_folder_is_refused_and_outside_is_fine(tmp_path, photo):
    models = tmp_path / "models"
    (models / "inpaint").mkdir(parents=True)
    refused([models], [models / "inpaint" / "x.png"], "inside")
    refused([models], [folder(models / "out")], "an input folder")
    check_write_targets([models, photo], [tmp_path / "out" / "x.png", folder(tmp_path / "out")])


def test_formats_folders_and_files_in_the_way(tmp_path, photo):
    refused([], [tmp_path / "x.gif"], "cannot write '.gif' files")
    refused([], [tmp_path / "noext"], "extensionless")
    refused([], [mask(tmp_path / "m.jpg")], "masks are written as PNG")
    refused([], [named(tmp_path / "r.txt", ".json")], "'.txt'")
    (tmp_path / "dir.png").mkdir()
    refused([], [tmp_path / "dir.png"], "is a folder, not a file name")
    refused([], [folder(photo)], "is a file, not a folder")
    refused([], [tmp_path / "room.png" / "deeper" / "x.png"], f"{photo} is a file")
    check_write_targets([], [image(tmp_path / "new" / "deeper" / "x.jpg"), named(tmp_path / "any.name")])
    assert not (tmp_path / "new").exists(), "checking makes no folders"


def test_the_same_target_twice_is_refused(tmp_path):
    a = tmp_path / "a.png"
    refused([], [a, tmp_path / "." / "a.png"], "write it twice")


def test_a_symlink_loop_says_what_it_is(tmp_path):
    (tmp_path / "l1.png").symlink_to(tmp_path / "l2.png")
    (tmp_path / "l2.png").symlink_to(tmp_path / "l1.png")
    refused([], [tmp_path / "l1.png"], "loops back on itself")


def test_read_only_places_are_refused_before_anything_is_written(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        place = ro if not os.access(ro, os.W_OK) else Path("/proc")  # root writes anywhere but in /proc
        refused([], [place / "x.png"], "cannot write in")
    finally:
        ro.chmod(0o755)
    locked = tmp_path / "locked.png"
    locked.write_bytes(b"keep")
    locked.chmod(0o444)
    real_access = os.access
    if real_access(locked, os.W_OK):  # root: the OS grants it anyway, so ask as a normal user would be answered
        monkeypatch.setattr(targets.os, "access", lambda p, m: False if Path(p) == locked else real_access(p, m))
    refused([], [locked], "read-only")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["locked.png", "ro"], "no probe file is left behind"
