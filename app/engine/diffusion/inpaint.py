"""The one inpaint core both jobs use: crop -> guides -> pipeline -> paste back.

The model only ever sees a crop around the mask at its native resolution; its
output is scaled back and blended into the full-resolution original through
the feathered mask, so outside the mask every pixel is the original one.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from app import settings
from app.engine.diffusion.families import SampleArgs, family_for
from app.engine.diffusion.fast import sampling_for
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
    prompts: tuple[str, ...] = ()  # several prompts (repaint): one output per prompt and seed


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
    sampling = sampling_for(models, family_for(models.arch), request, job.lora)

    # one output per prompt and seed: several prompts share the crop, the guides and the loaded models
    runs = [(p, s) for p in (job.prompts or (job.prompt,)) for s in seeds_for(request)]
    outputs = []
    alpha = masks.feather(edit, feather_px) if feather_px > 0 else edit.astype(np.float32)
    diffusion_s = 0.0
    for i, (prompt, seed) in enumerate(runs):
        ts = time.perf_counter()
        generated = _generate(ctx, models, device, init, crop_mask, control, scales, request,
                              dataclasses.replace(job, prompt=prompt), seed, variation=(i, len(runs)),
                              sampling=sampling)
        diffusion_s += time.perf_counter() - ts
        if request.color_match:
            generated = compose.color_match(generated, crop, crop_mask)
        outputs.append(compose.paste_back(photo, generated, plan, alpha))
    t3 = time.perf_counter()
    return GenerationResult(
        images=outputs, seeds=[s for _, s in runs], request=request, mask=edit, prompts=[p for p, _ in runs],
        timings={"prepare_s": t1 - t0, "guides_s": t2 - t1, "diffusion_s": diffusion_s,
                 "compose_s": t3 - t2 - diffusion_s, "crop": list(plan.box), "model_size": list(plan.model_size),
                 "model_set": models.name, "device": device.device, **sampling.record(),
                 "seconds_per_image": diffusion_s / len(runs), "denoise_s_per_image": sampling.denoise_s / len(runs),
                 "commercial_use": models.commercial_use,
                 "licenses": licences_of(ctx.models.catalog(request.models), models, sampling)},
    )


def licences_of(catalog, models, sampling) -> list[dict]:
    """Each model the job used with its licence, for the sidecar and the export manifest."""
    names = list(models.entries) + ([models.fast_lora_name] if sampling.fast and models.fast_lora else [])
    out = []
    for name in names:
        entry = catalog.entries.get(name)
        if entry is not None:
            out.append({"model": name, "license": entry.license, "commercial_use": entry.commercial_use})
    return out


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
    union = models.controlnet_union is not None  # one ControlNet takes both guides (FLUX, Z-Image)
    if models.controlnet_depth is not None or union:
        depth = guides.depth_to_image(depth_estimator(ctx.models, models, device).predict(image))
        if job.blank_guides_in_mask and crop_mask.any():
            # the room's depth continued across the hole, not the ghost of what stood there
            depth = smooth_fill(depth, crop_mask)
        control.append(Image.fromarray(np.dstack([depth] * 3)))
        scales.append(float(request.depth_scale))
    if models.controlnet_canny is not None or union:
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


def _generate(ctx, models, device, image, crop_mask, control, scales, request, job, seed, variation, sampling):
    """One variation at model size, retried a memory tier lower after an out-of-memory."""
    while True:
        try:
            return _sample(ctx, models, device, image, crop_mask, control, scales, job, seed, variation, sampling,
                           request.strength)
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


def _sample(ctx, models, device, image, crop_mask, control, scales, job, seed, variation, sampling, strength):
    family = family_for(models.arch)
    cache = pipelines_for(ctx.models, device)
    pipe = cache.get(models, with_inpaint_controlnet=job.inpaint_scale > 0)
    cache.apply_loras(pipe, sampling.loras)
    cache.use_scheduler(pipe, sampling.scheduler)
    index, count = variation

    stamps = []

    def on_step(step, total, latents):
        stamps.append(time.perf_counter())
        label = f"variation {index + 1}/{count}: step {step + 1}/{total}" if count > 1 else f"step {step + 1}/{total}"
        ctx.progress(index * total + step + 1, count * total, label, latents_to_rgb(latents, models.arch))

    args = SampleArgs(prompt=job.prompt, negative=job.negative, image=image, mask=crop_mask, control=control,
                      scales=scales, steps=sampling.steps, guidance=sampling.guidance,
                      strength=strength if family.uses_strength else 1.0, seed=seed, on_step=on_step)
    latents = family.sample(cache, pipe, args)
    if len(stamps) > 1:  # the denoising loop alone: the step time times the steps
        sampling.denoise_s += (stamps[-1] - stamps[0]) / (len(stamps) - 1) * len(stamps)
    ctx.check_cancel()
    return decode_latents(pipe, latents, family)


def decode_latents(pipe, latents, family=None) -> np.ndarray:
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
                z = (family.decode_input(pipe, latents) if family is not None
                     else latents.to(dtype=vae.dtype) / vae.config.scaling_factor)
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
