"""Memory plans for the big families and the quantized loading they use.

A plan says, for one family on one device and memory tier, what stays resident,
what is offloaded and what is quantized:
- FLUX's transformer comes quantized from a GGUF file (the set names it), which
  diffusers loads with GGUFQuantizationConfig and dequantizes layer by layer while
  it computes; this also runs on CPU, so the tiny twin goes through the same code.
- The big text encoders (FLUX's T5-XXL, Z-Image's Qwen3-4B) and Z-Image's transformer
  are quantized on load with bitsandbytes (nf4 / int8) on CUDA where it is installed
  (`pip install roomstager[quant]`); without it those cards offload instead.
- Cards below the family's `resident_vram_gb` offload whole models between steps of
  the pipeline (model offload), the 'offload' tier always does, 'sequential' streams
  layer by layer. The out-of-memory retry walks the tiers down as for every set.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from app.errors import UserError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MemoryPlan:
    tier: str
    offload: str  # "none", "model" (whole models move between CPU and GPU), "sequential" (layer by layer)
    vae_tiling: bool
    text_encoder_4bit: bool  # bitsandbytes nf4 for the big text encoder
    transformer_8bit: bool  # bitsandbytes int8 for a transformer that has no GGUF file

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        quant = [n for n, on in (("text encoder nf4", self.text_encoder_4bit),
                                 ("transformer int8", self.transformer_8bit)) if on]
        return f"{self.tier}: offload {self.offload}{', ' + ', '.join(quant) if quant else ''}"


def bitsandbytes_available() -> bool:
    return importlib.util.find_spec("bitsandbytes") is not None


def plan_for(family, device: str, tier: str, vram_gb: float | None, *, has_gguf: bool = False,
             bnb: bool | None = None) -> MemoryPlan:
    """The memory plan for `family` (an object with `big` and `resident_vram_gb`) on a device and tier."""
    offload = {"sequential": "sequential", "offload": "model"}.get(tier, "none") if device == "cuda" else "none"
    tiling = tier in ("sequential", "offload", "low")
    if not getattr(family, "big", False) or device != "cuda":
        return MemoryPlan(tier, offload, tiling, False, False)
    bnb = bitsandbytes_available() if bnb is None else bnb
    vram = vram_gb or 0.0
    # resident needs less with the text encoder in nf4 than with it in bf16
    small_card = vram < (family.resident_vram_gb if bnb else family.resident_vram_gb_bf16)
    if offload == "none" and small_card and not bnb:
        offload = "model"  # cannot shrink the parts: move them instead
    resident = offload == "none"
    return MemoryPlan(
        tier, offload, tiling or small_card,
        text_encoder_4bit=bnb and (resident or small_card),
        transformer_8bit=bnb and small_card and not has_gguf,
    )


# ---- loading -------------------------------------------------------------------------


def load_gguf_transformer(cls, path: Path, config_dir: Path, dtype):
    """A transformer from a GGUF file (original or diffusers key layout), configured by a local folder."""
    from diffusers import GGUFQuantizationConfig

    if importlib.util.find_spec("gguf") is None:
        raise UserError(f"{Path(path).name}: loading GGUF models needs the 'gguf' package (pip install gguf)")
    if not (Path(config_dir) / "config.json").is_file():
        raise UserError(f"{path}: no transformer config at {config_dir} to load this GGUF file offline")
    log.info("loading GGUF transformer %s", Path(path).name)
    return cls.from_single_file(str(path), quantization_config=GGUFQuantizationConfig(compute_dtype=dtype),
                                config=str(config_dir), torch_dtype=dtype, local_files_only=True)


def _require_bnb(what: str) -> None:
    if not bitsandbytes_available():
        raise UserError(f"{what}: 4/8-bit loading needs bitsandbytes (pip install \"roomstager[quant]\")")


def quantized_text_encoder(cls, folder: Path, dtype):
    """A transformers text encoder loaded in nf4 (bitsandbytes) on the GPU."""
    from transformers import BitsAndBytesConfig

    _require_bnb(str(folder))
    config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype)
    return cls.from_pretrained(folder, quantization_config=config, dtype=dtype, local_files_only=True)


def quantized_model(cls, folder: Path, dtype):
    """A diffusers model loaded in int8 (bitsandbytes) on the GPU."""
    from diffusers import BitsAndBytesConfig

    _require_bnb(str(folder))
    return cls.from_pretrained(folder, quantization_config=BitsAndBytesConfig(load_in_8bit=True),
                               torch_dtype=dtype, local_files_only=True)


def load_controlnet(cls, path: Path, dtype, base_config: Path | None = None, config_cache: Path | None = None):
    """A ControlNet from a diffusers folder, or from one .safetensors file (Z-Image's union ControlNet)."""
    path = Path(path)
    if path.is_dir():
        return cls.from_pretrained(path, dtype=dtype, local_files_only=True)
    if cls.__name__ != "ZImageControlNetModel":
        raise UserError(f"{path.name}: a single-file {cls.__name__} is not supported; use its diffusers folder")
    if base_config is None or not Path(base_config).is_file():
        raise UserError(f"{path.name}: the Z-Image transformer config is needed to load this ControlNet")
    folder = (config_cache or path.parent / ".configs") / path.stem
    config = zimage_controlnet_config(path, json.loads(Path(base_config).read_text(encoding="utf-8")))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return cls.from_single_file(str(path), config=str(folder), torch_dtype=dtype, local_files_only=True)


def zimage_controlnet_config(path: Path, transformer: dict) -> dict:
    """The config of a Fun union ControlNet, read off its tensors and the transformer it plugs into.

    Control layers sit on every n-th transformer layer (15 on Turbo's 30: every other one)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        keys = list(f.keys())
        shapes = {k: f.get_slice(k).get_shape() for k in keys
                  if k.startswith("control_all_x_embedder.") and k.endswith(".weight")}
        before = "control_noise_refiner.0.before_proj.weight"
        refiner_is_control = before in keys and bool(f.get_tensor(before).abs().sum() > 0)

    def count(prefix: str) -> int:
        return len({k.split(".")[1] for k in keys if k.startswith(prefix + ".")})

    layers, refiners = count("control_layers"), count("control_noise_refiner")
    if layers == 0 or not shapes:
        raise UserError(f"{path.name}: not a Z-Image union ControlNet (no control layers)")
    patch, fpatch = transformer.get("all_patch_size", [2])[0], transformer.get("all_f_patch_size", [1])[0]
    in_dim = next(iter(shapes.values()))[1] // (patch * patch * fpatch)
    spacing = max(1, int(transformer.get("n_layers", 30)) // layers)
    return {
        "_class_name": "ZImageControlNetModel",
        "control_layers_places": [i * spacing for i in range(layers)],
        "control_refiner_layers_places": list(range(refiners)),
        "control_in_dim": in_dim,
        "add_control_noise_refiner": ("control_noise_refiner" if refiner_is_control
                                      else "control_layers" if refiners else None),
        **{k: transformer[k] for k in ("all_patch_size", "all_f_patch_size", "dim", "n_refiner_layers", "n_heads",
                                       "n_kv_heads", "norm_eps", "qk_norm") if k in transformer},
    }
