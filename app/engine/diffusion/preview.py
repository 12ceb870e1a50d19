"""Cheap live previews: latents -> approximate RGB with a fixed linear map, no extra model."""

from __future__ import annotations

import numpy as np

# Least-squares fits of RGB to the 4 latent channels (published by the community for SD1.5 / SDXL VAEs).
_FACTORS = {
    "sd15": ([[0.298, 0.207, 0.208], [0.187, 0.286, 0.173], [-0.158, 0.189, 0.264], [-0.184, -0.271, -0.473]],
             [0.0, 0.0, 0.0]),
    "sdxl": ([[0.3651, 0.4232, 0.4341], [-0.2533, -0.0042, 0.1068], [0.1076, 0.1111, -0.0362],
              [-0.3165, -0.2492, -0.2188]], [0.1084, -0.0175, -0.0011]),
}


def latents_to_rgb(latents, arch: str = "sd15") -> np.ndarray:
    """First latent of a batch (1x4xhxw tensor) -> hxwx3 uint8."""
    # heavy: loaded on first use, not when the app starts
    import torch

    factors, bias = _FACTORS.get(arch, _FACTORS["sd15"])
    lat = latents[0, :4].detach().float().cpu()
    rgb = torch.einsum("chw,cr->hwr", lat, torch.tensor(factors)) + torch.tensor(bias)
    return ((rgb.clamp(-1, 1) + 1) * 127.5).byte().numpy()
