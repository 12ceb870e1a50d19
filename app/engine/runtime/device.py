"""Device, dtype and memory tier: CUDA > MPS > CPU, and what to do when memory runs out."""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass

from app.errors import UserError

log = logging.getLogger(__name__)

# Memory tiers, lowest first. Each step down trades speed for memory.
TIERS = ("sequential", "offload", "low", "full")
# The names users pick in settings -> tiers.
MEMORY_MODES = {"lowest": "sequential", "low": "offload", "balanced": "low", "high": "full"}


def tier_for_mode(mode: str | None) -> str | None:
    """A user memory mode (or a tier name) -> tier; None or "auto" -> None (decide from VRAM)."""
    if mode in (None, "", "auto"):
        return None
    if mode in MEMORY_MODES:
        return MEMORY_MODES[mode]
    if mode in TIERS:
        return mode
    raise UserError(f"unknown memory mode '{mode}' (choose auto, {', '.join(MEMORY_MODES)})")


@dataclass(frozen=True)
class DeviceInfo:
    device: str  # "cuda", "mps", "cpu"
    dtype_name: str  # "float16", "bfloat16", "float32"
    name: str
    vram_gb: float | None  # None on CPU
    tier: str  # one of TIERS

    @property
    def dtype(self):
        # heavy: loaded on first use, not when the app starts
        import torch

        return getattr(torch, self.dtype_name)

    def lower_tier(self) -> DeviceInfo | None:
        i = TIERS.index(self.tier)
        if i == 0:
            return None
        return DeviceInfo(self.device, self.dtype_name, self.name, self.vram_gb, TIERS[i - 1])


def tier_for_vram(vram_gb: float | None) -> str:
    """Krita-like presets: small cards offload and tile, big cards keep everything resident."""
    if vram_gb is None:
        return "full"
    if vram_gb < 5:
        return "sequential"
    if vram_gb < 8.5:
        return "offload"
    if vram_gb < 12.5:
        return "low"
    return "full"


def _cpu_dtype() -> str:
    # heavy: loaded on first use, not when the app starts
    import torch

    try:  # bf16 only pays off where the CPU has native bf16 (AVX512-BF16 / AMX)
        if torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return "bfloat16"
    except Exception:
        pass
    return "float32"


def pick_device(requested: str | None = None, memory_mode: str | None = None) -> DeviceInfo:
    """Best available device, or the requested one with a clear message when it is not usable."""
    # heavy: loaded on first use, not when the app starts
    import torch

    forced = tier_for_mode(memory_mode)
    want = (requested or "auto").lower()
    if want not in ("auto", "cuda", "mps", "cpu"):
        raise UserError(f"unknown device '{requested}' (choose cuda, mps or cpu)")
    if want in ("auto", "cuda") and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        vram = props.total_memory / 2**30
        tier = forced or tier_for_vram(vram)
        return DeviceInfo("cuda", "float16", props.name, round(vram, 1), tier)
    if want == "cuda":
        raise UserError(explain_no_cuda())
    mps = getattr(torch.backends, "mps", None)
    if want in ("auto", "mps") and mps is not None and mps.is_available():
        return DeviceInfo("mps", "float16", "Apple GPU", None, forced or "low")
    if want == "mps":
        raise UserError("no Apple GPU (MPS) is available on this machine; use --device cpu")
    return DeviceInfo("cpu", _cpu_dtype(), "CPU", None, "full")


def available_devices() -> list[DeviceInfo]:
    """The devices jobs can run on here, best first: the first NVIDIA card, an Apple GPU, the CPU."""
    # heavy: loaded on first use, not when the app starts
    import torch

    found = []
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        vram = props.total_memory / 2**30
        found.append(DeviceInfo("cuda", "float16", props.name, round(vram, 1), tier_for_vram(vram)))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append(DeviceInfo("mps", "float16", "Apple GPU", None, "low"))
    found.append(DeviceInfo("cpu", _cpu_dtype(), "CPU", None, "full"))
    return found


def explain_no_cuda() -> str:
    # heavy: loaded on first use, not when the app starts
    import torch

    if torch.version.cuda is None:
        return (
            "CUDA was requested, but this torch is a CPU-only build (\"Torch not compiled with CUDA\"). "
            "Install the CUDA build of torch for your card: on Windows run 'RoomStager - Set up GPU' from "
            "the Start menu (it picks the build for your card and driver); elsewhere pick the matching "
            "command at pytorch.org."
        )
    return (
        f"CUDA was requested and torch was built for CUDA {torch.version.cuda}, but no NVIDIA GPU is usable: "
        "check that the card is present and that its driver is recent enough for this CUDA version "
        "(update the NVIDIA driver, then restart)."
    )


def is_out_of_memory(exc: BaseException) -> bool:
    # heavy: loaded on first use, not when the app starts
    import torch

    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return "out of memory" in text  # CUDA, MPS ("MPS backend out of memory") and CPU allocators alike


def free_memory() -> None:
    # heavy: loaded on first use, not when the app starts
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
