"""The trained LoRA as a file diffusers loads: safetensors in diffusers' layout, with metadata.

diffusers writes the weights (`save_lora_weights`, keys `unet.…lora_A/B.weight`) and the peft
config (rank, alpha, layers) under its own metadata key, so `load_lora_weights` rebuilds
the exact adapter; RoomStager adds what the run was (task, base model, dataset manifest
hash, best metrics) under `roomstager`. Written to a temporary file and renamed, so a
reader never sees half a LoRA.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from diffusers.utils import convert_unet_state_dict_to_peft
from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from app.engine.diffusion.controlnet_lora import (
    CONFIG_KEY,
    META_KEY,
    controlnet_file,
    set_weights,
)
from app.errors import UserError


def lora_state(unet) -> dict:
    """The UNet's LoRA weights as peft names them (`…to_q.lora_A.weight`), which diffusers loads as they
    are. (Converting to diffusers' older `lora.down` names renames only the attention layers: a LoRA
    that also covers convolutions would then mix two namings, and diffusers drops one of them.)"""

    return get_peft_model_state_dict(unet)


def save_lora(path: Path, unet, pipeline_cls, metadata: dict) -> Path:
    """Write the UNet's LoRA to `path` (atomically) with RoomStager's `metadata` beside diffusers' own."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    config = unet.peft_config["default"].to_dict()
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".lora-") as tmp:
        pipeline_cls.save_lora_weights(tmp, unet_lora_layers=lora_state(unet), weight_name="lora.safetensors",
                                       unet_lora_adapter_metadata=config)
        written = Path(tmp) / "lora.safetensors"
        with safe_open(str(written), framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no iterator
            meta = dict(f.metadata() or {})
        meta[META_KEY] = json.dumps(metadata, sort_keys=True, default=str)
        part = Path(tmp) / "final.safetensors"
        save_file(tensors, str(part), metadata=meta)
        os.replace(part, path)
    return path


def save_controlnet_lora(path: Path, controlnet, metadata: dict) -> Path:
    """The ControlNet's LoRA (peft names under `controlnet.`), the shape of its adapter and RoomStager's metadata."""
    path = Path(path)
    cfg = controlnet.peft_config["default"]
    config = {"r": cfg.r, "lora_alpha": cfg.lora_alpha, "target_modules": sorted(cfg.target_modules)}
    state = {f"controlnet.{k}": v.contiguous() for k, v in get_peft_model_state_dict(controlnet).items()}
    part = path.with_name(path.name + ".part")
    save_file(state, str(part), metadata={"format": "pt", CONFIG_KEY: json.dumps(config),
                                          META_KEY: json.dumps(metadata, sort_keys=True, default=str)})
    os.replace(part, path)
    return path


def load_controlnet_lora_into(controlnet, path: Path) -> None:
    """A checkpoint's ControlNet LoRA weights into the adapter the ControlNet already has (a resume)."""
    set_weights(controlnet, controlnet_file(path)[1], "default", path)


def read_metadata(path: Path) -> dict:
    """RoomStager's metadata of a trained LoRA ({} for a LoRA from elsewhere)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:
        raise UserError(f"{path}: not a readable .safetensors file ({exc})") from None
    try:
        return json.loads(meta.get(META_KEY, "{}"))
    except ValueError:
        return {}


def load_lora_into(unet, path: Path) -> None:
    """Load LoRA weights written by save_lora / a checkpoint back into a UNet that has the adapter."""
    state = load_file(str(path))
    state = {k[len("unet."):]: v for k, v in state.items() if k.startswith("unet.")}
    result = set_peft_model_state_dict(unet, convert_unet_state_dict_to_peft(state), adapter_name="default")
    unexpected = getattr(result, "unexpected_keys", None)
    if unexpected:
        raise UserError(f"{path}: LoRA weights that do not fit this UNet ({len(unexpected)} keys, e.g. "
                        f"{unexpected[0]}); was it trained with other --targets or --rank?")
