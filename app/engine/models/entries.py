"""Catalog entries and model sets as data, and the rules for paths inside a models folder."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from app import settings

APP_CATALOG = settings.APP_ROOT / "models" / "catalog.toml"
CONFIGS_DIR = settings.RESOURCES / "model_configs"  # shipped diffusers configs for single files

ROLES = (
    "inpaint", "controlnet-depth", "controlnet-canny", "controlnet-inpaint", "controlnet-union",
    "sam", "depth", "metric-depth", "detector", "segmenter", "text-segmenter", "erase", "lora", "config",
    "transformer", "lpips-backbone", "lpips-heads",
)
# Every architecture, and the multiple its crop sides must be (8x VAE; SDXL wants 64; FLUX and Z-Image pack 2x2)
ARCH_MULTIPLE = {"sd15": 8, "sdxl": 64, "flux": 16, "zimage": 16}
ARCHES = tuple(ARCH_MULTIPLE)
GB = 1024**3
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt", ".ckpt")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def default_models_dir() -> Path:
    """The user's models folder: $ROOMSTAGER_MODELS, else models/ beside the app."""
    return settings.models_dir()


def is_inside(root: Path, path: Path) -> bool:
    """True when `path` (resolved, links followed) lies inside `root`."""
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(root))
        return True
    except ValueError:
        return False


def is_config_folder(path: Path) -> bool:
    """A diffusers pipeline folder complete enough to load a single file offline: configs and tokenizers."""
    path = Path(path)
    if not (path / "model_index.json").is_file():
        return False
    subs = ["tokenizer"] + (["tokenizer_2"] if (path / "text_encoder_2").is_dir() else [])
    return all((path / s / "vocab.json").is_file() or (path / s / "tokenizer.json").is_file() for s in subs)


def safe_relative(rel: str) -> bool:
    """A catalog path that cannot leave the models folder: relative, no '..', no drive."""
    p = Path(rel.replace("\\", "/"))
    return bool(rel) and not p.is_absolute() and ".." not in p.parts and ":" not in rel and not rel.startswith("/")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    role: str  # inpaint, controlnet-depth, controlnet-canny, controlnet-inpaint, sam, depth, ...
    path: str  # relative to the models folder (absolute for an external file)
    arch: str | None = None  # sd15, sdxl
    info: dict = field(default_factory=dict, compare=False, hash=False)  # source, size, licence ...

    def local(self, root: Path) -> Path:
        if self.external:
            return Path(self.path)
        return (root / self.path).resolve()

    # ---- what the catalog says about it --------------------------------------

    @property
    def external(self) -> bool:
        """A file of another tool, referenced in place (read-only)."""
        return bool(self.info.get("external"))

    @property
    def title(self) -> str:
        return str(self.info.get("title") or self.name)

    @property
    def source(self) -> str:
        """'hub', 'url', 'external' or 'local' (imported / written by the app)."""
        if self.external:
            return "external"
        if self.info.get("repo"):
            return "hub"
        if self.info.get("url"):
            return "url"
        return "local"

    @property
    def size_bytes(self) -> int | None:
        if self.info.get("size_bytes"):
            return int(self.info["size_bytes"])
        if self.info.get("size_gb"):
            return int(float(self.info["size_gb"]) * GB)
        return None

    @property
    def license(self) -> str:
        return str(self.info.get("license", "unknown"))

    @property
    def commercial_use(self) -> bool | None:
        value = self.info.get("commercial_use")
        return None if value is None else bool(value)

    @property
    def min_vram_gb(self) -> float:
        return float(self.info.get("min_vram_gb", 0))

    @property
    def downloadable(self) -> bool:
        return self.source in ("hub", "url") and not self.info.get("manual")

    # ---- checksums pinned by the catalog -----------------------------------------

    @property
    def pins(self) -> dict[str, str]:
        """Repository file -> the SHA-256 the catalog pins for it (hub entries), {".": sha} for a URL."""
        raw = self.info.get("sha256")
        if isinstance(raw, str):
            return {".": raw.lower()} if _SHA256.match(raw.lower()) else {}
        if isinstance(raw, dict):
            return {str(k): str(v).lower() for k, v in raw.items() if _SHA256.match(str(v).lower())}
        return {}

    @property
    def pin(self) -> str:
        """How far the catalog vouches for the files: 'pinned', 'partly pinned', 'revision only', 'prefix pinned'
        (a URL whose publisher pins the start of the SHA-256 in the file name: checked on download),
        'unpinned' (the first download is trusted), or 'recorded' (the user's own file: its checksum at import)."""
        if self.source == "url":
            if self.pins:
                return "pinned"
            return "prefix pinned" if self.info.get("sha256_prefix") else "unpinned"
        if self.source != "hub":
            return "recorded"
        if not _COMMIT.match(str(self.info.get("revision") or "")):
            return "unpinned"
        weights = [item for item in self.info.get("files") or []
                   if any(str(f).lower().endswith(WEIGHT_SUFFIXES) for f in (item if isinstance(item, list) else [item]))]
        pinned = [item for item in weights if any(f in self.pins for f in (item if isinstance(item, list) else [item]))]
        if len(pinned) == len(weights):
            return "pinned"
        return "partly pinned" if pinned else "revision only"


@dataclass(frozen=True)
class ModelSet:
    """Everything one staging / de-furnishing job loads, resolved to local paths."""

    name: str
    arch: str
    root: Path
    native: int  # the model's working resolution (long side ~ native, area ~ native^2)
    inpaint: Path  # a diffusers folder, or a single-file .safetensors checkpoint
    controlnet_depth: Path | None
    controlnet_canny: Path | None
    controlnet_inpaint: Path | None
    sam: Path
    sam_type: str
    depth: Path | None
    entries: tuple[str, ...] = ()
    inpaint_config: Path | None = None  # diffusers config folder for a single-file `inpaint`
    controlnet_union: Path | None = None  # one ControlNet for depth and Canny (FLUX, Z-Image)
    transformer: Path | None = None  # a quantized (GGUF) transformer replacing the pipeline folder's
    preset: dict = field(default_factory=dict, compare=False, hash=False)  # steps, guidance; fast_* (fast mode)
    fast_lora: Path | None = None  # the step-distillation LoRA, when installed
    fast_lora_name: str | None = None  # its catalog name (to name it when it is missing)
    commercial_use: bool = True  # False when any model of the set forbids commercial work

    @property
    def multiple(self) -> int:
        return ARCH_MULTIPLE[self.arch]

    @property
    def has_fast(self) -> bool:
        return bool(self.preset.get("fast_steps"))

    @property
    def single_file(self) -> bool:
        return self.inpaint.is_file()
