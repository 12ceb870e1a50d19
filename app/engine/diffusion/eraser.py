"""The erase model that pre-fills a de-furnishing hole (`prefill="erase"`): LaMa from the catalog."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from app.engine.models.optional import require_optional
from app.engine.requests import DefurnishRequest


class Eraser:
    """A LaMa-style erase model as TorchScript: (image 1x3xHxW in [0, 1], mask 1x1xHxW) -> image.

    Loaded from the catalog's `erase` entry. Only the hole is taken from its output."""

    MULTIPLE = 8

    def __init__(self, path: Path, device: str):
        # heavy: loaded on first use, not when the app starts
        import torch

        self._torch = torch
        self.device = device
        with warnings.catch_warnings():  # TorchScript is deprecated in torch 2.13; LaMa ships as TorchScript
            warnings.simplefilter("ignore", DeprecationWarning)
            self.model = torch.jit.load(str(path), map_location=device).eval()

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        torch = self._torch
        hole = np.asarray(mask, bool)
        if not hole.any():
            return image
        h, w = hole.shape
        ph, pw = (-h) % self.MULTIPLE, (-w) % self.MULTIPLE
        img = np.pad(image, ((0, ph), (0, pw), (0, 0)), mode="reflect") if ph or pw else image
        m = np.pad(hole, ((0, ph), (0, pw)), mode="reflect") if ph or pw else hole
        x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float().div(255).to(self.device)
        mt = torch.from_numpy(m.astype(np.float32))[None, None].to(self.device)
        with torch.inference_mode():
            y = self.model(x, mt)
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
