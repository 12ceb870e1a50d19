"""Cheap live previews: latents -> approximate RGB with a fixed linear map, no extra model."""

from __future__ import annotations

import numpy as np

# Least-squares fits of RGB to the latent channels, published by the community: 4 channels for the
# SD1.5 / SDXL VAEs, 16 for the FLUX.1 VAE (Z-Image uses the same VAE). They apply to the latents
# the sampler sees (after the VAE's shift and scaling).
_FLUX = ([[-0.0346, 0.0244, 0.0681], [0.0034, 0.0210, 0.0687], [0.0275, -0.0668, -0.0433],
          [-0.0174, 0.0160, 0.0617], [0.0859, 0.0721, 0.0329], [0.0004, 0.0383, 0.0115],
          [0.0405, 0.0861, 0.0915], [-0.0236, -0.0185, -0.0259], [-0.0245, 0.0250, 0.1180],
          [0.1008, 0.0755, -0.0421], [-0.0515, 0.0201, 0.0011], [0.0428, -0.0012, -0.0036],
          [0.0817, 0.0765, 0.0749], [-0.1264, -0.0522, -0.1103], [-0.0280, -0.0881, -0.0499],
          [-0.1262, -0.0982, -0.0778]], [-0.0329, -0.0718, -0.0851])
_FACTORS = {
    "sd15": ([[0.298, 0.207, 0.208], [0.187, 0.286, 0.173], [-0.158, 0.189, 0.264], [-0.184, -0.271, -0.473]],
             [0.0, 0.0, 0.0]),
    "sdxl": ([[0.3651, 0.4232, 0.4341], [-0.2533, -0.0042, 0.1068], [0.1076, 0.1111, -0.0362],
              [-0.3165, -0.2492, -0.2188]], [0.1084, -0.0175, -0.0011]),
    "flux": _FLUX,
    "zimage": _FLUX,
}


def latents_to_rgb(latents, arch: str = "sd15") -> np.ndarray:
    """First latent of a batch (1xCxhxw tensor, unpacked) -> hxwx3 uint8."""
    import torch

    factors, bias = _FACTORS.get(arch, _FACTORS["sd15"])
    lat = latents[0, :len(factors)].detach().float().cpu()
    rgb = torch.einsum("chw,cr->hwr", lat, torch.tensor(factors)) + torch.tensor(bias)
    return ((rgb.clamp(-1, 1) + 1) * 127.5).byte().numpy()
