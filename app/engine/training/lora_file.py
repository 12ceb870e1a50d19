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
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from app.errors import UserError

META_KEY = "roomstager"
CONFIG_KEY = "lora_adapter_metadata"  # the key diffusers keeps a LoRA's peft config under


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


def controlnet_path(path: Path) -> Path:
    """NAME.safetensors -> NAME.controlnet.safetensors: the inpaint ControlNet's half of a staging LoRA."""
    path = Path(path)
    return path.with_name(f"{path.stem}.controlnet.safetensors")


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


def _controlnet_file(path: Path):
    try:
        with safe_open(str(path), framework="pt") as f:
            config = json.loads((f.metadata() or {})[CONFIG_KEY])
            state = {k[len("controlnet."):]: f.get_tensor(k) for k in f.keys() if k.startswith("controlnet.")}  # noqa: SIM118
        lora = LoraConfig(r=int(config["r"]), lora_alpha=float(config["lora_alpha"]),
                          target_modules=list(config["target_modules"]))
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path}: not a ControlNet LoRA RoomStager wrote ({exc.__class__.__name__}: {exc})") from None
    return lora, state


def _set_weights(model, state: dict, adapter_name: str, path: Path) -> None:
    result = set_peft_model_state_dict(model, state, adapter_name=adapter_name)
    if getattr(result, "unexpected_keys", None):
        raise UserError(f"{path}: LoRA weights that do not fit this model ({result.unexpected_keys[0]})")


def load_controlnet_lora(controlnet, path: Path, adapter_name: str) -> None:
    """Put a ControlNet LoRA written by save_controlnet_lora on a ControlNet, as a new adapter."""
    lora, state = _controlnet_file(path)
    controlnet.add_adapter(lora, adapter_name=adapter_name)
    _set_weights(controlnet, state, adapter_name, path)


def load_controlnet_lora_into(controlnet, path: Path) -> None:
    """A checkpoint's ControlNet LoRA weights into the adapter the ControlNet already has (a resume)."""
    _set_weights(controlnet, _controlnet_file(path)[1], "default", path)


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
