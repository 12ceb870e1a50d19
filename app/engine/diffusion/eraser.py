"""The erase model that pre-fills a de-furnishing hole (`prefill="erase"`): LaMa from the catalog,
loaded from safetensors into the generator defined in lama.py (weights are data, never code)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.engine.diffusion.lama import load_lama
from app.engine.models.optional import require_optional
from app.engine.requests import DefurnishRequest


class Eraser:
    """LaMa: (image HxWx3 uint8, hole HxW bool) -> the image with the hole filled. Only the hole is
    taken from the model's output; every other pixel is the input's."""

    def __init__(self, path: Path, device: str):
        # heavy: loaded on first use, not when the app starts
        import torch

        self._torch = torch
        self.device = device
        self.model = load_lama(path, device)
        self.multiple = 2**self.model.downsamplings  # the encoder halves the size this many times

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        torch = self._torch
        hole = np.asarray(mask, bool)
        if not hole.any():
            return image
        h, w = hole.shape
        ph, pw = (-h) % self.multiple, (-w) % self.multiple
        img = np.pad(image, ((0, ph), (0, pw), (0, 0)), mode="reflect") if ph or pw else image
        m = np.pad(hole, ((0, ph), (0, pw)), mode="reflect") if ph or pw else hole
        x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float().div(255).to(self.device)
        mt = torch.from_numpy(m.astype(np.float32))[None, None].to(self.device)
        with torch.inference_mode():
            y = self.model(x, mt)  # fp32: the Fourier units need it, and LaMa is small
        y = y[0, :, :h, :w].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
        out = image.copy()
        out[hole] = y[hole]
        return out


def eraser_for(request: DefurnishRequest, ctx) -> Eraser:
    device = ctx.models.device(request.device)
    models = ctx.models.model_set(request)
    catalog = ctx.models.catalog(request.models)
    _, path = require_optional(catalog, models.name, "erase")
    return ctx.models.cached("erase", path, device, lambda: Eraser(path, device.device))
