"""Tiny random-weight models in the real on-disk layout, for tests and smoke runs.

The classes are the real ones (diffusers UNet / VAE / ControlNet, CLIP text
encoders and tokenizers, segment-anything's Sam, Depth Anything), only their
configs are small. They are written to a models folder with its own
catalog.toml and then loaded by exactly the code that loads real weights.
Their pictures are noise by design; they prove plumbing, shapes, coordinates,
preservation and the speed of everything around the model.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from app import settings
from app.engine.diffusion.lama import build_lama
from app.engine.tiny.detectors import write_detector, write_mask2former, write_oneformer
from app.engine.tiny.families import CATALOG, write_families, write_sd_fast_loras
from app.engine.tiny.metric_depth import write_depth_anything, write_depth_pro
from app.engine.tiny.sam3 import write_sam3
from app.engine.tiny.tokenizer import text_config, write_tokenizer
from app.engine.vision.sam_model import build_sam

TINY_VERSION = "9"
TINY_NATIVE = 128  # working resolution of the tiny sets: keeps CPU tests fast

_CATALOG = """\
# Written by app/engine/tiny/models.py: tiny random-weight models for tests and smoke runs.
[sets.tiny]
title = "Tiny test models (SD1.5 layout)"
arch = "sd15"
native = {native}
min_vram_gb = 0
inpaint = "tiny-sd15-inpainting"
controlnet_depth = "tiny-sd15-controlnet-depth"
controlnet_canny = "tiny-sd15-controlnet-canny"
controlnet_inpaint = "tiny-sd15-controlnet-inpaint"
sam = "tiny-sam"
depth = "tiny-depth"
detector = "tiny-grounding-dino"
segmenter = "tiny-oneformer-ade"
erase = "tiny-erase"
metric_depth = "tiny-depth-pro"
fast_lora = "tiny-lcm-lora-sd15"
fast_steps = 4
fast_guidance = 1.0
fast_scheduler = "lcm"

[sets.tiny-sdxl]
title = "Tiny test models (SDXL layout)"
arch = "sdxl"
native = {native}
min_vram_gb = 0
inpaint = "tiny-sdxl-inpainting"
controlnet_depth = "tiny-sdxl-controlnet-depth"
controlnet_canny = "tiny-sdxl-controlnet-canny"
sam = "tiny-sam"
depth = "tiny-depth"
detector = "tiny-grounding-dino"
segmenter = "tiny-oneformer-ade"
erase = "tiny-erase"
metric_depth = "tiny-depth-pro"
fast_lora = "tiny-lcm-lora-sdxl"
fast_steps = 4
fast_guidance = 1.0
fast_scheduler = "lcm"

# The tiny set with a text-prompted segmenter: automatic masks use SAM 3 instead of detector + SAM.
[sets.tiny-sam3]
title = "Tiny test models with SAM 3 (SD1.5 layout)"
arch = "sd15"
native = {native}
min_vram_gb = 0
inpaint = "tiny-sd15-inpainting"
controlnet_depth = "tiny-sd15-controlnet-depth"
controlnet_canny = "tiny-sd15-controlnet-canny"
controlnet_inpaint = "tiny-sd15-controlnet-inpaint"
sam = "tiny-sam"
depth = "tiny-depth"
detector = "tiny-grounding-dino"
segmenter = "tiny-oneformer-ade"
text_segmenter = "tiny-sam3"
erase = "tiny-erase"

[models.tiny-sd15-inpainting]
role = "inpaint"
arch = "sd15"
path = "inpaint/tiny-sd15-inpainting"
license = "test"

[models.tiny-sd15-controlnet-depth]
role = "controlnet-depth"
arch = "sd15"
path = "controlnet/tiny-sd15-controlnet-depth"
license = "test"

[models.tiny-sd15-controlnet-canny]
role = "controlnet-canny"
arch = "sd15"
path = "controlnet/tiny-sd15-controlnet-canny"
license = "test"

[models.tiny-sd15-controlnet-inpaint]
role = "controlnet-inpaint"
arch = "sd15"
path = "controlnet/tiny-sd15-controlnet-inpaint"
license = "test"

[models.tiny-sdxl-inpainting]
role = "inpaint"
arch = "sdxl"
path = "inpaint/tiny-sdxl-inpainting"
license = "test"

