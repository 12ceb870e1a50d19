"""LaMa's generator, defined in the project, loads safetensors weights strictly as data: the
published layouts (original "generator.", a wrapper's "model.model.", ours), and nothing else."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from app.engine.diffusion.eraser import Eraser
from app.engine.diffusion.lama import build_lama, load_lama
from app.engine.models.checkpoint_info import inspect_file
from app.errors import UserError


def _weights(model) -> dict:
    torch.manual_seed(1)
    out = {}
    for k, v in model.state_dict().items():
        out[k] = (torch.randn_like(v) * 0.05 if v.is_floating_point() else v).contiguous()
        if "running_var" in k:
            out[k] = out[k].abs() + 0.5
    return out


def test_big_lama_has_the_published_size():
    with torch.device("meta"):
        model = build_lama()
    assert sum(p.numel() for p in model.parameters()) == 50_975_875  # "51 M parameters" in the paper
    names = list(model.state_dict())
    assert names[0] == "model.1.ffc.convl2l.weight" and "model.5.conv1.ffc.convg2g.fu.conv_layer.weight" in names
    assert names[-2:] == ["model.34.weight", "model.34.bias"]


@pytest.mark.parametrize("prefix", ["", "generator.", "model."])
def test_each_published_layout_loads_to_the_same_model(tmp_path, prefix):
    model = build_lama(ngf=8, blocks=2).eval()
    weights = _weights(model)
    model.load_state_dict(weights)
    extra = {"discriminator.conv.weight": torch.zeros(2)} if prefix == "generator." else {}
    path = tmp_path / "lama.safetensors"
    save_file({prefix + k: v for k, v in weights.items()} | extra, str(path))
    loaded = load_lama(path)
    x, m = torch.rand(1, 3, 64, 72), torch.zeros(1, 1, 64, 72)
    m[..., 20:40, 10:50] = 1
    with torch.inference_mode():
        assert torch.equal(loaded(x, m), model(x, m))
    assert inspect_file(path).kind == "erase"


def test_missing_or_misshapen_tensors_are_refused_naming_the_file(tmp_path):
    weights = _weights(build_lama(ngf=8, blocks=2))
    short = dict(weights)
    short.pop("model.5.conv2.ffc.convg2g.fu.conv_layer.weight")
    save_file(short, str(tmp_path / "short.safetensors"))
    with pytest.raises(UserError, match=r"short\.safetensors.*1 tensors missing"):
        load_lama(tmp_path / "short.safetensors")
    bent = dict(weights)
    bent["model.2.ffc.convl2l.weight"] = torch.zeros(3, 3, 3, 3)
    save_file(bent, str(tmp_path / "bent.safetensors"))
    with pytest.raises(UserError, match=r"bent\.safetensors: not a LaMa erase model"):
        load_lama(tmp_path / "bent.safetensors")
    save_file({"unrelated.weight": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(UserError, match="not a LaMa erase model"):
        load_lama(tmp_path / "other.safetensors")


def test_the_eraser_pads_any_size_and_changes_only_the_hole(tmp_path):
    path = tmp_path / "lama.safetensors"
    save_file(_weights(build_lama(ngf=8, blocks=1)), str(path))
    eraser = Eraser(path, "cpu")
    image = np.random.default_rng(0).integers(0, 255, (61, 83, 3), np.uint8)
    hole = np.zeros((61, 83), bool)
    hole[10:30, 20:60] = True
    out = eraser(image, hole)
    assert out.shape == image.shape and np.array_equal(out[~hole], image[~hole])
    assert (out[hole] != image[hole]).any()
