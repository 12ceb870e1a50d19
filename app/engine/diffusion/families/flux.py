"""FLUX.1 Fill [dev] with structure control from a FLUX ControlNet (depth and Canny through one union net).

diffusers has no Fill + ControlNet pipeline, so the Fill pipeline gets a `controlnet`
component and, for the length of one call, a forward pre-hook on its transformer: the
hook runs the ControlNet on the noisy latents (the first 64 of Fill's 384 input
channels) once per guide, adds up the residuals and hands them to the transformer,
exactly as diffusers' own FLUX ControlNet pipelines do. Fill's latents are packed
2x2 (64 channels of 16-channel latents); previews and decoding unpack them.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

import numpy as np
from PIL import Image

from app.engine.diffusion.families.base import Family, SampleArgs, generator_for, sampler_steps, step_callback
from app.engine.diffusion.quant import load_gguf_transformer, quantized_text_encoder

log = logging.getLogger(__name__)


def fill_control_pipeline_class():
    from diffusers import FluxFillPipeline

    class FluxFillControlPipeline(FluxFillPipeline):
        """FluxFillPipeline plus a registered FLUX ControlNet (offload hooks and `.to()` move it too)."""

        def __init__(self, scheduler, vae, text_encoder, tokenizer, text_encoder_2, tokenizer_2, transformer,
                     controlnet=None):
            super().__init__(scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                             text_encoder_2=text_encoder_2, tokenizer_2=tokenizer_2, transformer=transformer)
            self.register_modules(controlnet=controlnet)

    return FluxFillControlPipeline


class FluxFamily(Family):
    arch = "flux"
    big = True
    resident_vram_gb = 22.0  # Q8_0 transformer (12.7) + nf4 T5 (2.7) + ControlNet (4.3) + activations at 1024 px
    resident_vram_gb_bf16 = 29.0  # with T5 in bf16 (9.5)
    default_steps = 50  # the model card's setting
    default_guidance = 30.0  # Fill [dev]'s distilled guidance: the model card's value
    dtype_on_cuda = "bfloat16"

    def load(self, cache, models):
        from diffusers import FluxControlNetModel, FluxFillPipeline, FluxTransformer2DModel

        dtype = cache.dtype_for(self)
        plan = cache.plan_for(self)
        parts = {}
        if models.transformer is not None:  # a GGUF file: the folder holds the configs and the other parts
            parts["transformer"] = load_gguf_transformer(FluxTransformer2DModel, models.transformer,
                                                         models.inpaint / "transformer", dtype)
            cache.loads += 1
        if plan.text_encoder_4bit:
            from transformers import T5EncoderModel

            parts["text_encoder_2"] = quantized_text_encoder(T5EncoderModel, models.inpaint / "text_encoder_2", dtype)
        log.info("loading FLUX Fill pipeline from %s (plan %s)", models.inpaint, plan)
        base = FluxFillPipeline.from_pretrained(models.inpaint, dtype=dtype, local_files_only=True, **parts)
        cache.loads += 1
        controlnet = None
        if models.controlnet_union is not None:
            controlnet = cache.controlnet(models.controlnet_union, FluxControlNetModel, dtype)
        return fill_control_pipeline_class()(**base.components, controlnet=controlnet)

    def sample(self, cache, pipe, args: SampleArgs):
        h, w = args.mask.shape
        conds = [self._control_latents(pipe, img, h, w) for img in args.control] if pipe.controlnet else []
        with _controlled(pipe, conds, args.scales[:len(conds)]):
            latents = pipe(
                prompt=args.prompt, image=Image.fromarray(args.image),
                mask_image=Image.fromarray(args.mask.astype(np.uint8) * 255), height=h, width=w,
                num_inference_steps=sampler_steps(args.steps, args.strength), guidance_scale=float(args.guidance),
                strength=float(args.strength), generator=generator_for(args.seed), output_type="latent",
                callback_on_step_end=step_callback(args, lambda z: unpack(pipe, z, h, w)),
                callback_on_step_end_tensor_inputs=["latents"],
            ).images
        return unpack(pipe, latents, h, w)

    @staticmethod
    def _control_latents(pipe, image, h, w):
        """A guide image -> packed latents, the way diffusers' FLUX ControlNet pipelines encode it."""
        import torch

        vae = pipe.vae
        x = pipe.image_processor.preprocess(image, height=h, width=w).to(pipe._execution_device, vae.dtype)
        with torch.inference_mode():
            z = vae.encode(x).latent_dist.mode()
        z = (z - vae.config.shift_factor) * vae.config.scaling_factor
        return pipe._pack_latents(z, z.shape[0], z.shape[1], z.shape[2], z.shape[3])


def unpack(pipe, latents, h, w):
    """Packed (B, h/16 * w/16, 64) latents -> (B, 16, h/8, w/8)."""
    return pipe._unpack_latents(latents, h, w, pipe.vae_scale_factor)


@contextmanager
def _controlled(pipe, conds, scales):
    """While inside: every transformer call gets the ControlNet residuals of `conds`."""
    if not conds:
        yield
        return
    net = pipe.controlnet
    channels = net.config.in_channels

    def hook(module, args, kwargs):
        latents = kwargs["hidden_states"][..., :channels]
        blocks = singles = None
        for cond, scale in zip(conds, scales, strict=True):
            b, s = net(
                hidden_states=latents, controlnet_cond=cond.to(latents.device, latents.dtype), controlnet_mode=None,
                conditioning_scale=float(scale), timestep=kwargs["timestep"],
                guidance=kwargs.get("guidance") if net.config.guidance_embeds else None,
                pooled_projections=kwargs["pooled_projections"], encoder_hidden_states=kwargs["encoder_hidden_states"],
                txt_ids=kwargs["txt_ids"], img_ids=kwargs["img_ids"],
                joint_attention_kwargs=kwargs.get("joint_attention_kwargs"), return_dict=False,
            )
            blocks = _add(blocks, b)
            singles = _add(singles, s)
        kwargs.update(controlnet_block_samples=blocks, controlnet_single_block_samples=singles,
                      controlnet_blocks_repeat=False)
        return args, kwargs

    handle = pipe.transformer.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()


def _add(total, part):
    if part is None:
        return total
    return list(part) if total is None else [a + b for a, b in zip(total, part, strict=True)]
