"""The one inpaint core both jobs use: crop -> guides -> pipeline -> paste back.

The model only ever sees a crop around the mask at its native resolution; its
output is scaled back and blended into the full-resolution original through
the feathered mask, so outside the mask every pixel is the original one.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from app.engine.diffusion.families import SampleArgs, family_for
from app.engine.diffusion.families.base import sampler_steps  # noqa: F401 - the core's public helper, kept here
from app.engine.diffusion.fast import sampling_for
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
    # (crop RGB, crop mask) -> filled crop: replaces `prefill` (a dedicated erase model, de-furnishing)
    prefill_fn: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None


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
    ctx.box = plan.box
    crop = compose.extract(photo, plan)
    crop_mask = compose.extract_mask(edit, plan)
    if job.prefill_fn is not None and crop_mask.any():
        ctx.progress(0, 0, "erasing the objects before repainting")
        init = job.prefill_fn(crop, crop_mask)
    else:
        init = _prefill(crop, crop_mask, job.prefill)
    t1 = time.perf_counter()

    control, scales = _guides(ctx, models, device, init, crop_mask, request, job)
    t2 = time.perf_counter()
    sampling = sampling_for(models, family_for(models.arch), request, job.lora)

    seeds = seeds_for(request)
    outputs = []
    alpha = masks.feather(edit, feather_px) if feather_px > 0 else edit.astype(np.float32)
    diffusion_s = 0.0
    for i, seed in enumerate(seeds):
        ts = time.perf_counter()
        generated = _generate(ctx, models, device, init, crop_mask, control, scales, request, job, seed,
                              variation=(i, len(seeds)), sampling=sampling)
        diffusion_s += time.perf_counter() - ts
        if request.color_match:
            generated = compose.color_match(generated, crop, crop_mask)
        outputs.append(compose.paste_back(photo, generated, plan, alpha))
    t3 = time.perf_counter()
    return GenerationResult(
        images=outputs, seeds=seeds, request=request, mask=edit,
        timings={"prepare_s": t1 - t0, "guides_s": t2 - t1, "diffusion_s": diffusion_s,
                 "compose_s": t3 - t2 - diffusion_s, "crop": list(plan.box), "model_size": list(plan.model_size),
                 "model_set": models.name, "device": device.device, **sampling.record(),
                 "seconds_per_image": diffusion_s / len(seeds), "denoise_s_per_image": sampling.denoise_s / len(seeds),
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


def classical_fill(image: np.ndarray, mask: np.ndarray, method: str = "telea") -> np.ndarray:
    """Fill `mask` from its surroundings (OpenCV Telea / Navier-Stokes), needing no weights.

    A wide hole is filled on a reduced copy (hole half-width ~12 px there) and scaled
    back, then only a thin rim is refined at full size: no long streaks smeared from
    the edge into the middle, and the cost no longer grows with hole area x radius.
    Works on RGB and single-channel uint8 images."""
    flags = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}[method]
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    if not m.any():
        return image
    h, w = m.shape
    half_width = float(cv2.distanceTransform(m, cv2.DIST_L2, 3).max())
    if half_width <= 12:
        return cv2.inpaint(image, m * 255, max(3, int(0.01 * max(h, w))), flags)
    f = max(12.0 / half_width, 16.0 / min(h, w))
    sw, sh = max(8, round(w * f)), max(8, round(h * f))
    small = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
    small_mask = (cv2.resize(m.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA) > 0).astype(np.uint8)
    filled = cv2.inpaint(small, small_mask * 255, 3, flags)
    up = cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC)
    out = image.copy()
    hole = m.astype(bool)
    out[hole] = up[hole]
    rim = hole & ~masks.shrink(hole, 3)
    return cv2.inpaint(out, rim.astype(np.uint8) * 255, 3, flags)


def smooth_fill(image: np.ndarray, mask: np.ndarray, work: int = 128) -> np.ndarray:
    """Fill `mask` in a single-channel image with the smoothest surface that meets the
    surroundings (Laplace's equation, solved coarse to fine on a copy of at most `work` px).

    A plane's inverse depth is affine in image coordinates, and an affine ramp is filled
    exactly: floors and walls continue straight across where the furniture stood."""
    hole = np.asarray(mask, bool)
    if not hole.any() or hole.all():
        return image
    h, w = hole.shape
    valid = (~hole).astype(np.float32)
    values = image.astype(np.float32) * valid
    levels = []
    size = (w, h)
    while True:
        levels.append(size)
        if max(size) <= 16:
            break
        size = (max(1, size[0] // 2), max(1, size[1] // 2))
    levels = [s for s in levels if max(s) <= work] or [levels[-1]]
    u = None
    for lw, lh in reversed(levels):  # coarse to fine
        wsum = cv2.resize(valid, (lw, lh), interpolation=cv2.INTER_AREA)
        vsum = cv2.resize(values, (lw, lh), interpolation=cv2.INTER_AREA)
        known = wsum > 0.999  # cells with no hole pixel in them keep their average
        target = np.where(known, vsum / np.maximum(wsum, 1e-6), 0).astype(np.float32)
        if u is None:
            u = np.full((lh, lw), float(target[known].mean()) if known.any() else 0.0, np.float32)
        else:
            u = cv2.resize(u, (lw, lh), interpolation=cv2.INTER_LINEAR)
        u[known] = target[known]
        for _ in range(60 if max(lw, lh) <= 16 else 40):
            p = np.pad(u, 1, mode="edge")
            avg = 0.25 * (p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:])
            u = np.where(known, u, avg)
    up = cv2.resize(u, (w, h), interpolation=cv2.INTER_LINEAR)
    out = image.copy()
    out[hole] = np.clip(np.rint(up[hole]), 0, 255).astype(image.dtype) if image.dtype == np.uint8 else up[hole]
    return out


def _guides(ctx, models, device, image, crop_mask, request, job):
    """ControlNet images and weights in the order the pipeline's ControlNets were loaded."""
    control, scales = [], []
    union = models.controlnet_union is not None  # one ControlNet takes both guides (FLUX, Z-Image)
    if models.controlnet_depth is not None or union:
        depth = guides.depth_to_image(ctx.models.depth(models, device).predict(image))
        if job.blank_guides_in_mask and crop_mask.any():
            # the room's depth continued across the hole, not the ghost of what stood there
            depth = smooth_fill(depth, crop_mask)
        control.append(Image.fromarray(np.dstack([depth] * 3)))
        scales.append(float(request.depth_scale))
    if models.controlnet_canny is not None or union:
        edges = guides.canny(image, request.canny_low, request.canny_high)
        if job.blank_guides_in_mask:
            from app.engine.defurnish import structure_edges

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
    import torch

    hint = image.astype(np.float32) / 255.0
    hint[mask] = -1.0
    return torch.from_numpy(hint).permute(2, 0, 1)[None]


def _generate(ctx, models, device, image, crop_mask, control, scales, request, job, seed, variation, sampling):
    """One variation at model size, retried a memory tier lower after an out-of-memory."""
    from app.engine.device import is_out_of_memory

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
    cache = ctx.models.pipelines(device)
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