[models.tiny-sdxl-controlnet-depth]
role = "controlnet-depth"
arch = "sdxl"
path = "controlnet/tiny-sdxl-controlnet-depth"
license = "test"

[models.tiny-sdxl-controlnet-canny]
role = "controlnet-canny"
arch = "sdxl"
path = "controlnet/tiny-sdxl-controlnet-canny"
license = "test"

[models.tiny-sam]
role = "sam"
path = "sam/tiny-sam.pth"
sam_type = "config"
license = "test"

[models.tiny-depth]
role = "depth"
path = "depth/tiny-depth"
license = "test"

[models.tiny-grounding-dino]
role = "detector"
path = "detector/tiny-grounding-dino"
license = "test"

[models.tiny-oneformer-ade]
role = "segmenter"
path = "segmenter/tiny-oneformer-ade"
license = "test"

[models.tiny-mask2former-ade]
role = "segmenter"
path = "segmenter/tiny-mask2former-ade"
license = "test"

[models.tiny-sam3]
role = "text-segmenter"
path = "segmenter/tiny-sam3"
license = "test"

[models.tiny-depth-pro]
role = "metric-depth"
path = "depth/tiny-depth-pro"
license = "test"

[models.tiny-depth-anything-metric]
role = "metric-depth"
path = "depth/tiny-depth-anything-metric"
license = "test"

