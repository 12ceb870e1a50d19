"""The Windows lock and its drift check (installer/locks.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import locks
import pytest
from installer_testkit import INSTALLER, ROOT

LOCK_TEXT = locks.LOCK.read_text(encoding="utf-8")


@pytest.fixture
def project_copy(tmp_path: Path) -> tuple[Path, Path, Path]:
    """pyproject.toml, requirements-installer.in and the lock, copied so they can be bent."""
    (tmp_path / "installer" / "locks").mkdir(parents=True)
    pyproject = shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    installer_in = shutil.copy2(
        INSTALLER / "requirements-installer.in", tmp_path / "installer" / "requirements-installer.in"
    )
    lock = shutil.copy2(locks.LOCK, tmp_path / "installer" / "locks" / locks.LOCK.name)
    return Path(pyproject), Path(installer_in), Path(lock)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_committed_lock_matches_pyproject() -> None:
    """The CI guard: fails when someone changes pyproject.toml without `python installer/locks.py`."""
    assert locks.check(ROOT / "pyproject.toml", locks.LOCK) == []


def test_committed_lock_is_for_windows_and_leaves_torch_out() -> None:
    pins = locks.read_pins(LOCK_TEXT)
    assert "torch" not in pins and "torchvision" not in pins
    assert {"pip", "nvidia-ml-py", "pyside6-essentials", "diffusers", "opencv-python-headless"} <= set(pins)
    assert "opencv-python" not in pins  # the GUI build of OpenCV bundles a Qt that fights PySide6
    assert all(pin.hashes for pin in pins.values())
    assert "colorama" in pins  # Windows-only dependency (of tqdm / click): proof it was resolved for Windows


def test_new_dependency_is_drift(project_copy) -> None:
    pyproject, installer_in, lock = project_copy
    edit(pyproject, '"peft>=0.13",', '"peft>=0.13",\n    "rawpy>=0.20",')
    problems = locks.check(pyproject, lock, installer_in)
    assert any("changed since" in p for p in problems)
    assert any("rawpy" in p and "not in" in p for p in problems)


def test_tightened_constraint_is_drift(project_copy) -> None:
    pyproject, installer_in, lock = project_copy
    edit(pyproject, '"pillow>=11"', '"pillow>=99"')
    problems = locks.check(pyproject, lock, installer_in)
    assert any("pillow>=99" in p and "pins pillow==" in p for p in problems)


def test_moving_the_torch_pin_is_drift(project_copy) -> None:
    pyproject, installer_in, lock = project_copy
    edit(pyproject, '"torch==2.13.0"', '"torch==2.13.1"')
    assert any("changed since" in p for p in locks.check(pyproject, lock, installer_in))


def test_installer_requirements_count(project_copy) -> None:
    pyproject, installer_in, lock = project_copy
    installer_in.write_text(installer_in.read_text() + "psutil>=99\n")
    problems = locks.check(pyproject, lock, installer_in)
    assert any("changed since" in p for p in problems) and any("psutil>=99" in p for p in problems)


def test_hand_edits_to_the_lock_are_caught(project_copy) -> None:
    pyproject, installer_in, lock = project_copy
    lines, in_qasync = [], False
    for line in lock.read_text(encoding="utf-8").splitlines():
        if line.startswith("qasync=="):
            in_qasync, line = True, line.rstrip(" \\")
        elif not line.startswith(" "):
            in_qasync = False
        if not (in_qasync and "--hash" in line):  # strip qasync's hashes, as a careless hand edit would
            lines.append(line)
    lines += ["torch==2.13.0 \\", "    --hash=sha256:" + "a" * 64]
    text = "\n".join(lines) + "\n"
    lock.write_text(text, encoding="utf-8")
    problems = locks.check(pyproject, lock, installer_in)
    assert any(p.startswith("qasync==") and "no --hash" in p for p in problems)
    assert any(p.startswith("torch must not be in the lock") for p in problems)


def test_environment_markers_are_evaluated_for_windows(project_copy) -> None:
    pyproject, installer_in, lock = project_copy
    edit(pyproject, '"peft>=0.13",', '"peft>=0.13",\n    "uvloop>=0.19; sys_platform != \'win32\'",')
    problems = locks.check(pyproject, lock, installer_in)
    assert not any("uvloop" in p for p in problems)  # not needed on Windows, so not missing
    assert any("changed since" in p for p in problems)


def test_check_command_exit_codes(project_copy) -> None:
    pyproject, installer_in, lock = project_copy
    command = [sys.executable, str(INSTALLER / "locks.py"), "--check", "--lock", str(lock)]
    assert subprocess.run([*command, "--pyproject", str(pyproject)], capture_output=True).returncode == 0
    edit(pyproject, '"qasync>=0.27",', "")
    result = subprocess.run([*command, "--pyproject", str(pyproject)], capture_output=True, text=True)
    assert result.returncode == 1 and "lock drift" in result.stderr


def test_uv_resolves_the_same_lock_for_windows(project_copy) -> None:
    """Re-resolving with the committed pins as preferences must change nothing: the lock is consistent.

    Needs uv (dev dependency) and PyPI; CI has both.
    """
    if shutil.which("uv") is None and not _uv_module():
        if os.environ.get("CI"):
            pytest.fail("uv is missing on CI: add uv to the dev extra in pyproject.toml")
        pytest.skip("uv not installed")
    pyproject, installer_in, lock = project_copy
    root = pyproject.parent
    locks.compile_lock(root, lock, installer_in)
    assert locks.read_pins(lock.read_text(encoding="utf-8")) == locks.read_pins(LOCK_TEXT)
    assert locks.check(pyproject, lock, installer_in) == []


def _uv_module() -> bool:
    try:
        import uv  # noqa: F401
    except ImportError:
        return False
    return True
