"""Prove the installed torch works on this machine, and say in plain words when it does not.

The check runs in a fresh interpreter (the one the app will use), so nothing cached in this
process can hide a broken install. On a CUDA build it does real work on the GPU: a build that
imports fine can still lack kernels for the card ("no kernel image is available").
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

from .builds import TorchBuild

MARKER = "ROOMSTAGER_VERIFY "

PROBE = r"""
import json, warnings
out = {}
try:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import torch
        out["version"] = torch.__version__
        out["cuda"] = torch.version.cuda
        out["available"] = bool(torch.cuda.is_available())
        if out["available"]:
            out["device"] = torch.cuda.get_device_name(0)
            out["capability"] = list(torch.cuda.get_device_capability(0))
            x = torch.ones((64, 64), device="cuda")
            out["matmul"] = float((x @ x).sum().item())
        import torchvision
        out["torchvision"] = torchvision.__version__
        # torchvision's compiled ops only load with the torch they were built for.
        torchvision.ops.nms(torch.zeros((1, 4)), torch.ones(1), 0.5)
    out["warnings"] = [str(w.message) for w in caught]
except BaseException as error:
    out["error"] = type(error).__name__ + ": " + str(error)
print("@MARKER@" + json.dumps(out), flush=True)
""".replace("@MARKER@", MARKER)


@dataclass
class Verdict:
    ok: bool
    facts: dict
    problem: str | None = None


def probe(python: str, timeout: float = 600) -> dict:
    """Run PROBE in `python`; returns its facts, or {"error": ...} when it did not even report."""
    try:
        result = subprocess.run(
            [python, "-c", PROBE],
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return {"error": f"could not run {python}: {error}"}
    for line in result.stdout.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
    return {"error": " | ".join(tail) or f"exit code {result.returncode}"}


def judge(facts: dict, build: TorchBuild, pins: dict[str, str]) -> Verdict:
    """Turn the probe's facts into ok / a plain-words problem."""
    error = facts.get("error")
    if error:
        return Verdict(False, facts, _explain_error(error))
    want = f"{pins['torch']}+{build.id}"
    if facts.get("version") != want:
        return Verdict(
            False, facts, f"torch {facts.get('version')} is installed, but RoomStager needs {want}."
        )
    if not str(facts.get("torchvision", "")).startswith(pins["torchvision"]):
        return Verdict(False, facts, f"torchvision {facts.get('torchvision')} does not match torch {want}.")
    if build.cuda is None:
        return Verdict(True, facts)
    if not facts.get("cuda"):
        return Verdict(
            False,
            facts,
            'The installed torch was built without CUDA ("Torch not compiled with CUDA enabled"), '
            'so it cannot use the graphics card. Run "RoomStager - Set up GPU" again to replace it.',
        )
    if not facts.get("available"):
        said = " ".join(facts.get("warnings") or [])
        return Verdict(
            False,
            facts,
            "torch cannot reach the NVIDIA graphics card. This usually means the NVIDIA driver is too old or "
            "was not loaded: install the latest Studio or Game Ready driver from https://www.nvidia.com/drivers "
            "and restart Windows." + (f" (torch said: {said})" if said else ""),
        )
    return Verdict(True, facts)


def _explain_error(error: str) -> str:
    if "WinError 126" in error or "DLL load failed" in error or "vcruntime" in error.lower():
        return (
            "torch could not load one of its Windows libraries. Install the Microsoft Visual C++ "
            "Redistributable (x64) from https://aka.ms/vs/17/release/vc_redist.x64.exe, then run "
            f'"RoomStager - Set up GPU" again. (Details: {error})'
        )
    if "no kernel image" in error:
        return (
            'This torch build has no code for your graphics card ("no kernel image is available"). '
            f"Another build will be tried. (Details: {error})"
        )
    if "ModuleNotFoundError" in error:
        return f"torch is not installed. (Details: {error})"
    return f"torch did not start. (Details: {error})"
