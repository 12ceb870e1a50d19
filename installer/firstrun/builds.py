"""Which torch build a workstation gets: the build table and the choice.

Facts below are for torch 2.13 / torchvision 0.28 Windows x86-64 wheels. When the torch pin in
pyproject.toml moves, re-check this table (tests/installer/test_installer_builds.py pins it down).

Sources, and what is assumed:
- CUDA variants of torch 2.13: CUDA 12.6 (legacy), 13.0 (stable) and 13.2 (experimental)
  (pytorch/pytorch RELEASE.md, PR #187075; CUDA 12.8 was dropped in 2.12, RFC #178665).
- Architectures in the Windows wheels (RELEASE.md "CUDA Support Matrix" for 2.12-2.14):
    12.6.3: Maxwell 5.0, Pascal 6.0, Volta 7.0, Turing 7.5, Ampere 8.0 8.6, Hopper 9.0
    13.0.2: Turing 7.5, Ampere 8.0 8.6, Hopper 9.0, Blackwell 10.0 12.0 (+PTX on Linux only)
  A cubin built for X.Y runs on X.Z with Z >= Y (same major), so 6.0 covers 6.1 (GTX 10xx),
  8.6 covers 8.9 (Ada, RTX 40xx) and 12.0 covers 12.x (RTX 50xx). Windows wheels carry no PTX,
  so nothing covers a newer major: a Blackwell card needs a 13.x build.
- Driver numbers are Windows driver versions. "full" is the driver shipped with that CUDA toolkit
  (NVIDIA release notes, "CUDA Toolkit and Corresponding Driver Versions"): 12.6 Update 3 ->
  561.17; 13.0 -> 580.88 (assumed from the R580 Windows release; Linux 580.65.06).
  "compat" is the floor of CUDA minor-version compatibility for that major ("CUDA 12.x >= 525",
  Windows 528.33; "CUDA 13.x >= 580"): PyTorch ships SASS for every listed arch, so no PTX JIT
  is needed and a driver between compat and full runs the build.
- 13.2's Windows driver floor is not published in what we could check; R595 is assumed. It is
  experimental in 2.13, so it is never chosen automatically, only with --build cu132.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Version = tuple[int, ...]


@dataclass(frozen=True)
class TorchBuild:
    """One variant of the torch wheels, named by its index folder and local version label."""

    id: str  # "cu130", "cu126", "cpu": also the folder in https://download.pytorch.org/whl/<id>
    cuda: tuple[int, int] | None = None
    archs: tuple[tuple[int, int], ...] = ()
    full_driver: Version = ()
    compat_driver: Version = ()
    automatic: bool = True  # False: only when asked for by name (experimental builds)

    @property
    def index_url(self) -> str:
        return f"https://download.pytorch.org/whl/{self.id}"

    @property
    def cuda_text(self) -> str:
        return "no CUDA" if self.cuda is None else f"CUDA {self.cuda[0]}.{self.cuda[1]}"

    def runs_on(self, cc: tuple[int, int]) -> bool:
        """True when the wheel holds a cubin this compute capability can run."""
        return any(major == cc[0] and minor <= cc[1] for major, minor in self.archs)


CPU = TorchBuild("cpu")
_TURING_TO_BLACKWELL = ((7, 5), (8, 0), (8, 6), (9, 0), (10, 0), (12, 0))

# Preference order for automatic choice: newest stable CUDA first.
CUDA_BUILDS: tuple[TorchBuild, ...] = (
    TorchBuild("cu130", (13, 0), _TURING_TO_BLACKWELL, full_driver=(580, 88), compat_driver=(580, 0)),
    TorchBuild(
        "cu126",
        (12, 6),
        ((5, 0), (6, 0), (7, 0), (7, 5), (8, 0), (8, 6), (9, 0)),
        full_driver=(561, 17),
        compat_driver=(528, 33),
    ),
    TorchBuild(
        "cu132", (13, 2), _TURING_TO_BLACKWELL, full_driver=(595, 0), compat_driver=(580, 0), automatic=False
    ),
)
ALL_BUILDS: dict[str, TorchBuild] = {b.id: b for b in (*CUDA_BUILDS, CPU)}


@dataclass(frozen=True)
class Gpu:
    name: str
    driver: Version  # e.g. (581, 57)
    cc: tuple[int, int] | None  # compute capability; None when the driver could not tell
    memory_mb: int = 0


@dataclass
class Choice:
    """The build to install and, in plain words, why; `problem` is set when the GPU is left unused."""

    build: TorchBuild
    gpu: Gpu | None
    reason: str
    problem: str | None = None
    notes: list[str] = field(default_factory=list)
    fallbacks: list[TorchBuild] = field(default_factory=list)  # tried in turn if verification fails

    @property
    def uses_gpu(self) -> bool:
        return self.build.cuda is not None


def parse_version(text: str) -> Version:
    """'581.57' -> (581, 57); '580.65.06' -> (580, 65, 6). Raises ValueError on garbage."""
    parts = text.strip().split(".")
    if not parts or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a driver version: {text!r}")
    return tuple(int(p) for p in parts)


def format_version(version: Version) -> str:
    if len(version) >= 2:
        return f"{version[0]}.{version[1]:02d}" + "".join(f".{p:02d}" for p in version[2:])
    return ".".join(str(p) for p in version)


def primary_gpu(gpus: list[Gpu]) -> Gpu | None:
    """The card RoomStager will use: most memory, then newest architecture."""
    if not gpus:
        return None
    return max(gpus, key=lambda g: (g.memory_mb, g.cc or (0, 0)))


def choose(gpus: list[Gpu], forced: str | None = None) -> Choice:
    """Pick the torch build for these GPUs (the result of detection) or honour a forced id."""
    gpu = primary_gpu(gpus)
    if forced:
        if forced not in ALL_BUILDS:
            raise ValueError(f"unknown build {forced!r}; choose one of {', '.join(ALL_BUILDS)}")
        return Choice(ALL_BUILDS[forced], gpu, f"the {forced} build was asked for by name")
    if gpu is None:
        return Choice(CPU, None, "no NVIDIA graphics card was found, so the processor build is used")

    auto = [b for b in CUDA_BUILDS if b.automatic]
    if gpu.cc is None:
        return _choose_without_cc(gpu, auto)

    fitting = [b for b in auto if b.runs_on(gpu.cc)]
    if not fitting:
        return Choice(
            CPU, gpu, "the graphics card is not supported by this torch", problem=_unsupported_gpu(gpu)
        )
    for build in fitting:
        if gpu.driver >= build.full_driver:
            return Choice(
                build, gpu, f"{gpu.name} with driver {format_version(gpu.driver)} runs {build.cuda_text}"
            )
    for build in fitting:
        if gpu.driver >= build.compat_driver:
            choice = Choice(
                build, gpu, f"{gpu.name} runs {build.cuda_text} through CUDA minor-version compatibility"
            )
            choice.notes.append(_update_suggested(gpu, build))
            return choice
    return Choice(CPU, gpu, "the NVIDIA driver is too old", problem=_driver_too_old(gpu, fitting))


def _choose_without_cc(gpu: Gpu, auto: list[TorchBuild]) -> Choice:
    """Old drivers cannot report the compute capability: try what the driver can run, widest first."""
    usable = [b for b in auto if gpu.driver >= b.compat_driver]
    if not usable:
        return Choice(CPU, gpu, "the NVIDIA driver is too old", problem=_driver_too_old(gpu, auto))
    # The build reaching the oldest cards goes first; verification after install tells if it was right.
    usable.sort(key=lambda b: min(b.archs))
    first, rest = usable[0], usable[1:]
    choice = Choice(
        first, gpu, f"the driver could not report {gpu.name}'s architecture; trying {first.cuda_text}"
    )
    choice.fallbacks = rest
    return choice


def _driver_too_old(gpu: Gpu, fitting: list[TorchBuild]) -> str:
    lowest = min(fitting, key=lambda b: b.compat_driver)
    return (
        f"Your NVIDIA driver (version {format_version(gpu.driver)}) is too old for RoomStager's GPU engine. "
        f"{gpu.name} needs driver {format_version(lowest.full_driver)} or newer. "
        "Install the latest Studio or Game Ready driver from https://www.nvidia.com/drivers "
        "(or through the NVIDIA App), restart Windows, then open the Start menu and run "
        '"RoomStager - Set up GPU". Until then RoomStager works on the processor, which is much slower.'
    )


def _update_suggested(gpu: Gpu, build: TorchBuild) -> str:
    return (
        f"Your NVIDIA driver {format_version(gpu.driver)} works, but {format_version(build.full_driver)} "
        f"or newer is recommended for {build.cuda_text}. Updating the driver is worthwhile when you can."
    )


def _unsupported_gpu(gpu: Gpu) -> str:
    assert gpu.cc is not None
    newest_known = max(a for b in CUDA_BUILDS for a in b.archs)
    if gpu.cc > newest_known:
        why = "is newer than this version of RoomStager knows; an update of RoomStager will support it"
    else:
        why = "is too old for current PyTorch, which needs compute capability 5.0 (GeForce GTX 900 series) or newer"
    return (
        f"Your graphics card, {gpu.name} (compute capability {gpu.cc[0]}.{gpu.cc[1]}), {why}. "
        "RoomStager will work on the processor, which is much slower."
    )


def usable_for(gpu: Gpu | None) -> list[TorchBuild]:
    """Every automatic build this GPU and driver can run, best first; the processor build last."""
    if gpu is None:
        return [CPU]
    fitting = [
        b
        for b in CUDA_BUILDS
        if b.automatic and (gpu.cc is None or b.runs_on(gpu.cc)) and gpu.driver >= b.compat_driver
    ]
    full = [b for b in fitting if gpu.driver >= b.full_driver]
    return [*full, *(b for b in fitting if b not in full), CPU]
