"""Real-size, random-weight components of each model set, for scripts/gpu_check.py.

Configs are the published ones (the app ships SD1.5 / SDXL configs in
resources/model_configs; the big families' are written out here). Building on the
"meta" device costs nothing and gives exact parameter counts; `build` makes them
for real, with random weights, directly on the GPU (weights do not change speed).
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "resources" / "model_configs"

FLUX_FILL = dict(patch_size=1, in_channels=384, out_channels=64, num_layers=19, num_single_layers=38,
                 attention_head_dim=128, num_attention_heads=24, joint_attention_dim=4096, pooled_projection_dim=768,
                 guidance_embeds=True, axes_dims_rope=[16, 56, 56])
FLUX_CONTROLNET_UNION_PRO_2 = dict(patch_size=1, in_channels=64, num_layers=6, num_single_layers=0,
                                   attention_head_dim=128, num_attention_heads=24, joint_attention_dim=4096,
                                   pooled_projection_dim=768, guidance_embeds=True, axes_dims_rope=[16, 56, 56])
T5_XXL = dict(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
              relative_attention_num_buckets=32, relative_attention_max_distance=128, feed_forward_proj="gated-gelu",
              dense_act_fn="gelu_new", is_gated_act=True)
CLIP_L = dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
              projection_dim=768, vocab_size=49408, max_position_embeddings=77)
FLUX_VAE = dict(in_channels=3, out_channels=3, latent_channels=16, block_out_channels=[128, 256, 512, 512],
                down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                layers_per_block=2, use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.1159,
                scaling_factor=0.3611, sample_size=1024)
ZIMAGE = dict(all_patch_size=[2], all_f_patch_size=[1], in_channels=16, dim=3840, n_layers=30, n_refiner_layers=2,
              n_heads=30, n_kv_heads=30, norm_eps=1e-5, qk_norm=True, cap_feat_dim=2560, rope_theta=256.0,
              t_scale=1000.0, axes_dims=[32, 48, 48], axes_lens=[1536, 512, 512])
ZIMAGE_CONTROLNET_2_1 = dict(control_layers_places=list(range(0, 30, 2)), control_refiner_layers_places=[0, 1],
                             control_in_dim=33, add_control_noise_refiner="control_noise_refiner", all_patch_size=[2],
                             all_f_patch_size=[1], dim=3840, n_refiner_layers=2, n_heads=30, n_kv_heads=30,
                             norm_eps=1e-5, qk_norm=True)
QWEN3_4B = dict(hidden_size=2560, intermediate_size=9728, num_hidden_layers=36, num_attention_heads=32,
                num_key_value_heads=8, head_dim=128, vocab_size=151936, max_position_embeddings=40960,
                rope_theta=1000000.0, tie_word_embeddings=True)


def _json(path: Path) -> dict:
    return {k: v for k, v in json.loads(path.read_text(encoding="utf-8")).items() if not k.startswith("_")}


def components(family: str) -> dict:
    """name -> a function building the module (call it under a device context)."""
    import diffusers as d
    import transformers as t

    if family == "flux":
        return {
            "transformer": lambda: d.FluxTransformer2DModel(**FLUX_FILL),
            "controlnet": lambda: d.FluxControlNetModel(**FLUX_CONTROLNET_UNION_PRO_2),
            "text_encoder": lambda: t.CLIPTextModel(t.CLIPTextConfig(**CLIP_L)),
            "text_encoder_2": lambda: t.T5EncoderModel(t.T5Config(**T5_XXL)),
            "vae": lambda: d.AutoencoderKL(**FLUX_VAE),
        }
    if family == "zimage":
        return {
            "transformer": lambda: d.ZImageTransformer2DModel(**ZIMAGE),
            "controlnet": lambda: d.ZImageControlNetModel(**ZIMAGE_CONTROLNET_2_1),
            "text_encoder": lambda: t.Qwen3Model(t.Qwen3Config(**QWEN3_4B)),
            "vae": lambda: d.AutoencoderKL(**FLUX_VAE),
        }
    folder = CONFIGS / ("sdxl-inpainting" if family == "sdxl" else "sd15-inpainting")
    out = {
        "unet": lambda: d.UNet2DConditionModel(**_json(folder / "unet" / "config.json")),
        "controlnet_depth": lambda: d.ControlNetModel.from_unet(
            d.UNet2DConditionModel(**{**_json(folder / "unet" / "config.json"), "in_channels": 4})),
        "controlnet_canny": lambda: d.ControlNetModel.from_unet(
            d.UNet2DConditionModel(**{**_json(folder / "unet" / "config.json"), "in_channels": 4})),
        "text_encoder": lambda: t.CLIPTextModel(t.CLIPTextConfig(**_json(folder / "text_encoder" / "config.json"))),
        "vae": lambda: d.AutoencoderKL(**_json(folder / "vae" / "config.json")),
    }
    if family == "sdxl":
        out["text_encoder_2"] = lambda: t.CLIPTextModelWithProjection(
            t.CLIPTextConfig(**_json(folder / "text_encoder_2" / "config.json")))
    return out


def parameter_counts(family: str) -> dict[str, int]:
    """Exact parameter counts of each component, built on the meta device (no memory, no time)."""
    import torch

    out = {}
    with torch.device("meta"):
        for name, build in components(family).items():
            out[name] = sum(p.numel() for p in build().parameters())
    return out


def build(family: str, device: str, dtype) -> dict:
    """Every component with its default (random) initialisation, made directly on `device` in `dtype`."""
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            return {name: make().eval() for name, make in components(family).items()}
    finally:
        torch.set_default_dtype(previous)
