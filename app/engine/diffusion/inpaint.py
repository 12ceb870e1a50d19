"""The one inpaint core both jobs use: crop -> guides -> pipeline -> paste back.

The model only ever sees a crop around the mask at its native resolution; its
output is scaled back and blended into the full-resolution original through
the feathered mask, so outside the mask every pixel is the original one.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from app import settings
from app.engine.diffusion.pipelines import pipelines_for
from app.engine.diffusion.preview import latents_to_rgb
from app.engine.requests import GenerationRequest
from app.engine.results import GenerationResult
from app.engine.runtime.device import is_out_of_memory
from app.engine.vision.depth import depth_estimator
from app.errors import JobCancelled, UserError
from app.imaging import compose, guides, masks
from app.imaging.fills import classical_fill, smooth_fill
from app.imaging.structure import structure_edges

log = logging.getLogger(__name__)


@dataclass
class InpaintJob:
    """What a job adds on top of its request: the prompts and which guides to use."""

    prompt: str
    negative: str
    mask: np.ndarray  # full-res bool, before growing
    prefill: str = "none"  # "telea", "ns" or "none": classical fill of the hole before diffusion
    inpaint_scale: float = 0.0  # SD1.5 inpaint ControlNet weight (0 = not used)
    lora: str | None = None
    lora_scale: float = 0.8
    blank_guides_in_mask: bool = False  # guide only by the surrounding structure (de-furnishing)
    # (crop RGB, crop mask) -> filled crop: replaces `prefill` (a dedicated erase model, de-furnishing)
    prefill_fn: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None


def seeds_for(request: GenerationRequest) -> list[int]:
    base = request.seed if request.seed is not None else secrets.randbits(31)
    return [(base + i) % 2**32 for i in range(max(1, request.variations))]


def run_inpaint(request: GenerationRequest, job: InpaintJob, ctx) -> GenerationResult:
    t0 = time.perf_counter()
    photo = request.photo
    h, w = photo.shape[:2]
    device = ctx.models.device(request.device)
    models = ctx.models.model_set(request)
    ctx.progress(0, 0, f"preparing ({models.name} on {device.name})")

    grow_px = request.grow_px if request.grow_px is not None else masks.scale_px(settings.GROW_AT_1024, (w, h))
    feather_px = (request.feather_px if request.feather_px is not None
                  else masks.scale_px(settings.FEATHER_AT_1024, (w, h)))
    edit = masks.grow(job.mask, grow_px) if grow_px > 0 else job.mask.copy()
    plan = compose.plan_crop(edit, (w, h), native=models.native, multiple=models.multiple)
    ctx.box = plan.box
    crop = compose.extract(photo, plan)
    crop_mask = compose.extract_mask(edit, plan)
    ctx.region = crop_mask
    if job.prefill_fn is not None and crop_mask.any():
        ctx.progress(0, 0, "erasing the objects before repainting")
        init = job.prefill_fn(crop, crop_mask)
    else:
        init = _prefill(crop, crop_mask, job.prefill)
    t1 = time.perf_counter()

    control, scales = _guides(ctx, models, device, init, crop_mask, request, job)
    t2 = time.perf_counter()

    seeds = seeds_for(request)
    outputs = []
    alpha = masks.feather(edit, feather_px) if feather_px > 0 else edit.astype(np.float32)
    diffusion_s = 0.0
    for i, seed in enumerate(seeds):
        ts = time.perf_counter()
        generated = _generate(ctx, models, device, init, crop_mask, control, scales, request, job, seed,
                              variation=(i, len(seeds)))
        diffusion_s += time.perf_counter() - ts
        if request.color_match:
            generated = compose.color_match(generated, crop, crop_mask)
        outputs.append(compose.paste_back(photo, generated, plan, alpha))
    t3 = time.perf_counter()
    return GenerationResult(
        images=outputs, seeds=seeds, request=request, mask=edit,
        timings={"prepare_s": t1 - t0, "guides_s": t2 - t1, "diffusion_s": diffusion_s,
                 "compose_s": t3 - t2 - diffusion_s, "crop": list(plan.box), "model_size": list(plan.model_size),
                 "model_set": models.name, "device": device.device},
    )


def _prefill(crop: np.ndarray, crop_mask: np.ndarray, method: str) -> np.ndarray:
    """Fill the hole from its surroundings so nothing of the removed object survives into the init image."""
    if method == "none" or not crop_mask.any():
        return crop
    if method not in ("telea", "ns"):
        raise UserError(f"unknown pre-fill '{method}' (choose telea, ns, erase or none)")
    return classical_fill(crop, crop_mask, method)


def _guides(ctx, models, device, image, crop_mask, request, job):
    """ControlNet images and weights in the order the pipeline's ControlNets were loaded."""
    control, scales = [], []
    if models.controlnet_depth is not None:
        depth = guides.depth_to_image(depth_estimator(ctx.models, models, device).predict(image))
        if job.blank_guides_in_mask and crop_mask.any():
            # the room's depth continued across the hole, not the ghost of what stood there
            depth = smooth_fill(depth, crop_mask)
        control.append(Image.fromarray(np.dstack([depth] * 3)))
        scales.append(float(request.depth_scale))
    if models.controlnet_canny is not None:
        edges = guides.canny(image, request.canny_low, request.canny_high)
        if job.blank_guides_in_mask:
            # edges of the surrounding structure only, its long lines bridged across the hole
            edges = structure_edges(edges, crop_mask)
        control.append(Image.fromarray(np.dstack([edges] * 3)))
        scales.append(float(request.canny_scale))
    if job.inpaint_scale > 0 and models.controlnet_inpaint is not None:
        control.append(inpaint_control_image(image, crop_mask))
        scales.append(float(job.inpaint_scale))
    return control, scales


