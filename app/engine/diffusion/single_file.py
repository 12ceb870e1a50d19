"""Build an inpaint pipeline from one original-layout .safetensors checkpoint, offline.

The checkpoint is read once; each component is converted with diffusers' own
single-file converters against a local diffusers config folder
(`from_single_file(..., config=<folder>, local_files_only=True)`), so nothing
is ever fetched. Components are built one by one rather than through the
pipeline-level `from_single_file` because that one (a) cannot load an ordinary
4-channel checkpoint against an inpainting config without reading the file
twice and (b) tells SDXL's two text encoders apart only by their width.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from app.engine.models.checkpoint_info import SD15_TEXT, SDXL_TEXT1, SDXL_TEXT2, inspect_file
from app.errors import UserError

log = logging.getLogger(__name__)


def load_single_file_pipeline(cls, path: Path, config_dir: Path | None, dtype, **extra):
    """`cls` (a diffusers inpaint pipeline class) from the checkpoint at `path`; `extra` are passed to it."""
    # heavy: loaded on first use, not when the app starts
    import diffusers
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.loaders.single_file_utils import create_diffusers_clip_model_from_ldm
    from safetensors.torch import load_file
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    path = Path(path)
    if config_dir is None or not Path(config_dir).is_dir():
        raise UserError(f"{path.name}: no local config folder to load this single-file checkpoint")
    config = str(config_dir)
    info = inspect_file(path)
    if info.kind != "checkpoint" or not info.usable:
        raise UserError(f"{path}: cannot be used as an inpaint model: {info.describe()}")
    sdxl = info.arch == "sdxl"
    log.info("loading single-file %s checkpoint %s (config %s)", info.arch, path.name, config_dir)
    checkpoint = load_file(str(path))
    common = dict(config=config, local_files_only=True, torch_dtype=dtype)
    unet = UNet2DConditionModel.from_single_file(checkpoint, subfolder="unet", in_channels=info.in_channels, **common)
    vae = AutoencoderKL.from_single_file(checkpoint, subfolder="vae", **common)

    def text(cls_, prefix, subfolder, state=checkpoint):  # bound now: `checkpoint` is deleted below to free it
        part = {k: v for k, v in state.items() if k.startswith(prefix)}
        return create_diffusers_clip_model_from_ldm(cls_, part, subfolder=subfolder, config=config,
                                                    torch_dtype=dtype, local_files_only=True)

    parts = dict(unet=unet, vae=vae)
    parts["tokenizer"] = CLIPTokenizer.from_pretrained(config, subfolder="tokenizer", local_files_only=True)
    if sdxl:
        parts["text_encoder"] = text(CLIPTextModel, SDXL_TEXT1, "text_encoder")
        parts["text_encoder_2"] = text(CLIPTextModelWithProjection, SDXL_TEXT2, "text_encoder_2")
        parts["tokenizer_2"] = CLIPTokenizer.from_pretrained(config, subfolder="tokenizer_2", local_files_only=True)
    else:
        parts["text_encoder"] = text(CLIPTextModel, SD15_TEXT, "text_encoder")
    del checkpoint

    scheduler_cfg = json.loads((Path(config) / "scheduler" / "scheduler_config.json").read_text(encoding="utf-8"))
    scheduler_cls = getattr(diffusers, scheduler_cfg.get("_class_name", "DDIMScheduler"), None)
    if scheduler_cls is None:
        raise UserError(f"{config}: unknown scheduler {scheduler_cfg.get('_class_name')!r}")
    parts["scheduler"] = scheduler_cls.from_config(scheduler_cfg)

    index = json.loads((Path(config) / "model_index.json").read_text(encoding="utf-8"))
    if sdxl:
        for key in ("requires_aesthetics_score", "force_zeros_for_empty_prompt"):
            if key in index and key not in extra:
                extra[key] = index[key]
    else:
        extra.setdefault("feature_extractor", None)
    pipe = cls(**parts, **extra)
    return pipe
