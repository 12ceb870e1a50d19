"""Find the NVIDIA cards, their driver and compute capability.

NVML (through nvidia-ml-py's `pynvml`, which the installer ships) is asked first: it is what the
driver itself reports. When it is missing or fails, `nvidia-smi` is asked. Both are optional: a
workstation without an NVIDIA driver simply has no GPU here, and gets the processor build.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field

from .builds import Gpu, parse_version

SMI_FIELDS_WITH_CC = "name,driver_version,compute_cap,memory.total"
SMI_FIELDS_NO_CC = "name,driver_version,memory.total"  # drivers before ~510 lack compute_cap

Runner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


@dataclass
class Detection:
    gpus: list[Gpu]
    source: str  # "nvml", "nvidia-smi" or "none"
    diagnostics: list[str] = field(default_factory=list)  # why a source gave nothing, for the log


def detect(nvml: object | None = None, run: Runner | None = None, smi: str | None = None) -> Detection:
    """Ask NVML, then nvidia-smi. The arguments replace the real module / process runner in tests."""
    diagnostics: list[str] = []
    module = nvml if nvml is not None else _import_pynvml(diagnostics)
    if module is not None:
        try:
            gpus = from_nvml(module)
        except Exception as error:  # NVMLError and friends: no driver, no library, no permission
            diagnostics.append(f"NVML: {error or type(error).__name__}")
        else:
            if gpus:
                return Detection(gpus, "nvml", diagnostics)
            diagnostics.append("NVML: no devices")

    exe = smi or find_nvidia_smi()
    if exe is None:
        diagnostics.append("nvidia-smi: not found")
        return Detection([], "none", diagnostics)
    try:
        gpus = from_nvidia_smi(exe, run or _run)
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        diagnostics.append(f"nvidia-smi: {error}")
        return Detection([], "none", diagnostics)
    return Detection(gpus, "nvidia-smi" if gpus else "none", diagnostics)


def _import_pynvml(diagnostics: list[str]) -> object | None:
    try:
        import pynvml  # nvidia-ml-py, shipped in the installer payload; optional on purpose
    except ImportError as error:
        diagnostics.append(f"NVML: {error}")
        return None
    return pynvml


def _text(value: object) -> str:
    # Older nvidia-ml-py releases return bytes, newer ones str.
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def from_nvml(nvml) -> list[Gpu]:
    nvml.nvmlInit()
    try:
        driver = parse_version(_text(nvml.nvmlSystemGetDriverVersion()))
        gpus = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            name = _text(nvml.nvmlDeviceGetName(handle))
            try:
                major, minor = nvml.nvmlDeviceGetCudaComputeCapability(handle)
                cc: tuple[int, int] | None = (int(major), int(minor))
            except Exception:
                cc = None
            try:
                memory_mb = int(nvml.nvmlDeviceGetMemoryInfo(handle).total) // (1024 * 1024)
            except Exception:
                memory_mb = 0
            gpus.append(Gpu(name, driver, cc, memory_mb))
        return gpus
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:
            pass


def find_nvidia_smi() -> str | None:
    found = shutil.which("nvidia-smi")
    if found:
        return found
    if os.name == "nt":  # DCH drivers put it in System32; older ones in Program Files\NVSMI
        for base, rest in (
            ("SystemRoot", r"System32\nvidia-smi.exe"),
            ("ProgramW6432", r"NVIDIA Corporation\NVSMI\nvidia-smi.exe"),
            ("ProgramFiles", r"NVIDIA Corporation\NVSMI\nvidia-smi.exe"),
        ):
            root = os.environ.get(base)
            if root and os.path.isfile(os.path.join(root, rest)):
                return os.path.join(root, rest)
    return None


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    flags = 0x08000000 if os.name == "nt" else 0  # CREATE_NO_WINDOW: no console flashing up
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=30,
        creationflags=flags,
    )


def from_nvidia_smi(exe: str, run: Runner) -> list[Gpu]:
    result = run([exe, f"--query-gpu={SMI_FIELDS_WITH_CC}", "--format=csv,noheader,nounits"])
    with_cc = True
    if result.returncode != 0 and "compute_cap" in (result.stdout + result.stderr):
        result = run([exe, f"--query-gpu={SMI_FIELDS_NO_CC}", "--format=csv,noheader,nounits"])
        with_cc = False
    if result.returncode != 0:
        message = (result.stdout + result.stderr).strip().splitlines()
        raise ValueError(message[0] if message else f"exit code {result.returncode}")
    return parse_smi_csv(result.stdout, with_cc)


def parse_smi_csv(text: str, with_cc: bool = True) -> list[Gpu]:
    """Parse `--format=csv,noheader,nounits` lines; the name is everything before the fixed fields."""
    tail = 3 if with_cc else 2
    gpus = []
    for row in csv.reader(io.StringIO(text), skipinitialspace=True):
        row = [cell.strip() for cell in row]
        if len(row) < tail + 1:
            continue
        name = ", ".join(row[: len(row) - tail])
        fields = row[len(row) - tail :]
        driver = parse_version(fields[0])
        cc = _parse_cc(fields[1]) if with_cc else None
        gpus.append(Gpu(name, driver, cc, _parse_int(fields[-1])))
    return gpus


def _parse_cc(text: str) -> tuple[int, int] | None:
    major, dot, minor = text.partition(".")
    if dot and major.isdigit() and minor.isdigit():
        return int(major), int(minor)
    return None  # "[N/A]" and the like


def _parse_int(text: str) -> int:
    return int(text) if text.isdigit() else 0