def inpaint_control_image(image: np.ndarray, mask: np.ndarray):
    """The inpaint ControlNet's hint: pixels in [0, 1], masked pixels -1, as it was trained."""
    # heavy: loaded on first use, not when the app starts
    import torch

    hint = image.astype(np.float32) / 255.0
    hint[mask] = -1.0
    return torch.from_numpy(hint).permute(2, 0, 1)[None]


def _generate(ctx, models, device, image, crop_mask, control, scales, request, job, seed, variation):
    """One variation at model size, retried a memory tier lower after an out-of-memory."""
    while True:
        try:
            return _sample(ctx, models, device, image, crop_mask, control, scales, request, job, seed, variation)
        except JobCancelled:
            raise
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            lower = ctx.models.lower_memory_tier(device)
            if lower is None:
                raise
            log.warning("out of GPU memory in tier %s; retrying in tier %s", device.tier, lower.tier)
            ctx.progress(0, 0, f"out of GPU memory: retrying in the '{lower.tier}' memory mode")
            device = lower


def _sample(ctx, models, device, image, crop_mask, control, scales, request, job, seed, variation):
    # heavy: loaded on first use, not when the app starts
    import torch

    cache = pipelines_for(ctx.models, device)
    pipe = cache.get(models, with_inpaint_controlnet=job.inpaint_scale > 0)
    n_nets = len(pipe.controlnet.nets)
    control, scales = control[:n_nets], scales[:n_nets]
    cache.apply_lora(pipe, job.lora, job.lora_scale)
    index, count = variation
    arch = models.arch

    def on_step(p, step, timestep, kwargs):
        total = p.num_timesteps
        label = f"variation {index + 1}/{count}: step {step + 1}/{total}" if count > 1 else f"step {step + 1}/{total}"
        ctx.progress(index * total + step + 1, count * total, label, latents_to_rgb(kwargs["latents"], arch))
        return {}

    mh, mw = crop_mask.shape
    generator = torch.Generator("cpu").manual_seed(seed)  # CPU generator: same noise on every device
    latents = pipe(
        prompt=job.prompt, negative_prompt=job.negative,
        image=Image.fromarray(image), mask_image=Image.fromarray(crop_mask.astype(np.uint8) * 255),
        control_image=control, controlnet_conditioning_scale=scales,
        height=mh, width=mw, num_inference_steps=sampler_steps(request.steps, request.strength), guidance_scale=float(request.guidance),
        strength=float(request.strength), generator=generator, output_type="latent",
        callback_on_step_end=on_step, callback_on_step_end_tensor_inputs=["latents"],
    ).images
    ctx.check_cancel()
    return decode_latents(pipe, latents)


def sampler_steps(steps: int, strength: float) -> int:
    """Steps to ask the pipeline for: below strength 1 it runs int(steps * strength), never let that be 0."""
    return max(int(steps), math.ceil(1.0 / max(strength, 1e-3)))


def decode_latents(pipe, latents) -> np.ndarray:
    """VAE decode to uint8 RGB. A VAE that asks for it (SDXL's overflows in fp16) decodes in fp32,
    and a NaN result of a half-precision decode is decoded again in fp32; the VAE goes back to its
    dtype afterwards, because the pipeline encodes the next job's image with it."""
    # heavy: loaded on first use, not when the app starts
    import torch

    vae = pipe.vae
    dtype = vae.dtype
    upcast = getattr(vae.config, "force_upcast", False) and dtype in (torch.float16,)
    try:
        with torch.inference_mode():
            if upcast:
                vae.to(torch.float32)
            for _ in range(2):
                # dtype only: the latents are where the pipeline ran, and offload hooks move the VAE there
                z = latents.to(dtype=vae.dtype) / vae.config.scaling_factor
                image = vae.decode(z, return_dict=False)[0]
                if torch.isfinite(image).all() or vae.dtype == torch.float32:
                    break
                log.warning("VAE produced NaN in %s; decoding in float32", vae.dtype)
                vae.to(torch.float32)
    finally:
        if vae.dtype != dtype:
            vae.to(dtype)
    image = ((image[0].float().clamp(-1, 1) + 1) * 127.5).round().byte()
    return image.permute(1, 2, 0).cpu().numpy()