[models.tiny-erase]
role = "erase"
path = "erase/tiny-erase.safetensors"
license = "test"
"""

# SAM encoder config for the tiny model (the decoder keeps SAM's real sizes).
TINY_SAM_CONFIG = {"embed_dim": 32, "depth": 2, "num_heads": 2, "global_attn_indexes": [1]}


def tiny_models_dir() -> Path:
    return settings.tiny_models_base() / f"v{TINY_VERSION}"


def ensure_tiny_models(root: Path | None = None) -> Path:
    """Write the tiny model set once (atomically) and return its models folder."""
    root = Path(root) if root else tiny_models_dir()
    if (root / "catalog.toml").is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tiny-", dir=root.parent))
    try:
        write_tiny_models(staging)
        try:
            os.replace(staging, root)
        except OSError:  # another process won the race: theirs is as good as ours
            if not (root / "catalog.toml").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def write_tiny_models(root: Path) -> None:
    # heavy: loaded on first use, not when the app starts
    import torch

    torch.manual_seed(0)  # the same tiny weights on every machine
    _write_sd15(root)
    _write_sdxl(root)
    _write_sam(root / "sam" / "tiny-sam.pth")
    write_depth_anything(root / "depth" / "tiny-depth")
    write_detector(root / "detector" / "tiny-grounding-dino")
    write_oneformer(root / "segmenter" / "tiny-oneformer-ade")
    write_mask2former(root / "segmenter" / "tiny-mask2former-ade")
    _write_erase(root / "erase" / "tiny-erase.safetensors")
    write_depth_pro(root / "depth" / "tiny-depth-pro")
    write_depth_anything(root / "depth" / "tiny-depth-anything-metric", depth_estimation_type="metric", max_depth=20)
    write_sd_fast_loras(root)
    write_families(root, TINY_NATIVE)
    _write_sam3(root / "segmenter" / "tiny-sam3")  # last: it seeds torch itself
    # The catalog goes last: its presence marks the folder complete.
    text = _CATALOG.format(native=TINY_NATIVE) + CATALOG.format(native=TINY_NATIVE)
    (root / "catalog.toml").write_text(text, encoding="utf-8")


# ---- SD1.5 -----------------------------------------------------------------------


def _vae():
    # heavy: loaded on first use, not when the app starts
    from diffusers import AutoencoderKL

    # Four blocks: the real 8x latent scale, so ControlNet and crop maths are the real ones.
    return AutoencoderKL(
        block_out_channels=(8, 16, 16, 16), in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=1, norm_num_groups=4, sample_size=TINY_NATIVE,
    )


def _scheduler():
    # heavy: loaded on first use, not when the app starts
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        clip_sample=False, set_alpha_to_one=False, steps_offset=1,
    )


_UNET_COMMON = dict(
    block_out_channels=(32, 64), layers_per_block=1, sample_size=TINY_NATIVE // 8,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
)
_CN_EMBED = (8, 8, 16, 16)  # three stride-2 convs: hint at image scale -> latent scale


def _write_sd15(root: Path) -> None:
    # heavy: loaded on first use, not when the app starts
    from diffusers import ControlNetModel, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    tok_dir = root / "inpaint" / "tiny-sd15-inpainting" / "tokenizer"
    write_tokenizer(tok_dir)
    unet = UNet2DConditionModel(in_channels=9, out_channels=4, cross_attention_dim=32,
                                attention_head_dim=4, **_UNET_COMMON)
    pipe = StableDiffusionInpaintPipeline(
        vae=_vae(), text_encoder=CLIPTextModel(text_config()), tokenizer=CLIPTokenizer.from_pretrained(tok_dir),
        unet=unet, scheduler=_scheduler(), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(root / "inpaint" / "tiny-sd15-inpainting", safe_serialization=True)
    for kind in ("depth", "canny", "inpaint"):
        cn = ControlNetModel(in_channels=4, cross_attention_dim=32, attention_head_dim=4,
                             conditioning_embedding_out_channels=_CN_EMBED,
                             block_out_channels=(32, 64), layers_per_block=1,
                             down_block_types=_UNET_COMMON["down_block_types"])
        cn.save_pretrained(root / "controlnet" / f"tiny-sd15-controlnet-{kind}", safe_serialization=True)


# ---- SDXL ------------------------------------------------------------------------

_SDXL_COMMON = dict(
    attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
    addition_time_embed_dim=8, transformer_layers_per_block=(1, 2),
    projection_class_embeddings_input_dim=80,  # 6 time ids x 8 + pooled text (32)
    cross_attention_dim=64,  # both text encoders' hidden states side by side
)


def _write_sdxl(root: Path) -> None:
    # heavy: loaded on first use, not when the app starts
    from diffusers import ControlNetModel, StableDiffusionXLInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    folder = root / "inpaint" / "tiny-sdxl-inpainting"
    write_tokenizer(folder / "tokenizer")
    write_tokenizer(folder / "tokenizer_2")
    unet = UNet2DConditionModel(in_channels=9, out_channels=4, **_UNET_COMMON, **_SDXL_COMMON)
    pipe = StableDiffusionXLInpaintPipeline(
        vae=_vae(), text_encoder=CLIPTextModel(text_config()),
        text_encoder_2=CLIPTextModelWithProjection(text_config(projection=True)),
        tokenizer=CLIPTokenizer.from_pretrained(folder / "tokenizer"),
        tokenizer_2=CLIPTokenizer.from_pretrained(folder / "tokenizer_2"),
        unet=unet, scheduler=_scheduler(), requires_aesthetics_score=False, force_zeros_for_empty_prompt=True,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    for kind in ("depth", "canny"):
        cn = ControlNetModel(in_channels=4, conditioning_embedding_out_channels=_CN_EMBED,
                             block_out_channels=(32, 64), layers_per_block=1,
                             down_block_types=_UNET_COMMON["down_block_types"], **_SDXL_COMMON)
        cn.save_pretrained(root / "controlnet" / f"tiny-sdxl-controlnet-{kind}", safe_serialization=True)


# ---- SAM and depth ---------------------------------------------------------------


def _write_sam(path: Path) -> None:
    # heavy: loaded on first use, not when the app starts
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(build_sam(TINY_SAM_CONFIG).state_dict(), path)
    path.with_suffix(".json").write_text(json.dumps(TINY_SAM_CONFIG), encoding="utf-8")


def _write_sam3(path: Path) -> None:
    """SAM 3 (tiny/sam3.py) with the tiny byte-level CLIP tokenizer."""
    from transformers import CLIPTokenizer

    tok_dir = path.parent / ".sam3-tokenizer"
    write_tokenizer(tok_dir)
    write_sam3(path, CLIPTokenizer.from_pretrained(tok_dir))
    shutil.rmtree(tok_dir)


# ---- erase: a tiny LaMa (the detector and semantic segmenters: detectors.py) --------


def _write_erase(path: Path) -> None:
    """A tiny LaMa (the real generator, 8 base channels, two blocks) as safetensors."""
    # heavy: loaded on first use, not when the app starts
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    model = build_lama(ngf=8, downsamplings=3, blocks=2).eval()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))


# The models "folders" that are made, not found: `--models tiny` (see runtime.manager.ModelSources).
MODEL_SOURCES = {"tiny": ensure_tiny_models}
