"""Test helper: a diffusers inpainting folder -> one original-layout (LDM) .safetensors checkpoint.

The reverse of what diffusers' single-file loader does, written for any block
layout (so it works on the tiny models): UNet under `model.diffusion_model.`,
VAE under `first_stage_model.`, the text encoder(s) under
`cond_stage_model.transformer.` (SD1.5) or `conditioner.embedders.0.transformer.`
and OpenCLIP-style `conditioner.embedders.1.model.` (SDXL), as the files users
download from model sites are laid out.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

_RESNET = [("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("time_emb_proj", "emb_layers.1"),
           ("norm2", "out_layers.0"), ("conv2", "out_layers.3"), ("conv_shortcut", "skip_connection")]


def _resnet(rest: str) -> str:
    for new, old in _RESNET:
        if rest.startswith(new + "."):
            return old + rest[len(new):]
    return rest


def unet_to_ldm(sd: dict, config: dict) -> dict:
    L = config["layers_per_block"]
    up_has_attn = ["CrossAttn" in t for t in config["up_block_types"]]
    top = {"time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
           "add_embedding.linear_1": "label_emb.0.0", "add_embedding.linear_2": "label_emb.0.2",
           "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2"}
    out = {}
    for k, v in sd.items():
        p = k.split(".")
        new = None
        head = ".".join(p[:2])
        if head in top:
            new = top[head] + "." + ".".join(p[2:])
        elif p[0] in top:
            new = top[p[0]] + "." + ".".join(p[1:])
        elif p[0] == "down_blocks":
            i, kind = int(p[1]), p[2]
            if kind == "downsamplers":  # down_blocks.i.downsamplers.0.conv.X
                new = f"input_blocks.{(i + 1) * (L + 1)}.0.op." + ".".join(p[5:])
            else:
                j = int(p[3])
                idx = 1 + i * (L + 1) + j
                rest = ".".join(p[4:])
                new = f"input_blocks.{idx}.0.{_resnet(rest)}" if kind == "resnets" else f"input_blocks.{idx}.1.{rest}"
        elif p[0] == "mid_block":
            j, rest = int(p[2]), ".".join(p[3:])
            new = f"middle_block.{2 * j}.{_resnet(rest)}" if p[1] == "resnets" else f"middle_block.1.{rest}"
        elif p[0] == "up_blocks":
            i, kind = int(p[1]), p[2]
            if kind == "upsamplers":  # up_blocks.i.upsamplers.0.conv.X
                new = f"output_blocks.{i * (L + 1) + L}.{2 if up_has_attn[i] else 1}.conv." + ".".join(p[5:])
            else:
                j = int(p[3])
                idx = i * (L + 1) + j
                rest = ".".join(p[4:])
                new = f"output_blocks.{idx}.0.{_resnet(rest)}" if kind == "resnets" else f"output_blocks.{idx}.1.{rest}"
        if new is None:
            raise KeyError(f"no LDM name for UNet key {k}")
        out["model.diffusion_model." + new] = v
    return out


def vae_to_ldm(sd: dict, config: dict) -> dict:
    n = len(config["up_block_types"])
    attn = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
    out = {}
    for k, v in sd.items():
        p = k.split(".")
        new = k
        if p[0] in ("encoder", "decoder"):
            side, rest = p[0], p[1:]
            if rest[0] == "conv_norm_out":
                new = f"{side}.norm_out." + ".".join(rest[1:])
            elif rest[0] == "down_blocks":
                i = int(rest[1])
                if rest[2] == "resnets":
                    new = f"{side}.down.{i}.block.{rest[3]}." + ".".join(rest[4:]).replace("conv_shortcut", "nin_shortcut")
                else:  # downsamplers.0.conv
                    new = f"{side}.down.{i}.downsample." + ".".join(rest[4:])
            elif rest[0] == "up_blocks":
                i = int(rest[1])
                b = n - 1 - i
                if rest[2] == "resnets":
                    new = f"{side}.up.{b}.block.{rest[3]}." + ".".join(rest[4:]).replace("conv_shortcut", "nin_shortcut")
                else:
                    new = f"{side}.up.{b}.upsample." + ".".join(rest[4:])
            elif rest[0] == "mid_block":
                if rest[1] == "resnets":
                    new = f"{side}.mid.block_{int(rest[2]) + 1}." + ".".join(rest[3:]).replace("conv_shortcut", "nin_shortcut")
                else:  # attentions.0.X
                    tail = ".".join(rest[3:])
                    for d, o in attn.items():
                        if tail.startswith(d + "."):
                            tail = o + tail[len(d):]
                            break
                    new = f"{side}.mid.attn_1.{tail}"
                    if v.ndim == 2:
                        v = v[:, :, None, None]
        out["first_stage_model." + new] = v
    return out


def clip_to_ldm(sd: dict, prefix: str) -> dict:
    out = {}
    for k, v in sd.items():
        if k.endswith("position_ids"):
            continue
        key = k if k.startswith(("text_model.", "text_projection")) else "text_model." + k
        out[prefix + key] = v
    return out


def open_clip_to_ldm(sd: dict, prefix: str = "conditioner.embedders.1.model.") -> dict:
    sd = {(k if k.startswith(("text_model.", "text_projection")) else "text_model." + k): v for k, v in sd.items()}
    out = {}
    layers: dict[int, dict] = {}
    for k, v in sd.items():
        if k.endswith("position_ids"):
            continue
        if k == "text_model.embeddings.token_embedding.weight":
            out[prefix + "token_embedding.weight"] = v
        elif k == "text_model.embeddings.position_embedding.weight":
            out[prefix + "positional_embedding"] = v
        elif k.startswith("text_model.final_layer_norm."):
            out[prefix + "ln_final." + k.split(".")[-1]] = v
        elif k == "text_projection.weight":
            out[prefix + "text_projection"] = v.T.contiguous()
        elif k.startswith("text_model.encoder.layers."):
            p = k.split(".")
            i, rest = int(p[3]), ".".join(p[4:])
            base = f"{prefix}transformer.resblocks.{i}."
            if rest.startswith("self_attn.") and rest.split(".")[1] in ("q_proj", "k_proj", "v_proj"):
                layers.setdefault(i, {})[rest] = v
                continue
            rest = (rest.replace("self_attn.out_proj", "attn.out_proj").replace("layer_norm1", "ln_1")
                    .replace("layer_norm2", "ln_2").replace("mlp.fc1", "mlp.c_fc").replace("mlp.fc2", "mlp.c_proj"))
            out[base + rest] = v
        else:
            raise KeyError(f"no OpenCLIP name for {k}")
    for i, qkv in layers.items():
        base = f"{prefix}transformer.resblocks.{i}.attn."
        for kind in ("weight", "bias"):
            out[base + f"in_proj_{kind}"] = torch.cat([qkv[f"self_attn.{x}_proj.{kind}"] for x in "qkv"], 0)
    return out


def diffusers_to_single_file(folder: Path, dest: Path, *, half_unet: bool = False) -> Path:
    """Write `folder` (an SD1.5 or SDXL inpainting pipeline) as one original-layout checkpoint."""
    folder = Path(folder)

    def part(sub: str) -> dict:
        files = list((folder / sub).glob("*.safetensors"))
        return load_file(str(files[0]))

    def cfg(sub: str) -> dict:
        return json.loads((folder / sub / "config.json").read_text())

    out = {}
    out.update(unet_to_ldm(part("unet"), cfg("unet")))
    out.update(vae_to_ldm(part("vae"), cfg("vae")))
    if (folder / "text_encoder_2").is_dir():
        out.update(clip_to_ldm(part("text_encoder"), "conditioner.embedders.0.transformer."))
        out.update(open_clip_to_ldm(part("text_encoder_2")))
    else:
        out.update(clip_to_ldm(part("text_encoder"), "cond_stage_model.transformer."))
    out = {k: v.contiguous() for k, v in out.items()}
    dest.parent.mkdir(parents=True, exist_ok=True)
    save_file(out, str(dest), metadata={"format": "pt"})
    return dest
