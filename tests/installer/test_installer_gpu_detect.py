"""GPU detection from recorded NVML answers and nvidia-smi outputs (installer/firstrun/gpu.py)."""

from __future__ import annotations

import json
import subprocess
from types import SimpleNamespace

import pytest
from firstrun import gpu
from firstrun.builds import Gpu, choose
from installer_testkit import FIXTURES


class NVMLError(Exception):
    pass


class FakeNvml:
    """Answers like nvidia-ml-py's pynvml module, from a JSON fixture."""

    def __init__(self, fixture: str | None = None, fail_init: bool = False) -> None:
        self.data = json.loads((FIXTURES / fixture).read_text()) if fixture else {"devices": []}
        self.fail_init = fail_init
        self.shut_down = False

    def nvmlInit(self) -> None:
        if self.fail_init:
            raise NVMLError("NVML Shared Library Not Found")

    def nvmlShutdown(self) -> None:
        self.shut_down = True

    def nvmlSystemGetDriverVersion(self):
        if "driver_bytes" in self.data:  # nvidia-ml-py before 11.515 returned bytes
            return self.data["driver_bytes"].encode()
        return self.data["driver"]

    def nvmlDeviceGetCount(self) -> int:
        return len(self.data["devices"])

    def nvmlDeviceGetHandleByIndex(self, index: int) -> dict:
        return self.data["devices"][index]

    def nvmlDeviceGetName(self, handle: dict):
        return handle["name_bytes"].encode() if "name_bytes" in handle else handle["name"]

    def nvmlDeviceGetCudaComputeCapability(self, handle: dict) -> tuple[int, int]:
        return tuple(handle["cc"])

    def nvmlDeviceGetMemoryInfo(self, handle: dict) -> SimpleNamespace:
        return SimpleNamespace(total=handle["memory"], free=0, used=0)


def smi_runner(*answers: tuple[int, str, str]):
    """A subprocess stand-in replaying (returncode, stdout fixture, stderr fixture) per call."""
    calls: list[list[str]] = []
    queue = list(answers)

    def run(command: list[str]) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        code, out, err = queue.pop(0)
        read = lambda name: (FIXTURES / name).read_text(encoding="utf-8") if name else ""  # noqa: E731
        return subprocess.CompletedProcess(command, code, read(out), read(err))

    run.calls = calls
    return run


def test_nvml_is_asked_first_and_shut_down() -> None:
    nvml = FakeNvml("nvml_workstation.json")
    run = smi_runner()
    found = gpu.detect(nvml=nvml, run=run, smi="nvidia-smi")
    assert found.source == "nvml"
    assert found.gpus == [
        Gpu("NVIDIA RTX 2000 Ada Generation", (581, 57), (8, 9), 16376),
        Gpu("NVIDIA RTX PRO 6000 Blackwell Workstation Edition", (581, 57), (12, 0), 97887),
    ]
    assert nvml.shut_down and run.calls == []
    # The Blackwell card has the most memory, so it decides: CUDA 13.0.
    assert choose(found.gpus).build.id == "cu130"


def test_nvml_bytes_answers_from_old_bindings() -> None:
    found = gpu.detect(nvml=FakeNvml("nvml_old_bytes.json"), run=smi_runner(), smi="nvidia-smi")
    assert found.gpus == [Gpu("Quadro RTX 4000", (546, 33), (7, 5), 8192)]
    assert choose(found.gpus).build.id == "cu126"


def test_nvml_failure_falls_back_to_nvidia_smi() -> None:
    run = smi_runner((0, "smi_rtx4090.csv", ""))
    found = gpu.detect(nvml=FakeNvml(fail_init=True), run=run, smi="C:/Windows/System32/nvidia-smi.exe")
    assert found.source == "nvidia-smi"
    assert found.gpus == [Gpu("NVIDIA GeForce RTX 4090", (581, 57), (8, 9), 24564)]
    assert any("Shared Library Not Found" in d for d in found.diagnostics)
    assert run.calls[0][1] == "--query-gpu=name,driver_version,compute_cap,memory.total"


def test_old_driver_without_compute_cap_field_is_asked_again_without_it() -> None:
    run = smi_runner((2, "", "smi_old_no_compute_cap.err"), (0, "smi_old_no_compute_cap.csv", ""))
    found = gpu.detect(nvml=FakeNvml(fail_init=True), run=run, smi="nvidia-smi")
    assert found.gpus == [Gpu("Quadro P4000", (472, 12), None, 8192)]
    assert "compute_cap" not in run.calls[1][1]
    choice = choose(found.gpus)
    assert choice.build.id == "cpu" and "472.12" in choice.problem


def test_nvidia_smi_without_a_driver_means_no_gpu() -> None:
    run = smi_runner((9, "", "smi_no_driver.err"))
    found = gpu.detect(nvml=FakeNvml(fail_init=True), run=run, smi="nvidia-smi")
    assert found.gpus == [] and found.source == "none"
    assert any("couldn't communicate with the NVIDIA driver" in d for d in found.diagnostics)
    assert choose(found.gpus).build.id == "cpu"


def test_nothing_installed_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu, "find_nvidia_smi", lambda: None)
    found = gpu.detect(nvml=FakeNvml(fail_init=True))
    assert found.gpus == [] and "nvidia-smi: not found" in found.diagnostics


def test_smi_that_cannot_start_is_reported_not_raised() -> None:
    def broken(command: list[str]) -> subprocess.CompletedProcess[str]:
        raise OSError("Access is denied")

    found = gpu.detect(nvml=FakeNvml(fail_init=True), run=broken, smi="nvidia-smi")
    assert found.gpus == [] and any("Access is denied" in d for d in found.diagnostics)


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "smi_two_gpus.csv",
            [
                Gpu("NVIDIA GeForce GTX 1080 Ti", (566, 36), (6, 1), 11264),
                Gpu("NVIDIA RTX A6000", (566, 36), (8, 6), 49140),
            ],
        ),
        ("smi_rtx5090_old_driver.csv", [Gpu("NVIDIA GeForce RTX 5090", (576, 2), (12, 0), 32607)]),
        ("smi_laptop_memory_na.csv", [Gpu("NVIDIA GeForce RTX 3060 Laptop GPU", (537, 58), (8, 6), 0)]),
    ],
)
def test_parse_smi_csv(fixture: str, expected: list[Gpu]) -> None:
    assert gpu.parse_smi_csv((FIXTURES / fixture).read_text()) == expected


def test_a_comma_in_the_name_stays_in_the_name() -> None:
    assert gpu.parse_smi_csv("Tesla V100-SXM2-16GB, rev 2, 552.74, 7.0, 16384\n") == [
        Gpu("Tesla V100-SXM2-16GB, rev 2", (552, 74), (7, 0), 16384)
    ]
