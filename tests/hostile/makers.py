"""Hostile files for the hostile-input suite: model files that carry code or lie about their contents,
and helpers that write them. Every maker returns the path it wrote."""

from __future__ import annotations

import json
import os
import pickle
import struct
import warnings
from pathlib import Path

MARKER = "ROOMSTAGER_HOSTILE_MARKER"  # env var: where a payload that ran would leave its mark


class _RunsCode:
    """Unpickling this calls os.system: proof that a file was executed if the marker appears."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def pickle_bomb(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps({"model.weight": _RunsCode(marker)}, protocol=2))
    return path


def torchscript(path: Path) -> Path:
    """A real TorchScript archive (a program, not data)."""
    import torch

    class Program(torch.nn.Module):
        def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
            return x * (1 - m)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(Program()), str(path))
    return path


def safetensors_raw(path: Path, header: dict | list | str, data: bytes = b"", declared: int | None = None) -> Path:
    """A file laid out like safetensors with any header (and an optional lying header length)."""
    body = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(body) if declared is None else declared) + body + data)
    return path


def tensor_header(names: list[str], shape=(2, 2)) -> tuple[dict, bytes]:
    header, offset = {}, 0
    size = 4 * shape[0] * shape[1]
    for n in names:
        header[n] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    return header, b"\0" * offset


def lora_like(path: Path) -> Path:
    header, data = tensor_header(["lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight",
                                  "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight"])
    return safetensors_raw(path, header, data)


def lama_wrong_shapes(path: Path) -> Path:
    """Names of LaMa's first layers with shapes that fit no generator."""
    header, data = tensor_header(["model.1.ffc.convl2l.weight", "model.5.conv1.ffc.convl2l.weight"], (3, 3))
    return safetensors_raw(path, header, data)


def tiny_lama(path: Path) -> Path:
    """A real (tiny, random) LaMa generator as safetensors."""
    from safetensors.torch import save_file

    from app.engine.diffusion.lama import build_lama

    save_file({k: v.contiguous() for k, v in build_lama(ngf=8, blocks=1).state_dict().items()}, str(path))
    return path


def models_with(root: Path, tiny: Path, replace: dict[str, callable]) -> Path:
    """A models folder that is the tiny set with some files replaced (the rest linked, never copied)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "catalog.toml").write_text((tiny / "catalog.toml").read_text(encoding="utf-8"), encoding="utf-8")
    for sub in tiny.iterdir():
        if sub.is_dir():
            (root / sub.name).mkdir(exist_ok=True)
            for item in sub.iterdir():
                (root / sub.name / item.name).symlink_to(item, target_is_directory=item.is_dir())
    for rel, make in replace.items():
        target = root / rel
        target.unlink(missing_ok=True)
        make(target)
    return root
