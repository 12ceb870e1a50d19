"""Validation during training: sample the validation images with the LoRA and measure them.

Each image is inpainted by the base pipeline carrying the LoRA (the sampler the app
uses, a fixed seed per image), pasted into its input outside the mask as the app does,
and compared with the target: PSNR, SSIM and LPIPS inside the mask and over the whole
image, the distance of the sampled latents to the target's latents inside the mask
(meaningful even with a random test VAE), and for de-furnishing the furniture
detector's best score inside the mask (does furniture come back). The first few
images are saved side by side (input, result, target) for the Train window.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from diffusers import DPMSolverMultistepScheduler
from PIL import Image

from app.engine.diffusion.inpaint import decode_latents, inpaint_control_image
from app.engine.evaluation.metrics import region_metrics
from app.engine.training.model import encode_latents
from app.engine.vision.detector import furniture_score
from app.imaging.io import write_photo

log = logging.getLogger(__name__)

SAVED_SAMPLES = 4
METRICS = ("psnr_mask", "ssim_mask", "lpips_mask", "psnr", "ssim", "lpips", "latent_mse_mask", "furniture_score")


def sampling_scheduler(config):
    """The app's sampler (DPM++ 2M Karras) for validation images."""
    return DPMSolverMultistepScheduler.from_config(config, use_karras_sigmas=True, algorithm_type="dpmsolver++")


def better(new: dict, old: dict | None) -> bool:
    """Whether validation `new` beats `old`: lower LPIPS in the mask, else higher PSNR in the mask."""
    if old is None:
        return True
    for key, sign in (("lpips_mask", -1), ("psnr_mask", 1), ("latent_mse_mask", -1)):
        a, b = new.get(key), old.get(key)
        if a is not None and b is not None and a != b:
            return (a - b) * sign > 0
    return False


class Validator:
    def __init__(self, pipe, cond, store, indices: list[int], *, lpips, detector, steps: int, guidance: float,
                 seed: int, sample_dir: Path, task: str):
        self.pipe, self.cond, self.store, self.indices = pipe, cond, store, indices
        self.lpips, self.detector = lpips, detector
        self.steps, self.guidance, self.seed, self.task = steps, guidance, seed, task
        self.sample_dir = Path(sample_dir)
        self._targets: dict[int, object] = {}

    def run(self, step: int) -> tuple[dict, list[str]]:
        """(averaged metrics, paths of the saved sample pictures) at training step `step`."""
        nets = [net for net in (self.pipe.unet, getattr(self.pipe, "controlnet", None)) if net is not None]
        modes = [net.training for net in nets]
        for net in nets:
            net.eval()  # no LoRA dropout while sampling
        rows, saved = [], []
        try:
            with torch.no_grad():
                for n, i in enumerate(self.indices):
                    row, picture = self._one(i, n)
                    rows.append(row)
                    if n < SAVED_SAMPLES:
                        saved.append(self._save(picture, step, n))
        finally:
            for net, mode in zip(nets, modes, strict=True):
                net.train(mode)
        out = {}
        for key in METRICS:
            vals = [r[key] for r in rows if r.get(key) is not None and np.isfinite(r[key])]
            out[key] = float(np.mean(vals)) if vals else None
        return out, saved

    def _one(self, i: int, n: int):
        target, mask, given = self.store.arrays(self.store.samples[i])
        size = target.shape[0]
        c = self.cond
        extra = {}
        if c.pooled is not None:
            extra = {"pooled_prompt_embeds": c.pooled, "negative_pooled_prompt_embeds": c.negative_pooled}
        if getattr(self.pipe, "controlnet", None) is not None:  # a staging LoRA that trains the inpaint ControlNet
            extra.update(control_image=inpaint_control_image(given, mask), controlnet_conditioning_scale=1.0)
        generator = torch.Generator("cpu").manual_seed(self.seed + n)
        latents = self.pipe(
            prompt_embeds=c.prompt, negative_prompt_embeds=c.negative, image=Image.fromarray(given),
            mask_image=Image.fromarray(mask.astype(np.uint8) * 255), height=size, width=size,
            num_inference_steps=self.steps, guidance_scale=self.guidance, strength=1.0, generator=generator,
            output_type="latent", **extra,
        ).images
        out = decode_latents(self.pipe, latents)
        out = np.where(mask[..., None], out, given)  # the app pastes the input back outside the mask
        row = {f"{k}_mask": v for k, v in region_metrics(out, target, mask, self.lpips).items()}
        row.update(region_metrics(out, target, None, self.lpips))
        if i not in self._targets:
            pixels = torch.from_numpy(target.astype(np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]
            self._targets[i] = encode_latents(self.pipe.vae, pixels)
        want = self._targets[i].to(latents.device, torch.float32)
        small = torch.nn.functional.interpolate(torch.from_numpy(mask.astype(np.float32))[None, None],
                                                size=want.shape[-2:])[0, 0].bool()
        if small.any():
            row["latent_mse_mask"] = float(((latents.float() - want) ** 2).mean(dim=1)[0][small.to(want.device)].mean())
        if self.detector is not None and self.task == "defurnish":

            row["furniture_score"] = furniture_score(self.detector, out, mask)
        shown = given.copy()
        shown[mask] = (0.5 * shown[mask] + 0.5 * np.array([255, 64, 64])).astype(np.uint8)
        return row, np.concatenate([shown, out, target], axis=1)

    def _save(self, picture: np.ndarray, step: int, n: int) -> str:
        self.sample_dir.mkdir(parents=True, exist_ok=True)
        path = self.sample_dir / f"step-{step:07d}-{n}.png"
        write_photo(path, picture, sidecar=False)
        return str(path)
