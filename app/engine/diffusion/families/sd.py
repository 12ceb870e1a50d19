"""Stable Diffusion 1.5 and SDXL: ControlNet-inpaint pipelines with depth and Canny ControlNets."""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image

from app.engine.diffusion.families.base import Family, SampleArgs, generator_for, sampler_steps, step_callback
from app.engine.diffusion.single_file import load_single_file_pipeline

log = logging.getLogger(__name__)


class SD15Family(Family):
    arch = "sd15"

    def pipeline_class(self):
        from diffusers import StableDiffusionControlNetInpaintPipeline

        return StableDiffusionControlNetInpaintPipeline

    def extra_components(self) -> dict:
        return {"safety_checker": None, "requires_safety_checker": False}

    def load(self, cache, models):
        from diffusers import DPMSolverMultistepScheduler, MultiControlNetModel

        nets = [cache.controlnet(p) for p in (models.controlnet_depth, models.controlnet_canny) if p]
        cls = self.pipeline_class()
        log.info("loading %s pipeline from %s", models.arch, models.inpaint)
        if models.inpaint.is_file():  # a single-file checkpoint, loaded against a local config folder
            pipe = load_single_file_pipeline(
                cls, models.inpaint, models.inpaint_config, cache.device.dtype,
                controlnet=MultiControlNetModel(nets), **self.extra_components(),
            )
        else:
            pipe = cls.from_pretrained(
                models.inpaint, controlnet=MultiControlNetModel(nets), dtype=cache.device.dtype,
                local_files_only=True, **self.extra_components(),
            )
        cache.loads += 1
        # DPM++ 2M Karras: good pictures in 20-30 steps.
        pipe.scheduler = DPMSolverMultistepScheduler.from_config(
            pipe.scheduler.config, use_karras_sigmas=True, algorithm_type="dpmsolver++"
        )
        return pipe

    def sample(self, cache, pipe, args: SampleArgs):
        n_nets = len(pipe.controlnet.nets)
        h, w = args.mask.shape
        return pipe(
            prompt=args.prompt, negative_prompt=args.negative,
            image=Image.fromarray(args.image), mask_image=Image.fromarray(args.mask.astype(np.uint8) * 255),
            control_image=args.control[:n_nets], controlnet_conditioning_scale=args.scales[:n_nets],
            height=h, width=w, num_inference_steps=sampler_steps(args.steps, args.strength),
            guidance_scale=float(args.guidance), strength=float(args.strength), generator=generator_for(args.seed),
            output_type="latent", callback_on_step_end=step_callback(args),
            callback_on_step_end_tensor_inputs=["latents"],
        ).images


class SDXLFamily(SD15Family):
    arch = "sdxl"

    def pipeline_class(self):
        from diffusers import StableDiffusionXLControlNetInpaintPipeline

        return StableDiffusionXLControlNetInpaintPipeline

    def extra_components(self) -> dict:
        return {}
