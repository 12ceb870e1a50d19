"""The user's own files: header detection, import (copy / in place / a whole folder), staging with them."""

from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from ldm_convert import diffusers_to_single_file
from models_helpers import fake_safetensors

from app.engine.models.checkpoint_info import inspect_file, read_header
from app.errors import UserError


def make_lora(tiny_models: Path, arch: str, dest: Path) -> Path:
    """A peft LoRA on the tiny UNet, random (so it changes pictures), saved the diffusers way."""
    import torch
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline, UNet2DConditionModel
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    torch.manual_seed(1)
    unet = UNet2DConditionModel.from_pretrained(tiny_models / "inpaint" / f"tiny-{arch}-inpainting", subfolder="unet")
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_k", "to_q", "to_v", "to_out.0"],
                                init_lora_weights=False))
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    cls = StableDiffusionXLPipeline if arch == "sdxl" else StableDiffusionPipeline
    cls.save_lora_weights(str(dest.parent), unet_lora_layers=layers, weight_name=dest.name, safe_serialization=True)
    return dest


@pytest.fixture(scope="module")
def other_tool(tmp_path_factory, tiny_models) -> Path:
    """Another local diffusion tool's models folder, as users have one."""
    root = tmp_path_factory.mktemp("othertool") / "models"
    ckpts, loras = root / "Stable-diffusion", root / "Lora"
    ckpts.mkdir(parents=True)
    loras.mkdir(parents=True)
    inpaint = tiny_models / "inpaint"
    diffusers_to_single_file(inpaint / "tiny-sd15-inpainting", ckpts / "roomy-sd15-inpainting.safetensors")
    diffusers_to_single_file(inpaint / "tiny-sdxl-inpainting", ckpts / "roomy-xl.safetensors")
    make_lora(tiny_models, "sd15", loras / "cozy-style.safetensors")
    make_lora(tiny_models, "sdxl", loras / "xl-style.safetensors")
    (ckpts / "old-model.ckpt").write_bytes(b"\x80\x04pickle")
    (loras / "notes.safetensors").write_bytes(fake_safetensors({"something.else": [4]}))
    return root


def snapshot(folder: Path) -> dict:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def cli(*argv) -> tuple[int, str, str]:
    from app.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


# ---- detection ------------------------------------------------------------------

SD15 = {"model.diffusion_model.input_blocks.0.0.weight": [320, 9, 3, 3],
        "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": [320, 768],
        "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": [8, 768],
        "first_stage_model.decoder.conv_in.weight": [4]}
SDXL = {"model.diffusion_model.input_blocks.0.0.weight": [320, 4, 3, 3],
        "model.diffusion_model.label_emb.0.0.weight": [1280, 2816],
        "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight": [640, 2048],
        "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight": [8, 768],
        "conditioner.embedders.1.model.token_embedding.weight": [8, 1280],
        "first_stage_model.decoder.conv_in.weight": [4]}


@pytest.mark.parametrize("tensors, kind, arch, problem", [
    (SD15, "checkpoint", "sd15", None),
    (SDXL, "checkpoint", "sdxl", None),
    ({**SD15, "cond_stage_model.model.token_embedding.weight": [8, 1024]}, "checkpoint", None, "2.x"),
    ({"model.diffusion_model.input_blocks.0.0.weight": [384, 4, 3, 3],
      "conditioner.embedders.0.model.token_embedding.weight": [8, 1280]}, "checkpoint", None, "refiner"),
    ({"double_blocks.0.img_attn.norm.key_norm.scale": [128]}, "checkpoint", None, "FLUX"),
    ({"control_model.input_hint_block.0.weight": [16, 3, 3, 3],
      "control_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": [320, 768]}, "controlnet", "sd15",
     "ControlNets"),
    ({"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": [4, 768],
      "lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": [4, 768]}, "lora", "sd15", None),
    ({"lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.lora_down.weight": [4, 640],
      "lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": [4, 1280]}, "lora", "sdxl", None),
    ({"unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight": [4, 2048]}, "lora", "sdxl", None),
    ({"first_stage_model.encoder.down.0.block.0.conv1.weight": [4]}, "vae", None, "VAE"),
    ({"something.else": [4]}, "unknown", None, "not a Stable Diffusion"),
])
def test_detection_from_header_only(tmp_path, tensors, kind, arch, problem):
    path = tmp_path / "f.safetensors"
    path.write_bytes(fake_safetensors(tensors))
    info = inspect_file(path)
    assert (info.kind, info.arch) == (kind, arch)
    assert (info.problem is None) if problem is None else (problem in info.problem)
    if kind == "checkpoint" and arch:
        assert info.inpainting == (tensors["model.diffusion_model.input_blocks.0.0.weight"][1] == 9)


