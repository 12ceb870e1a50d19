"""What the inpaint core needs from a model family."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class SampleArgs:
    """One variation of one job, at model size."""

    prompt: str
    negative: str
    image: np.ndarray  # HxWx3 uint8: the (pre-filled) crop
    mask: np.ndarray  # HxW bool: True = repaint
    control: list = field(default_factory=list)  # guide images (PIL), depth then Canny, in the set's order
    scales: list[float] = field(default_factory=list)
    steps: int = 30
    guidance: float = 7.5
    strength: float = 1.0
    seed: int = 0
    on_step: Callable[[int, int, object], None] | None = None  # (step index, total, 4-D latents)


class Family:
    """Defaults are Stable Diffusion's; each family overrides what differs."""

    arch = ""
    big = False  # a multi-billion-parameter model: quantization and offload plans apply
    resident_vram_gb = 0.0  # VRAM to keep everything resident at 1024 px, big text encoder in nf4
    resident_vram_gb_bf16 = 0.0  # the same with the text encoder in bf16 (no bitsandbytes)
    uses_strength = True
    default_steps = 30
    default_guidance = 7.5
    dtype_on_cuda = "float16"

    def load(self, cache, models):  # -> pipeline
        raise NotImplementedError

    def sample(self, cache, pipe, args: SampleArgs):  # -> 4-D latents in the VAE's (scaled) space
        raise NotImplementedError

    def decode_input(self, pipe, latents):
        """Latents as `sample` returned them -> what the VAE decodes (before its scaling)."""
        vae = pipe.vae
        z = latents.to(dtype=vae.dtype) / vae.config.scaling_factor
        shift = getattr(vae.config, "shift_factor", None)
        return z + shift if shift else z


def sampler_steps(steps: int, strength: float) -> int:
    """Steps to ask the pipeline for: below strength 1 it runs int(steps * strength), never let that be 0."""
    return max(int(steps), math.ceil(1.0 / max(strength, 1e-3)))


def generator_for(seed: int):
    import torch

    return torch.Generator("cpu").manual_seed(seed)  # CPU generator: the same noise on every device


def step_callback(args: SampleArgs, unpack=None):
    """A diffusers callback_on_step_end that reports each step (with 4-D latents for the preview)."""

    def on_step(pipe, step, timestep, kwargs):
        if args.on_step is not None:
            latents = kwargs["latents"]
            args.on_step(step, pipe.num_timesteps, unpack(latents) if unpack else latents)
        return {}

    return on_step
