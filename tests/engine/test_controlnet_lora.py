"""A damaged ControlNet half of a staging LoRA is refused with a message naming the file, not a traceback."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from app.engine.diffusion.controlnet_lora import CONFIG_KEY, controlnet_file
from app.errors import UserError


def _write_half(path):
    config = {"r": 4, "lora_alpha": 4.0, "target_modules": ["to_q"]}
    save_file({"controlnet.block.lora_A.weight": torch.ones(4, 8)}, str(path), metadata={CONFIG_KEY: json.dumps(config)})


def test_a_good_half_reads_and_damaged_ones_are_named(tmp_path):
    good = tmp_path / "style.controlnet.safetensors"
    _write_half(good)
    lora, state = controlnet_file(good)
    assert lora.r == 4 and list(state) == ["block.lora_A.weight"]

    garbage = tmp_path / "garbage.controlnet.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    cut = tmp_path / "cut.controlnet.safetensors"
    cut.write_bytes(good.read_bytes()[:-40])  # the header is whole, the tensor data is not
    for bad in (garbage, cut, tmp_path / "missing.controlnet.safetensors"):
        with pytest.raises(UserError) as caught:
            controlnet_file(bad)
        assert str(bad) in str(caught.value)
