"""The model side of LoRA training, the way diffusers' own LoRA scripts do it.

The base set's inpainting pipeline (SD1.5 or SDXL, a diffusers folder or a single
file) is loaded offline; a peft LoRA goes on its UNet; the prompt is encoded once by
the pipeline itself. The loss is the noise-prediction loss of an inpainting UNet,
whose input is 9 channels: the noised latents of the target, the mask at latent
size, and the latents of the masked input photo.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers import ControlNetModel, StableDiffusionInpaintPipeline, StableDiffusionXLInpaintPipeline
from peft import LoraConfig

from app.engine.diffusion.prompts import BASE_NEGATIVE, defurnish_prompts
from app.engine.diffusion.single_file import load_single_file_pipeline
from app.engine.models.entries import ModelSet
from app.errors import UserError

log = logging.getLogger(__name__)


@dataclass
class Conditioning:
    """The prompt, encoded once: what the UNet is conditioned on (positive; negative for sampling)."""
    prompt: object  # (1, 77, D) tensor
    negative: object
    pooled: object = None  # SDXL
    negative_pooled: object = None

    def unet_kwargs(self, batch: int, size: int, device, dtype) -> dict:
        """encoder_hidden_states (+ SDXL's pooled text and size ids) for a batch of `size` squares."""
        out = {"encoder_hidden_states": self.prompt.to(device, dtype).expand(batch, -1, -1)}
        if self.pooled is not None:
            # SDXL's micro-conditioning: original size, crop corner, target size (no crop: squares)
            ids = torch.tensor([[size, size, 0, 0, size, size]], device=device, dtype=dtype).expand(batch, -1)
            out["added_cond_kwargs"] = {"text_embeds": self.pooled.to(device, dtype).expand(batch, -1),
                                        "time_ids": ids}
        return out


def task_prompts(task: str, prompt: str | None) -> tuple[str, str]:
    """The prompt a LoRA is trained with: the app's own for the task (what its jobs will ask for)."""
    if task == "defurnish":
        return defurnish_prompts(prompt or "")
    return prompt or "a professionally staged room with stylish furniture, real estate photo", BASE_NEGATIVE


def load_pipeline(models: ModelSet, dtype):
    """The set's inpainting pipeline (no ControlNets), loaded with local files only."""
    sdxl = models.arch == "sdxl"
    cls = StableDiffusionXLInpaintPipeline if sdxl else StableDiffusionInpaintPipeline
    extra = {} if sdxl else {"safety_checker": None, "requires_safety_checker": False}
    if models.inpaint.is_file():

        pipe = load_single_file_pipeline(cls, models.inpaint, models.inpaint_config, dtype, **extra)
    else:
        pipe = cls.from_pretrained(models.inpaint, dtype=dtype, local_files_only=True, **extra)
    if pipe.unet.config.in_channels != 9:
        raise UserError(f"model set '{models.name}': its inpaint model has {pipe.unet.config.in_channels} input "
                        f"channels; training needs an inpainting model (9: latents, mask, masked photo)")
    pipe.set_progress_bar_config(disable=True)
    for part in (pipe.unet, pipe.vae, pipe.text_encoder, getattr(pipe, "text_encoder_2", None)):
        if part is not None:
            part.requires_grad_(False)
    return pipe


def load_inpaint_controlnet(models: ModelSet, dtype):
    """The set's inpaint ControlNet (SD1.5), frozen, for a staging LoRA that also trains it."""
    if models.controlnet_inpaint is None:
        raise UserError(f"model set '{models.name}' has no inpaint ControlNet to train (--controlnet); "
                        f"use an SD1.5 set such as 'standard'")
    net = ControlNetModel.from_pretrained(models.controlnet_inpaint, dtype=dtype, local_files_only=True)
    return net.requires_grad_(False)


def control_hint(batch: dict):
    """The inpaint ControlNet's hint, as it was trained and as the app feeds it: the input photo in
    [0, 1] with the masked pixels at -1."""
    return torch.where(batch["mask"] > 0.5, -1.0, (batch["masked"] + 1.0) / 2.0)


def encode_prompt(pipe, prompt: str, negative: str, device) -> Conditioning:
    with torch.no_grad():
        if hasattr(pipe, "text_encoder_2"):
            pe, ne, pooled, npooled = pipe.encode_prompt(prompt=prompt, device=device, num_images_per_prompt=1,
                                                         do_classifier_free_guidance=True, negative_prompt=negative)
            return Conditioning(pe, ne, pooled, npooled)
        pe, ne = pipe.encode_prompt(prompt, device, 1, True, negative)
        return Conditioning(pe, ne)


def add_lora(unet, rank: int, alpha: float, dropout: float, targets: list[str]):
    """A peft LoRA on the UNet (Gaussian A, zero B: the UNet starts out unchanged). Returns its config."""
    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, init_lora_weights="gaussian",
                        target_modules=list(targets))
    try:
        unet.add_adapter(config)
    except ValueError as exc:
        raise UserError(f"--targets {','.join(targets)}: no such layers in this UNet ({exc})") from None
    return config


