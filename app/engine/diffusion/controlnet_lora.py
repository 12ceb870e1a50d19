"""The inpaint ControlNet's half of a staging LoRA (`train-lora --controlnet`): NAME.controlnet.safetensors,
peft-named weights under `controlnet.` with the adapter's shape in the metadata, put on the inpaint
ControlNet when a staging job uses it."""

from __future__ import annotations

import json
from pathlib import Path

from app.engine.models.weights import require_safetensors
from app.errors import UserError

CONFIG_KEY = "lora_adapter_metadata"  # the key diffusers keeps a LoRA's peft config under
META_KEY = "roomstager"  # RoomStager's own record of the run that made a LoRA


def controlnet_path(path: Path) -> Path:
    """NAME.safetensors -> NAME.controlnet.safetensors: the inpaint ControlNet's half of a staging LoRA."""
    path = Path(path)
    return path.with_name(f"{path.stem}.controlnet.safetensors")


def controlnet_file(path: Path):
    # heavy: peft and safetensors load with the first ControlNet LoRA, not with the app
    from peft import LoraConfig
    from safetensors import SafetensorError, safe_open

    require_safetensors(path, "ControlNet LoRA")  # missing, pickled or a broken header: said, naming the file
    try:
        with safe_open(str(path), framework="pt") as f:
            config = json.loads((f.metadata() or {})[CONFIG_KEY])
            state = {k[len("controlnet."):]: f.get_tensor(k) for k in f.keys() if k.startswith("controlnet.")}  # noqa: SIM118
        lora = LoraConfig(r=int(config["r"]), lora_alpha=float(config["lora_alpha"]),
                          target_modules=list(config["target_modules"]))
    except (OSError, KeyError, TypeError, ValueError, SafetensorError) as exc:
        raise UserError(f"{path}: not a ControlNet LoRA RoomStager wrote ({exc.__class__.__name__}: {exc})") from None
    return lora, state


def set_weights(model, state: dict, adapter_name: str, path: Path) -> None:
    # heavy: peft loads with the first LoRA, not with the app
    from peft.utils import set_peft_model_state_dict

    result = set_peft_model_state_dict(model, state, adapter_name=adapter_name)
    if getattr(result, "unexpected_keys", None):
        raise UserError(f"{path}: LoRA weights that do not fit this model ({result.unexpected_keys[0]})")


def load_controlnet_lora(controlnet, path: Path, adapter_name: str) -> None:
    """Put a ControlNet LoRA written by save_controlnet_lora on a ControlNet, as a new adapter."""
    lora, state = controlnet_file(path)
    controlnet.add_adapter(lora, adapter_name=adapter_name)
    set_weights(controlnet, state, adapter_name, path)
