"""Crafted project files (project_cases.py) are refused with a message naming the file, before a
document is built; opening them stays under 1 GB; undo steps never raise; a missing photo leaves
no temporary copy behind; folder projects never read outside their folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

from app.errors import UserError
from tests.hostile.project_cases import PROJECT_CASES, ProjectCase, bent, real_project, unpack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def good(tmp_path_factory, qapp) -> Path:
    return real_project(tmp_path_factory.mktemp("project"))


def open_project(path: Path):
    from app.ui.project_file import build_document, read_project

    return build_document(read_project(path))


def test_the_real_project_opens(good):
    doc = open_project(good)
    assert doc.size == (320, 240) and len(doc.results) == 1 and doc.base_id == "r1"
    assert doc.stack.count() == 2


@pytest.mark.parametrize("case", PROJECT_CASES, ids=[c.name for c in PROJECT_CASES])
def test_a_crafted_project_is_refused_naming_the_file(good, tmp_path, case):
    crafted = bent(case, good, tmp_path / "crafted.rsproj")
    with pytest.raises(UserError) as err:
        open_project(crafted)
    assert "crafted.rsproj" in str(err.value) and case.says in str(err.value), str(err.value)


MEMORY = textwrap.dedent("""
    import json, resource, sys
    sys.path.insert(0, {root!r})
    from app.errors import UserError
    from app.ui.project_file import read_project
    refused = 0
    for path in sys.argv[1:]:
        try:
            read_project(path)
        except UserError:
            refused += 1
    try:  # the high-water mark of this process's own memory (ru_maxrss carries the parent's across exec)
        status = open("/proc/self/status").read()
        peak = int(status.split("VmHWM:")[1].split()[0]) * 1024
    except (OSError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    print(json.dumps({{"refused": refused, "peak": peak}}))
""")


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="resource.getrusage is POSIX; the limits are the same code")
def test_opening_every_bomb_stays_under_one_gigabyte(good, tmp_path):
    big = 1200 * 2**20  # each inflates past the 1 GB ceiling: reading any of them whole would break it
    bombs = [c for c in PROJECT_CASES if "100000" in c.name or "lies" in c.name or "patch inflating" in c.name]
    bombs += [ProjectCase("a 1.2 GB mask", lambda m, f: f.__setitem__(m["mask"], big), ""),
              ProjectCase("a 1.2 GB project.json", lambda m, f: big, ""),
              ProjectCase("a 1.2 GB mask that claims 1000 bytes", lambda m, f: f.__setitem__(m["mask"], big), "",
                          lie=("MASK", 1000))]
    files = [str(bent(c, good, tmp_path / f"bomb{i}.rsproj")) for i, c in enumerate(bombs)]
    proc = subprocess.run([sys.executable, "-c", MEMORY.format(root=str(ROOT)), *files], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["refused"] == len(files) >= 5
    assert report["peak"] < 2**30, f"peak {report['peak'] / 2**20:.0f} MB"
    print(f"peak while opening {len(files)} hostile projects: {report['peak'] / 2**20:.0f} MB")


def test_a_missing_photo_opens_from_its_copy_and_leaves_nothing_behind(good, tmp_path):
    from app.ui.project_file import snapshot, write_zip

    moved = tmp_path / "p.rsproj"
    moved.write_bytes(good.read_bytes())
    meta, _ = unpack(moved)
    photo = Path(meta["photo"])
    hidden = photo.with_name("away.png")
    before = set(os.listdir(tempfile.gettempdir()))
    photo.rename(hidden)
    try:
        doc = open_project(moved)
        assert doc.path == photo and doc.size == (320, 240)
        assert set(os.listdir(tempfile.gettempdir())) == before, "no temporary copy of the photo"
        again = write_zip(snapshot(doc, portable=True), tmp_path / "again.rsproj")
        assert open_project(again).original.shape == (240, 320, 3), "a re-save keeps the photo's copy"
    finally:
        hidden.rename(photo)


def test_a_folder_project_never_reads_outside_its_folder(good, tmp_path):
    from app.ui.project_file import read_project

    meta, files = unpack(good)
    folder = tmp_path / "autosave"
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    secret = tmp_path / "secret.png"
    secret.write_bytes(files[meta["mask"]])
    (folder / meta["mask"]).unlink()
    (folder / meta["mask"]).symlink_to(secret)  # a link out of the folder
    (folder / "project.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(UserError, match="leads outside the project folder"):
        read_project(folder)
    meta["mask"] = "../secret.png"
    (folder / "project.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(UserError, match="outside the project"):
        read_project(folder)


def test_an_undo_step_that_cannot_apply_is_reported_never_raised(good):
    from app.ui.undo_commands import MaskEdit

    doc = open_project(good)
    problems: list[str] = []
    doc.problem.connect(problems.append)
    patch = np.full((10, 10), 255, np.uint8)
    doc.stack.push(MaskEdit(doc, (315, 235, 325, 245), patch, patch, "Bad patch", applied=True))
    doc.stack.undo()  # Qt calls undo(): an exception here would end the process
    doc.stack.redo()
    assert len(problems) == 2 and "Bad patch" in problems[0] and "does not fit" in problems[0]


def test_a_project_file_gets_normal_permissions(good, tmp_path):
    from app.ui.project_file import snapshot, write_zip

    umask = os.umask(0o022)
    os.umask(umask)
    out = write_zip(snapshot(open_project(good), portable=True), tmp_path / "perm.rsproj")
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["perm.rsproj"]
