"""The one inpaint core both jobs use: crop -> guides -> pipeline -> paste back.

The model only ever sees a crop around the mask at its native resolution; its
output is scaled back and blended into the full-resolution original through
the feathered mask, so outside the mask every pixel is the original one.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from app.engine.preview import latents_to_rgb
from app.engine.requests import GenerationRequest, GenerationResult
from app.errors import JobCancelled, UserError
from app.imaging import compose, guides, masks

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


def seeds_for(request: GenerationRequest) -> list[int]:
    base = request.seed if request.seed is not None else secrets.randbits(31)
    return [(base + i) % 2**32 for i in range(max(1, request.variations))]


def check_mask(photo: np.ndarray, mask: np.ndarray | None) -> None:
    h, w = photo.shape[:2]
    if mask is not None and mask.shape != (h, w):
        raise UserError(f"the mask is {mask.shape[1]}x{mask.shape[0]} but the photo is {w}x{h}")


def run_inpaint(request: GenerationRequest, job: InpaintJob, ctx) -> GenerationResult:
    t0 = time.perf_counter()
    photo = request.photo
    h, w = photo.shape[:2]
    check_mask(photo, job.mask)
    device = ctx.models.device(request.device)
    models = ctx.models.model_set(request)
    ctx.progress(0, 0, f"preparing ({models.name} on {device.name})")

    grow_px = request.grow_px if request.grow_px is not None else masks.scale_px(10, (w, h))
    feather_px = request.feather_px if request.feather_px is not None else masks.scale_px(10, (w, h))
    edit = masks.grow(job.mask, grow_px) if grow_px > 0 else job.mask.copy()
    plan = compose.plan_crop(edit, (w, h), native=models.native, multiple=models.multiple)
    crop = compose.extract(photo, plan)
    crop_mask = compose.extract_mask(edit, plan)
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
    flags = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}.get(method)
    if flags is None:
        raise UserError(f"unknown pre-fill '{method}' (choose telea, ns or none)")
    radius = max(3, int(0.01 * max(crop.shape[:2])))
    return cv2.inpaint(crop, crop_mask.astype(np.uint8) * 255, radius, flags)


def _guides(ctx, models, device, image, crop_mask, request, job):
    """ControlNet images and weights in the order the pipeline's ControlNets were loaded."""
    control, scales = [], []
    if models.controlnet_depth is not None:
        depth = ctx.models.depth(models, device).predict(image)
        control.append(Image.fromarray(np.dstack([guides.depth_to_image(depth)] * 3)))
        scales.append(float(request.depth_scale))
    if models.controlnet_canny is not None:
        edges = guides.canny(image, request.canny_low, request.canny_high)
        if job.blank_guides_in_mask:
            edges[crop_mask] = 0
        control.append(Image.fromarray(np.dstack([edges] * 3)))
        scales.append(float(request.canny_scale))
    if job.inpaint_scale > 0 and models.controlnet_inpaint is not None:
        control.append(inpaint_control_image(image, crop_mask))
        scales.append(float(job.inpaint_scale))
    return control, scales


def inpaint_control_image(image: np.ndarray, mask: np.ndarray):
    """The inpaint ControlNet's hint: pixels in [0, 1], masked pixels -1, as it was trained."""
    import torch

    hint = image.astype(np.float32) / 255.0
    hint[mask] = -1.0
    return torch.from_numpy(hint).permute(2, 0, 1)[None]


def _generate(ctx, models, device, image, crop_mask, control, scales, request, job, seed, variation):
    """One variation at model size, retried a memory tier lower after an out-of-memory."""
    from app.engine.device import is_out_of_memory

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
    import torch

    cache = ctx.models.pipelines(device)
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
        height=mh, width=mw, num_inference_steps=int(request.steps), guidance_scale=float(request.guidance),
        strength=float(request.strength), generator=generator, output_type="latent",
        callback_on_step_end=on_step, callback_on_step_end_tensor_inputs=["latents"],
    ).images
    ctx.check_cancel()
    return decode_latents(pipe, latents)


def decode_latents(pipe, latents) -> np.ndarray:
    """VAE decode to uint8 RGB; a NaN result (fp16 VAE overflow) is decoded again in fp32."""
    import torch

    vae = pipe.vae
    with torch.inference_mode():
        for attempt in range(2):
            z = latents.to(vae.device, vae.dtype) / vae.config.scaling_factor
            image = vae.decode(z, return_dict=False)[0]
            if torch.isfinite(image).all() or vae.dtype == torch.float32:
                break
            log.warning("VAE produced NaN in %s; decoding in float32", vae.dtype)
            vae.to(torch.float32)
    image = ((image[0].float().clamp(-1, 1) + 1) * 127.5).round().byte()
    return image.permute(1, 2, 0).cpu().numpy()
