"""Image metrics of the de-furnishing evaluation and of LoRA validation: PSNR, SSIM, LPIPS in a
region, and preservation. LPIPS is the real network (evaluation/lpips.py) with pretrained weights
from the model catalog."""

from __future__ import annotations

import math

import numpy as np

from app.imaging import masks

PSNR_CAP = 100.0  # dB reported for identical pixels (JSON has no infinity)
METRIC_KEYS = ("psnr", "ssim", "lpips")


def psnr(a: np.ndarray, b: np.ndarray, region: np.ndarray | None = None) -> float | None:
    """PSNR in dB over `region` (all pixels when None); capped at PSNR_CAP; None for an empty region."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    if region is not None:
        if not region.any():
            return None
        a, b = a[region], b[region]
    mse = float(np.mean((a - b) ** 2))
    if mse <= 0:
        return PSNR_CAP
    return float(min(PSNR_CAP, 10.0 * math.log10(255.0**2 / mse)))


def ssim(a: np.ndarray, b: np.ndarray, region: np.ndarray | None = None) -> float | None:
    """SSIM (Gaussian 11x11, sigma 1.5, as Wang et al.), averaged over `region` (whole image when None).

    Inside a region the SSIM map is computed on the region's box plus a window of context."""
    # heavy: loaded on first use, not when the app starts
    from skimage.metrics import structural_similarity

    if region is not None:
        box = masks.bounding_box(region)
        if box is None:
            return None
        x0, y0, x1, y1 = box
        pad = 8
        h, w = region.shape
        x0, y0, x1, y1 = max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad)
        a, b, region = a[y0:y1, x0:x1], b[y0:y1, x0:x1], region[y0:y1, x0:x1]
    if min(a.shape[:2]) < 7:
        return None
    _, smap = structural_similarity(a, b, channel_axis=2, data_range=255, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, full=True)
    smap = smap.mean(axis=2)
    return float(smap[region].mean() if region is not None else smap.mean())


def region_metrics(out: np.ndarray, truth: np.ndarray, region: np.ndarray | None, lp=None) -> dict:
    """PSNR, SSIM and LPIPS (`lp`: an evaluation.lpips.Lpips, or None to leave it out) in `region`."""
    return {"psnr": psnr(out, truth, region), "ssim": ssim(out, truth, region),
            "lpips": lp.distance(out, truth, region) if lp is not None else None}


def preservation(out: np.ndarray, given: np.ndarray, edit: np.ndarray) -> dict:
    """Outside the edit the output must be the input, bit for bit."""
    outside = ~edit
    if not outside.any():
        return {"changed_fraction": 0.0, "max_abs_diff": 0, "identical": True}
    diff = np.abs(out[outside].astype(np.int16) - given[outside].astype(np.int16))
    changed = diff.max(axis=-1) > 0
    return {"changed_fraction": float(changed.mean()), "max_abs_diff": int(diff.max()),
            "identical": bool(not changed.any())}
