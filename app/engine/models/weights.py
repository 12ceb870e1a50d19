"""Weights are data: model files are read as tensors, never run.

Every file the app loads weights from goes through here or through a library call that
cannot execute code (safetensors; torch.load with weights_only=True for SAM .pth files).
A TorchScript or pickle file put where a safetensors file belongs is refused by its
contents, not only its name, with a message naming it; nothing in it is ever executed.
"""

from __future__ import annotations

from pathlib import Path

from app.engine.models.checkpoint_info import FileInfo, classify, code_kind, read_header
from app.errors import UserError


def require_safetensors(path: Path | str, what: str) -> tuple[dict, dict]:
    """The safetensors header of `path` (the `what` model), or a UserError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: the {what} file is missing")
    kind = code_kind(path)
    if kind is not None:
        raise UserError(f"{path}: a {kind} file, which can run code when loaded; RoomStager only loads the {what} "
                        f"from .safetensors. Get the catalog's file with `python main.py models download`, or "
                        f"convert it to .safetensors")
    return read_header(path)


def check_lora_file(path: Path | str) -> FileInfo:
    """A LoRA file is a readable safetensors LoRA; UserError naming the file otherwise."""
    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        raise UserError(f"{path}: only .safetensors LoRAs are loaded (other formats can run code)")
    header, metadata = require_safetensors(path, "LoRA")
    info = classify(path, header, metadata)
    if info.kind != "lora":
        raise UserError(f"{path}: not a LoRA ({info.describe()})")
    if info.problem:
        raise UserError(f"{path}: {info.describe()}")
    return info


def load_tensors(path: Path | str, what: str, device: str = "cpu") -> dict:
    """Every tensor of a safetensors file, checked first; UserError naming the file for anything wrong."""
    path = Path(path)
    require_safetensors(path, what)
    # heavy: loaded on first use, not when the app starts
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device=device)
    except Exception as exc:  # SafetensorError and friends: a damaged file
        raise UserError(f"{path}: the {what} file is damaged ({exc}); download or copy it again") from None
