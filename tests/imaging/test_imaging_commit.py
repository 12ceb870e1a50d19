"""An output and its sidecar are one unit: both complete or neither replaced, across failures,
killed processes and two writers at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from app.imaging import _commit
from app.imaging.io import PhotoError, read_metadata, write_photo

ROOT = Path(__file__).resolve().parents[2]


def pixels(value: int) -> np.ndarray:
    return np.full((24, 32, 3), value, np.uint8)


def pair(out: Path) -> tuple[dict | None, dict]:
    return read_metadata(out), json.loads(out.with_name(out.name + ".json").read_text(encoding="utf-8"))


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_failed_sidecar_leaves_the_old_pair(tmp_path, monkeypatch):
    out = tmp_path / "out.png"
    write_photo(out, pixels(10), metadata={"run": "old"})
    real = os.replace

    def failing(src, dst):
        if str(src).endswith(".tmp") and str(dst).endswith(".json"):  # the new sidecar cannot be put in place
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(_commit.os, "replace", failing)
    with pytest.raises(PhotoError, match="out.png.*No space left"):
        write_photo(out, pixels(200), metadata={"run": "new"})
    monkeypatch.undo()
    assert pair(out) == ({"run": "old"}, {"run": "old"})
    assert int(np.asarray(__import__("PIL.Image").Image.open(out))[0, 0, 0]) == 10, "the image is the old one"
    assert listing(tmp_path) == ["out.png", "out.png.json"]


def test_a_first_write_that_fails_leaves_nothing(tmp_path, monkeypatch):
    real = os.replace
    monkeypatch.setattr(_commit.os, "replace",
                        lambda s, d: (_ for _ in ()).throw(OSError(13, "denied"))
                        if str(s).endswith(".tmp") and str(d).endswith(".json") else real(s, d))
    with pytest.raises(PhotoError):
        write_photo(tmp_path / "new.png", pixels(1), metadata={"run": 1})
    assert listing(tmp_path) == []


KILLER = textwrap.dedent("""
    import os, sys
    import numpy as np
    sys.path.insert(0, {root!r})
    from app.imaging import _commit
    from app.imaging.io import write_photo
    real = os.replace
    def die(src, dst):
        if str(src).endswith(".tmp") and str(dst).endswith(".json"):
            os._exit(9)  # killed between the two renames
        return real(src, dst)
    _commit.os.replace = die
    write_photo({out!r}, np.full((24, 32, 3), 200, np.uint8), metadata={{"run": "killed"}})
""")


def test_a_run_killed_between_the_renames_is_undone_by_the_next_run(tmp_path):
    out = tmp_path / "out.png"
    write_photo(out, pixels(10), metadata={"run": "old"})
    proc = subprocess.run([sys.executable, "-c", KILLER.format(root=str(ROOT), out=str(out))], timeout=120)
    assert proc.returncode == 9
    assert read_metadata(out) == {"run": "killed"}, "the kill landed after the image was replaced"
    assert (tmp_path / ".out.png.commit").exists()
    with _commit.output_lock(out):  # what the next run does first
        _commit.recover(out, [out, out.with_name("out.png.json")])
    assert pair(out) == ({"run": "old"}, {"run": "old"}), "the killed run's image is taken back"
    assert listing(tmp_path) == ["out.png", "out.png.json"]
    write_photo(out, pixels(50), metadata={"run": "next"})
    assert pair(out) == ({"run": "next"}, {"run": "next"})
    assert listing(tmp_path) == ["out.png", "out.png.json"]


def test_stray_temporary_files_of_a_killed_run_are_cleaned_up(tmp_path):
    out = tmp_path / "out.png"
    (tmp_path / ".out.png.tmp").write_bytes(b"half an image")
    (tmp_path / ".out.png.json.tmp").write_bytes(b"{")
    (tmp_path / ".other.png.tmp").write_bytes(b"another output's: not ours to touch")
    write_photo(out, pixels(3), metadata={"run": 1})
    assert listing(tmp_path) == [".other.png.tmp", "out.png", "out.png.json"]


WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    sys.path.insert(0, {root!r})
    from app.imaging.io import write_photo
    me = int(sys.argv[1])
    for i in range(12):
        write_photo({out!r}, np.full((48, 64, 3), me * 40 + i, np.uint8), metadata={{"run": f"{{me}}-{{i}}"}})
""")


def test_two_processes_writing_one_output_never_mix_their_files(tmp_path):
    out = tmp_path / "shared.jpg"
    code = WRITER.format(root=str(ROOT), out=str(out))
    procs = [subprocess.Popen([sys.executable, "-c", code, str(n)]) for n in range(3)]
    assert all(p.wait(timeout=300) == 0 for p in procs)
    embedded, side = pair(out)
    assert embedded == side and side["run"].endswith("-11"), (embedded, side)
    assert listing(tmp_path) == ["shared.jpg", "shared.jpg.json"], "no lock, temp or backup is left"


def test_a_huge_prompt_in_a_jpeg_is_bounded_in_the_file_and_whole_in_the_sidecar(tmp_path):
    prompt = "a sunny living room with " * 4000  # 100 000 characters
    meta = {"app": "RoomStager", "seed": 7, "request": {"prompt": prompt, "steps": 30}}
    out = write_photo(tmp_path / "big.jpg", pixels(90), metadata=meta)
    assert json.loads((tmp_path / "big.jpg.json").read_text(encoding="utf-8")) == meta
    embedded = read_metadata(out)
    assert embedded["truncated"]["full_record"] == "big.jpg.json"
    assert embedded["truncated"]["fields"] == ["request.prompt"]
    assert embedded["request"]["steps"] == 30 and embedded["seed"] == 7
    assert prompt.startswith(embedded["request"]["prompt"].rstrip("…"))


def test_a_non_finite_number_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(PhotoError, match="cannot record the request"):
        write_photo(tmp_path / "x.png", pixels(1), metadata={"guidance": float("nan")})
    assert listing(tmp_path) == []