def test_detection_of_tiny_files_and_unsafe_formats(other_tool, tmp_path):
    ck, lo = other_tool / "Stable-diffusion", other_tool / "Lora"
    sd15, sdxl = inspect_file(ck / "roomy-sd15-inpainting.safetensors"), inspect_file(ck / "roomy-xl.safetensors")
    assert (sd15.kind, sd15.arch, sd15.inpainting, sd15.usable) == ("checkpoint", "sd15", True, True)
    assert (sdxl.kind, sdxl.arch, sdxl.inpainting, sdxl.usable) == ("checkpoint", "sdxl", True, True)
    assert (inspect_file(lo / "cozy-style.safetensors").arch, inspect_file(lo / "xl-style.safetensors").arch) == \
        ("sd15", "sdxl")
    pickle = inspect_file(ck / "old-model.ckpt")
    assert not pickle.usable and ".safetensors" in pickle.problem
    data = (ck / "roomy-xl.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="truncated"):
        read_header(tmp_path / "cut.safetensors")
    (tmp_path / "huge.safetensors").write_bytes((10**12).to_bytes(8, "little") + b"{}")
    with pytest.raises(UserError, match="not a readable"):
        read_header(tmp_path / "huge.safetensors")


# ---- import and use ---------------------------------------------------------------


@pytest.fixture(scope="module")
def engine_for_copy(tiny_copy):
    from app.engine import Engine
    eng = Engine(models=str(tiny_copy), device="cpu")
    yield eng
    eng.shutdown()


def _photo():
    """A small synthetic room (wall, floor, a box) and a mask over the box."""
    rng = np.random.default_rng(2)
    photo = np.empty((128, 192, 3), np.uint8)
    photo[:74] = (214, 206, 192)
    photo[74:] = (132, 100, 72)
    photo[58:96, 66:136] = (60, 70, 130)
    photo = np.clip(photo.astype(np.int16) + rng.integers(-4, 5, photo.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((128, 192), bool)
    mask[56:99, 64:138] = True
    return photo, mask


def _stage(engine, models, model_set, lora=None, seed=7):
    from app.engine import StageRequest
    photo, mask = _photo()
    result = engine.run(StageRequest(photo=photo, mask=mask, models=str(models), model_set=model_set, steps=2,
                                     seed=seed, lora=lora, lora_scale=1.0), timeout=300)
    img = result.images[0]
    assert img.shape == photo.shape
    rows, cols = np.nonzero(mask)
    outside = np.ones(mask.shape, bool)
    outside[max(0, rows.min() - 30):rows.max() + 30, max(0, cols.min() - 30):cols.max() + 30] = False
    assert np.array_equal(img[outside], photo[outside])  # pasted back: the rest of the photo is untouched
    return img


def test_import_copy_sd15_checkpoint_and_lora_then_stage(tiny_copy, other_tool, engine_for_copy):
    before = snapshot(other_tool)
    code, out, err = cli("models", "import", str(other_tool / "Stable-diffusion" / "roomy-sd15-inpainting.safetensors"),
                         "--models", str(tiny_copy), "--name", "roomy", "--json")
    assert code == 0, err
    result = json.loads(out)["imported"][0]
    assert (result["name"], result["arch"], result["kind"], result["linked"]) == ("roomy", "sd15", "checkpoint", False)
    assert result["set_name"] == "roomy"
    copied = tiny_copy / "checkpoints" / "roomy.safetensors"
    assert copied.is_file() and Path(result["path"]) == copied
    from app.engine import Catalog
    catalog = Catalog.load(tiny_copy)
    spec = catalog.sets["roomy"]
    assert spec["inpaint"] == "roomy" and spec["based_on"] == "tiny" and spec["controlnet_depth"] == "tiny-sd15-controlnet-depth"
    assert catalog.entry("roomy").info["config"] == "tiny-sd15-inpainting"
    model_set = catalog.resolve_set("roomy")
    assert model_set.single_file and model_set.inpaint_config == (tiny_copy / "inpaint" / "tiny-sd15-inpainting").resolve()

    code, out, err = cli("models", "import", str(other_tool / "Lora" / "cozy-style.safetensors"),
                         "--models", str(tiny_copy), "--json")
    assert code == 0, err
    lora = json.loads(out)["imported"][0]
    assert (lora["role"], lora["arch"], lora["set_name"]) == ("lora", "sd15", None)
    assert Catalog.load(tiny_copy).lora_path("cozy-style") == lora["path"]

    plain = _stage(engine_for_copy, tiny_copy, "roomy")
    styled = _stage(engine_for_copy, tiny_copy, "roomy", lora=lora["path"])
    assert not np.array_equal(plain, styled)  # the LoRA was applied
    assert snapshot(other_tool) == before  # copying never touches the source

    code, out, _ = cli("models", "verify", "roomy", "cozy-style", "--models", str(tiny_copy), "--json")
    assert code == 0 and json.loads(out)["ok"]


def test_link_sdxl_checkpoint_in_place_then_stage(tiny_copy, other_tool, engine_for_copy):
    before = snapshot(other_tool)
    src = other_tool / "Stable-diffusion" / "roomy-xl.safetensors"
    code, out, err = cli("models", "import", str(src), "--link", "--models", str(tiny_copy), "--json")
    assert code == 0, err
    r = json.loads(out)["imported"][0]
    assert (r["arch"], r["linked"], Path(r["path"])) == ("sdxl", True, src.resolve())
    from app.engine import Catalog
    catalog = Catalog.load(tiny_copy)
    assert catalog.entry(r["name"]).external and catalog.sets[r["set_name"]]["based_on"] == "tiny-sdxl"
    _stage(engine_for_copy, tiny_copy, r["set_name"])
    # importing the same file again changes nothing
    code, out, _ = cli("models", "import", str(src), "--link", "--models", str(tiny_copy), "--json")
    assert json.loads(out)["imported"][0]["existing"]
    # removing a file used in place only forgets it
    code, out, _ = cli("models", "remove", r["name"], "--models", str(tiny_copy), "--json")
    removed = json.loads(out)["removed"][0]
    assert code == 0 and removed["deleted"] == [] and removed["forgotten"] and r["set_name"] in removed["sets_forgotten"]
    assert src.is_file() and snapshot(other_tool) == before


def test_scan_another_tools_folder_in_place(tmp_path, other_tool):
    before = snapshot(other_tool)
    models = tmp_path / "mine"
    code, out, err = cli("models", "import", str(other_tool), "--models", str(models), "--json")
    assert code == 0, err
    data = json.loads(out)
    got = {(r["kind"], r["arch"]) for r in data["imported"]}
    assert got == {("checkpoint", "sd15"), ("checkpoint", "sdxl"), ("lora", "sd15"), ("lora", "sdxl")}
    assert all(r["linked"] for r in data["imported"])
    skipped = {Path(s["path"]).name for s in data["skipped"]}
    assert skipped == {"notes.safetensors"}  # .ckpt files are not even opened
    assert snapshot(other_tool) == before  # read-only: nothing written there
    assert sorted(p.name for p in models.iterdir()) == ["catalog.toml"]
    code, out, _ = cli("models", "list", "--models", str(models), "--json", "--vram", "8")
    listed = {m["name"]: m for m in json.loads(out)["models"]}
    assert all(listed[r["name"]]["status"] == "external" for r in data["imported"])
    # a second scan finds the same files already imported
    code, out, _ = cli("models", "import", str(other_tool), "--models", str(models), "--json")
    assert all(r["existing"] for r in json.loads(out)["imported"])


def test_refusals(tmp_path, other_tool):
    models = tmp_path / "mine"
    code, _, err = cli("models", "import", str(other_tool / "Stable-diffusion" / "old-model.ckpt"), "--models", str(models))
    assert code == 2 and ".safetensors" in err
    code, _, err = cli("models", "import", str(tmp_path / "nope.safetensors"), "--models", str(models))
    assert code == 2 and "no such file" in err


def test_remove_copied_model_deletes_files_and_entries(tmp_path, other_tool):
    models = tmp_path / "mine"
    cli("models", "import", str(other_tool / "Lora" / "xl-style.safetensors"), "--models", str(models))
    assert (models / "loras" / "xl-style.safetensors").is_file()
    code, out, _ = cli("models", "remove", "xl-style", "--models", str(models), "--json")
    assert code == 0
    assert not (models / "loras" / "xl-style.safetensors").exists()
    assert "xl-style" not in (models / "catalog.toml").read_text()
    assert (other_tool / "Lora" / "xl-style.safetensors").is_file()


def test_missing_model_names_both_ways_in_the_cli(tmp_path):
    import cv2

    photo, mask = _photo()
    cv2.imwrite(str(tmp_path / "room.png"), photo[:, :, ::-1])
    cv2.imwrite(str(tmp_path / "mask.png"), mask.astype(np.uint8) * 255)
    (tmp_path / "empty").mkdir()
    code, _, err = cli("stage", str(tmp_path / "room.png"), "--mask", str(tmp_path / "mask.png"), "--models",
                       str(tmp_path / "empty"), "--model-set", "standard", "-o", str(tmp_path / "out.png"),
                       "--device", "cpu")
    assert code == 2
    assert "sd15-inpainting" in err and "models download sd15-inpainting" in err and "models import FILE" in err


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {_Evil.marker}",))


def test_sam_pth_read_with_weights_only(tmp_path, tiny_models):
    import pickle

    tiny = inspect_file(tiny_models / "sam" / "tiny-sam.pth")
    assert tiny.kind == "sam" and "width 32" in tiny.problem  # read, recognised, not a standard size
    _Evil.marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps({"image_encoder.patch_embed.proj.weight": _Evil()}))
    info = inspect_file(evil)
    assert not info.usable and not _Evil.marker.exists()
    code, _, err = cli("models", "import", str(evil), "--models", str(tmp_path / "m"))
    assert code == 2 and not _Evil.marker.exists()
