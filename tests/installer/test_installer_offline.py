"""firstrun end to end from a local wheel folder: real pip installs into a bare venv, no network.

The wheels are stand-ins with the real names (torch-2.13.0+cu130-...) and just enough API for the
verification probe, so every path - chosen build present, missing, broken on this PC - is exercised.
Folders carry spaces and non-ASCII letters, as studio shares do.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest
from firstrun import gpu, run, wheels
from firstrun.builds import Gpu
from installer_testkit import ODD_NAME, PINS, write_fake_torch_pair, write_wheel

RTX_4090 = Gpu("NVIDIA GeForce RTX 4090", (581, 57), (8, 9), 24564)


def detector(*gpus: Gpu):
    return lambda: gpu.Detection(list(gpus), "nvml" if gpus else "none")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("an offline install must not touch the network")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture
def pins_file(tmp_path: Path) -> Path:
    path = tmp_path / "pins.json"
    path.write_text(json.dumps(PINS))
    return path


def firstrun(python: Path, folder: Path, state: Path, pins_file: Path, *gpus: Gpu, extra: tuple = ()) -> int:
    argv = [
        "--wheels",
        str(folder),
        "--python",
        str(python),
        "--state-dir",
        str(state),
        "--pins",
        str(pins_file),
    ]
    return run.main([*argv, *extra], detector=detector(*gpus))


def installed_version(python: Path) -> str:
    result = subprocess.run(
        [str(python), "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True
    )
    return result.stdout.strip()


def test_no_gpu_installs_the_cpu_build_from_the_folder(
    tmp_path: Path, bare_venv: Path, pins_file: Path, capsys
) -> None:
    folder = tmp_path / ODD_NAME / "torch wheels"
    write_fake_torch_pair(folder, "cpu", None, False)
    write_fake_torch_pair(folder, "cu130", "13.0", True)
    state = tmp_path / ODD_NAME / "state"

    assert firstrun(bare_venv, folder, state, pins_file) == 0
    assert installed_version(bare_venv) == "2.13.0+cpu"
    result = json.loads((state / "result.json").read_text(encoding="utf-8"))
    assert result["ok"] and result["build"] == "cpu" and result["gpu"] is None
    assert "processor" in (state / "message.txt").read_text(encoding="utf-8")
    # The installer's message box reads this one.
    assert "processor" in (state / "message-utf16le.txt").read_bytes().decode("utf-16-le")
    assert "No NVIDIA graphics card found" in capsys.readouterr().out

    # Run again (Start-menu "Set up GPU"): nothing to do, and it says so.
    assert firstrun(bare_venv, folder, state, pins_file) == 0
    assert "already installed and works" in capsys.readouterr().out


def test_gpu_gets_the_chosen_cuda_build(tmp_path: Path, bare_venv: Path, pins_file: Path) -> None:
    folder = tmp_path / ODD_NAME
    write_fake_torch_pair(folder, "cu126", "12.6", True)
    write_fake_torch_pair(folder, "cu130", "13.0", True)
    state = tmp_path / "state"
    assert firstrun(bare_venv, folder, state, pins_file, RTX_4090) == 0
    assert installed_version(bare_venv) == "2.13.0+cu130"
    result = json.loads((state / "result.json").read_text(encoding="utf-8"))
    assert result["build"] == "cu130" and result["torch"]["available"] is True
    assert "Fake RTX" in result["message"]


def test_chosen_build_missing_from_folder_uses_the_next_that_fits(
    tmp_path: Path, bare_venv: Path, pins_file: Path
) -> None:
    folder = tmp_path / "wheels"
    write_fake_torch_pair(folder, "cu126", "12.6", True)  # cu130 would be first choice for this card
    state = tmp_path / "state"
    assert firstrun(bare_venv, folder, state, pins_file, RTX_4090) == 0
    assert installed_version(bare_venv) == "2.13.0+cu126"


def test_cuda_build_that_cannot_reach_the_gpu_falls_back_to_processor(
    tmp_path: Path, bare_venv: Path, pins_file: Path
) -> None:
    folder = tmp_path / "wheels"
    write_fake_torch_pair(folder, "cu130", "13.0", False)  # imports, but torch.cuda.is_available() is False
    write_fake_torch_pair(folder, "cpu", None, False)
    state = tmp_path / "state"
    assert firstrun(bare_venv, folder, state, pins_file, RTX_4090) == run.USING_PROCESSOR
    assert installed_version(bare_venv) == "2.13.0+cpu"
    result = json.loads((state / "result.json").read_text(encoding="utf-8"))
    assert result["build"] == "cpu"
    assert any("cannot reach the NVIDIA graphics card" in f for f in result["failures"])


def test_folder_without_usable_wheels_fails_and_says_what_is_missing(
    tmp_path: Path, bare_venv: Path, pins_file: Path
) -> None:
    folder = tmp_path / "wheels"
    write_wheel(folder, "torch", "2.12.0+cpu", {"torch/__init__.py": ""})  # wrong version: not a match
    state = tmp_path / "state"
    assert firstrun(bare_venv, folder, state, pins_file) == 1
    message = (state / "message.txt").read_text(encoding="utf-8")
    assert "could not set up torch" in message and "cpu" in message
    assert installed_version(bare_venv) == ""


def test_detect_only_installs_nothing(tmp_path: Path, bare_venv: Path, pins_file: Path, capsys) -> None:
    folder = tmp_path / "wheels"
    write_fake_torch_pair(folder, "cu130", "13.0", True)
    old = Gpu("GeForce GTX 1080", (472, 12), (6, 1), 8192)
    assert firstrun(bare_venv, folder, tmp_path / "state", pins_file, old, extra=("--detect-only",)) == 0
    out = capsys.readouterr().out
    assert "driver 472.12" in out and "too old" in out and "561.17" in out
    assert installed_version(bare_venv) == ""


def test_folder_matching_by_wheel_name_and_tags(tmp_path: Path) -> None:
    folder = tmp_path / "w"
    write_fake_torch_pair(folder, "cu126", "12.6", True)
    write_fake_torch_pair(folder, "cpu", None, False)
    write_wheel(folder, "torch", "2.13.0+cu130", {}, tag="cp311-cp311-win_amd64")  # torchvision missing
    tags = wheels.interpreter_tags()
    assert wheels.builds_in_folder(folder, PINS, tags) == {"cu126", "cpu"}
    windows = wheels.interpreter_tags((3, 11), "win-amd64")
    assert wheels.find_in_folder(folder, PINS, "cu130", windows) is None
    write_wheel(folder, "torchvision", "0.28.0+cu130", {}, tag="cp311-cp311-win_amd64")
    found = wheels.find_in_folder(folder, PINS, "cu130", windows)
    assert sorted(p.name for p in found.values()) == [
        "torch-2.13.0+cu130-cp311-cp311-win_amd64.whl",
        "torchvision-0.28.0+cu130-cp311-cp311-win_amd64.whl",
    ]
    # A Python 3.12 wheel is not for the embedded 3.11.
    assert wheels.parse_wheel_name("torch-2.13.0+cu130-cp312-cp312-win_amd64.whl").tags.isdisjoint(windows)


def test_a_working_torch_is_kept_when_nothing_better_can_be_installed(
    tmp_path: Path, bare_venv: Path, pins_file: Path
) -> None:
    first = tmp_path / "first"
    write_fake_torch_pair(first, "cu126", "12.6", True)
    assert firstrun(bare_venv, first, tmp_path / "state", pins_file, RTX_4090) == 0
    # Later run from a folder holding nothing usable: cu130 would be preferred but is not there.
    empty = tmp_path / "empty"
    empty.mkdir()
    assert firstrun(bare_venv, empty, tmp_path / "state", pins_file, RTX_4090) == 0
    assert installed_version(bare_venv) == "2.13.0+cu126"
    assert json.loads((tmp_path / "state" / "result.json").read_text(encoding="utf-8"))["build"] == "cu126"
