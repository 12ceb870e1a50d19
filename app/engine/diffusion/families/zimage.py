"""Z-Image Turbo with the Fun union ControlNet (inpaint mode): Apache-2.0, 6B parameters, 8 steps.

The ControlNet sees one guide next to the masked photo and the mask; it was trained
on one control type at a time, so the job's stronger guide (depth to stage, the
room's structure edges to de-furnish, by their default weights) is the one it gets.
Turbo is step-distilled already: its normal preset is its few-step schedule, and it
starts from noise (no strength below 1: the pipeline has no image-to-image start).
"""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image

from app.engine.diffusion.families.base import Family, SampleArgs, generator_for, step_callback
from app.engine.diffusion.quant import load_gguf_transformer, quantized_model, quantized_text_encoder
from app.errors import UserError

log = logging.getLogger(__name__)


class ZImageFamily(Family):
    arch = "zimage"
    big = True
    resident_vram_gb = 22.0  # bf16 transformer (11.5) + nf4 Qwen3-4B (2.2) + ControlNet (6.3) + activations
    resident_vram_gb_bf16 = 28.0  # with Qwen3-4B in bf16 (7.5)
    uses_strength = False
    default_steps = 9  # 8 transformer evaluations: the model card's setting
    default_guidance = 0.0  # Turbo is guidance-distilled: no classifier-free guidance
    dtype_on_cuda = "bfloat16"  # its complex RoPE does not run in float16

    def load(self, cache, models):
        from diffusers import ZImageControlNetInpaintPipeline, ZImageControlNetModel, ZImageTransformer2DModel

        dtype = cache.dtype_for(self)
        plan = cache.plan_for(self)
        parts = {}
        folder = models.inpaint
        if models.transformer is not None:
            parts["transformer"] = load_gguf_transformer(ZImageTransformer2DModel, models.transformer,
                                                         folder / "transformer", dtype)
            cache.loads += 1
        elif plan.transformer_8bit:
            parts["transformer"] = quantized_model(ZImageTransformer2DModel, folder / "transformer", dtype)
            cache.loads += 1
        if plan.text_encoder_4bit:
            from transformers import AutoModel

            parts["text_encoder"] = quantized_text_encoder(AutoModel, folder / "text_encoder", dtype)
        if models.controlnet_union is None:
            raise UserError(f"model set '{models.name}': Z-Image needs its union ControlNet (controlnet_union)")
        controlnet = cache.controlnet(models.controlnet_union, ZImageControlNetModel, dtype,
                                      base_config=folder / "transformer" / "config.json",
                                      config_cache=models.root / ".roomstager" / "configs")
        log.info("loading Z-Image pipeline from %s (plan %s)", folder, plan)
        pipe = ZImageControlNetInpaintPipeline.from_pretrained(folder, controlnet=controlnet, dtype=dtype,
                                                              local_files_only=True, **parts)
        cache.loads += 1
        return pipe

    def sample(self, cache, pipe, args: SampleArgs):
        h, w = args.mask.shape
        guide, scale = pick_guide(args.control, args.scales, args.image)
        return pipe(
            prompt=args.prompt, negative_prompt=args.negative if args.guidance > 0 else None,
            image=Image.fromarray(args.image), mask_image=Image.fromarray(args.mask.astype(np.uint8) * 255),
            control_image=guide, controlnet_conditioning_scale=scale, height=h, width=w,
            num_inference_steps=int(args.steps), guidance_scale=float(args.guidance),
            generator=generator_for(args.seed), output_type="latent",
            callback_on_step_end=step_callback(args), callback_on_step_end_tensor_inputs=["latents"],
        ).images


def pick_guide(control: list, scales: list[float], image: np.ndarray):
    """The guide with the larger weight (ties: the first, depth); a black image at weight 0 when none."""
    if not control:
        return Image.fromarray(np.zeros_like(image)), 0.0
    i = max(range(len(control)), key=lambda k: (scales[k], -k))
    return control[i], float(scales[i])
