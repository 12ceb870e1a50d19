"""LPIPS (Zhang et al. 2018, v0.1, AlexNet): a perceptual distance from real pretrained weights.

Two small files make it: torchvision's ImageNet AlexNet `features` (the backbone) and
the `lpips` project's five linear heads. Both come through the model catalog
(official sources, pinned checksums; lpips_catalog.py) or `models import FILE`; both
are read as data only: safetensors, or a `.pth` through `torch.load(weights_only=True)`.

The network is the reference one: inputs in [-1, 1], the v0.1 scaling layer, the
five ReLU outputs of AlexNet's features, unit-normalised along channels, squared
differences weighted by the heads and averaged. Inside a region the per-pixel
distance map (each layer's map upsampled to the input) is averaged over the region.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torchvision.models import alexnet

from app.engine.models.lpips_shapes import FEATURE_SHAPES, HEAD_WIDTHS
from app.errors import UserError

log = logging.getLogger(__name__)

MAX_SIDE = 1024  # larger photos are reduced first: LPIPS was calibrated on patches, and a 24 MP map is slow
MIN_SIDE = 16  # AlexNet's first conv and pools need this much

_SLICE_ENDS = (2, 5, 8, 10, 12)  # features[:2] -> relu1, [2:5] -> relu2, ... (the lpips slices)
# The v0.1 scaling layer: (x - shift) / scale, x in [-1, 1]
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)


def read_state(path: Path) -> dict:
    """A state dict from a .safetensors file, or a .pth / .pt read with weights_only=True (never pickle)."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".safetensors":

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UserError(f"{path}: not a readable weights file ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(state, dict):
        raise UserError(f"{path}: not a state dict of weights")
    return state


def backbone_state(state: dict) -> dict | None:
    """AlexNet features as `{"0.weight": ...}`, from a features-only file or a whole torchvision AlexNet."""
    out = {}
    for k, v in state.items():
        key = k[len("features."):] if k.startswith("features.") else k
        out[key] = v
    for index, (o, i, k) in FEATURE_SHAPES.items():
        w, b = out.get(f"{index}.weight"), out.get(f"{index}.bias")
        if w is None or b is None or tuple(w.shape) != (o, i, k, k) or tuple(b.shape) != (o,):
            return None
    return {k: v for k, v in out.items() if k.split(".")[0].isdigit() and int(k.split(".")[0]) in FEATURE_SHAPES}


def heads_state(state: dict) -> dict | None:
    """The five linear heads `lin{k}.model.1.weight` of shape (1, C, 1, 1), or None when they are not there."""
    out = {}
    for k, width in enumerate(HEAD_WIDTHS):
        w = state.get(f"lin{k}.model.1.weight")
        if w is None or tuple(w.shape) != (1, width, 1, 1):
            return None
        out[f"lin{k}.model.1.weight"] = w
    return out


class Lpips:
    """LPIPS v0.1 (AlexNet). `distance(a, b, region)` on uint8 RGB arrays; `__call__` on [-1, 1] tensors."""

    def __init__(self, backbone: Path | str, heads: Path | str, device: str = "cpu"):
        features = backbone_state(read_state(Path(backbone)))
        if features is None:
            raise UserError(f"{backbone}: not AlexNet features (expected torchvision's AlexNet weights)")
        lins = heads_state(read_state(Path(heads)))
        if lins is None:
            raise UserError(f"{heads}: not the LPIPS AlexNet linear heads (lin0..lin4)")
        net = alexnet(weights=None).features
        net.load_state_dict(features, strict=False)  # pooling and ReLU layers have no weights
        self.features = net.eval().requires_grad_(False).to(device)
        self.heads = [lins[f"lin{k}.model.1.weight"].float().to(device) for k in range(len(HEAD_WIDTHS))]
        self.shift = torch.tensor(_SHIFT, device=device).view(1, 3, 1, 1)
        self.scale = torch.tensor(_SCALE, device=device).view(1, 3, 1, 1)
        self.device = device
        self.sources = (str(backbone), str(heads))

    # ---- the network -------------------------------------------------------------

    def _layers(self, x):
        x = (x - self.shift) / self.scale
        outs, start = [], 0
        for end in _SLICE_ENDS:
            for layer in self.features[start:end]:
                x = layer(x)
            outs.append(x)
            start = end
        return outs

    def distance_map(self, x, y):
        """Per-pixel LPIPS (N, 1, H, W) of two [-1, 1] batches: each layer's map upsampled to the input."""
        total = 0
        for fx, fy, w in zip(self._layers(x), self._layers(y), self.heads, strict=True):
            d = (_unit(fx) - _unit(fy)) ** 2
            total = total + F.interpolate(F.conv2d(d, w), size=x.shape[-2:], mode="bilinear", align_corners=False)
        return total

    def __call__(self, x, y):
        """LPIPS (N,) of two [-1, 1] batches: each layer's distance averaged over its own grid (the reference)."""
        total = 0
        for fx, fy, w in zip(self._layers(x), self._layers(y), self.heads, strict=True):
            total = total + F.conv2d((_unit(fx) - _unit(fy)) ** 2, w).mean(dim=(1, 2, 3))
        return total

    # ---- on photos -----------------------------------------------------------------

    def distance(self, a: np.ndarray, b: np.ndarray, region: np.ndarray | None = None) -> float | None:
        """LPIPS between two uint8 RGB arrays of one size; inside `region` (bool) when given.

        In a region the map is computed on the region's box plus context and averaged over
        the region's pixels. None for an empty region or an image too small for AlexNet."""
        if a.shape != b.shape:
            raise ValueError(f"LPIPS of different shapes {a.shape} and {b.shape}")
        if region is not None:
            ys, xs = np.nonzero(region)
            if len(xs) == 0:
                return None
            pad = 16
            h, w = region.shape
            y0, y1 = max(0, ys.min() - pad), min(h, ys.max() + 1 + pad)
            x0, x1 = max(0, xs.min() - pad), min(w, xs.max() + 1 + pad)
            a, b, region = a[y0:y1, x0:x1], b[y0:y1, x0:x1], region[y0:y1, x0:x1]
        a, b, region = _reduce(a, b, region)
        if min(a.shape[:2]) < MIN_SIDE:
            return None
        with torch.inference_mode():
            x, y = _to_tensor(a, self.device), _to_tensor(b, self.device)
            if region is None:
                return float(self(x, y)[0])
            dmap = self.distance_map(x, y)[0, 0]
            sel = torch.from_numpy(np.ascontiguousarray(region)).to(dmap.device)
            return float(dmap[sel].mean())


def _unit(f, eps: float = 1e-10):
    return f / (f.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)


def _to_tensor(a: np.ndarray, device: str):
    return (torch.from_numpy(np.array(a, np.float32)).permute(2, 0, 1)[None] / 127.5 - 1.0).to(device)


def _reduce(a, b, region):
    h, w = a.shape[:2]
    if max(h, w) <= MAX_SIDE:
        return a, b, region
    s = MAX_SIDE / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    a = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
    b = cv2.resize(b, size, interpolation=cv2.INTER_AREA)
    if region is not None:
        region = cv2.resize(region.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 0.5
    return a, b, region