def trainable(unet) -> list:
    return [p for p in unet.parameters() if p.requires_grad]


def encode_latents(vae, pixels):
    """[-1, 1] pixels -> scaled latents: the mean of the VAE's distribution (the same every time)."""
    with torch.no_grad():
        return _scaled(vae, vae.encode(pixels.to(vae.device, vae.dtype)).latent_dist.mean)


def _scaled(vae, z):
    if getattr(vae.config, "shift_factor", None) is not None:
        z = z - vae.config.shift_factor
    return z * vae.config.scaling_factor


class LatentCache:
    """Each sample's VAE distribution (mean, std), computed once. A step samples from it with the
    step's generator: the same as encoding every step, without a VAE pass per step. With
    `mean=True` the targets are the means (a trained VAE's spread is tiny; a random test VAE's is
    larger than the picture's own signal, which would make every step's target a different one)."""

    def __init__(self, vae, mean: bool = False):
        self.vae = vae
        self.mean = mean
        self._dists: dict[int, tuple] = {}

    def _dist(self, index: int, pixels, masked):
        if index not in self._dists:
            with torch.no_grad():
                both = torch.stack([pixels, masked]).to(self.vae.device, self.vae.dtype)
                d = self.vae.encode(both).latent_dist
                self._dists[index] = (d.mean.float().cpu(), d.std.float().cpu())
        return self._dists[index]

    def latents(self, indices: list[int], batch: dict, generator):
        """(target latents, mask at latent size, masked-photo latents) of a batch, on its device."""

        means, stds = zip(*(self._dist(i, batch["pixels"][n], batch["masked"][n])
                            for n, i in enumerate(indices)), strict=True)
        mean, std = torch.stack(means), torch.stack(stds)  # (B, 2, C, h, w): target, masked
        z = mean if self.mean else mean + std * torch.randn(mean.shape, generator=generator)
        device = batch["pixels"].device
        z = _scaled(self.vae, z).to(device)
        mask = F.interpolate(batch["mask"], size=z.shape[-2:])
        return z[:, 0], mask, z[:, 1]


def noise_loss(unet, scheduler, latents, mask, masked, cond: Conditioning, generator, weight_dtype, pixel_size: int,
               controlnet=None, hint=None):
    """The noise-prediction loss (or v-prediction, as the scheduler says) of one batch.

    Noise and timesteps come from `generator` (on the CPU), so a step is the same step on
    every device and after a resume."""

    noise = torch.randn(latents.shape, generator=generator).to(latents.device, latents.dtype)
    b = latents.shape[0]
    t = torch.randint(0, scheduler.config.num_train_timesteps, (b,), generator=generator).to(latents.device)
    noisy = scheduler.add_noise(latents, noise, t)
    kind = scheduler.config.prediction_type
    target = noise if kind == "epsilon" else scheduler.get_velocity(latents, noise, t)
    model_in = torch.cat([noisy, mask.to(latents.dtype), masked], dim=1).to(weight_dtype)
    kwargs = cond.unet_kwargs(b, pixel_size, latents.device, weight_dtype)
    if controlnet is not None:  # the ControlNet sees the 4-channel noisy latents, the UNet its residuals
        down, mid = controlnet(noisy.to(weight_dtype), t, encoder_hidden_states=kwargs["encoder_hidden_states"],
                               controlnet_cond=hint.to(weight_dtype), return_dict=False)
        kwargs.update(down_block_additional_residuals=down, mid_block_additional_residual=mid)
    pred = unet(model_in, t, **kwargs, return_dict=False)[0]
    return F.mse_loss(pred.float(), target.float())


def weight_dtype_for(precision: str):
    return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision, torch.float32)
