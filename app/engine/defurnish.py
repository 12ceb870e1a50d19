"""De-furnishing: the masked objects plus a margin ring become empty room.

Diffusion models re-create furniture where furniture was, and shadows or
fragments left outside a tight mask invite it. So:
1. the mask is widened by a margin ring (shadows and contact marks go too);
2. the hole is pre-filled from its surroundings before diffusion: a classical
   fill that needs no weights, or a dedicated erase model (LaMa) from the catalog
   (`prefill="erase"`), so nothing of the object survives into the init image;
3. the ControlNets see only the room's structure: Canny edges of the
   surroundings with their long lines (floor/wall junctions, skirting, window
   frames) bridged across the hole, and the depth of the surroundings continued
   across it instead of the ghost of the sofa;
4. empty-room prompts with furniture negatives, and the optional de-furnishing LoRA.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import cv2
import numpy as np

from app.engine.inpaint import InpaintJob, check_mask, run_inpaint
from app.engine.presets import defurnish_prompts
from app.engine.requests import DefurnishRequest, GenerationResult
from app.errors import UserError
from app.imaging import masks

log = logging.getLogger(__name__)

MARGIN_AT_1024 = 20  # px of ring at a 1024 px long side
PREFILLS = ("telea", "ns", "erase", "none")


def removal_mask(request: DefurnishRequest):
    if request.mask is None or not request.mask.any():
        raise UserError("de-furnishing needs a mask of the objects to remove (the mask is empty)")
    h, w = request.mask.shape
    margin = request.margin_px if request.margin_px is not None else masks.scale_px(MARGIN_AT_1024, (w, h))
    return request.mask | masks.margin_ring(request.mask, margin) if margin > 0 else request.mask


def run_defurnish(request: DefurnishRequest, ctx) -> GenerationResult:
    if request.prefill not in PREFILLS:
        raise UserError(f"unknown pre-fill '{request.prefill}' (choose {', '.join(PREFILLS)})")
    check_mask(request.photo, request.mask)
    prompt, negative = defurnish_prompts(request.prompt, request.negative)
    mask = removal_mask(request)
    prefill_fn = eraser_for(request, ctx) if request.prefill == "erase" else None
    job = InpaintJob(prompt=prompt, negative=negative, mask=mask,
                     prefill="none" if prefill_fn is not None else request.prefill,
                     lora=ctx.models.lora_file(request), lora_scale=request.lora_scale, blank_guides_in_mask=True,
                     prefill_fn=prefill_fn)
    return run_inpaint(request, job, ctx)


# ---- structure-only guides ---------------------------------------------------------


def structure_edges(edges: np.ndarray, mask: np.ndarray, min_length: float = 0.06,
                    reach: float = 0.12) -> np.ndarray:
    """Canny edges for an empty-room inpaint: nothing inside the hole except the room's long
    straight lines that run into it from one side and out of it on the other (or into the
    frame's edge), drawn across. Lengths are fractions of the image's long side."""
    out = np.array(edges, dtype=np.uint8, copy=True)
    hole = np.asarray(mask, bool)
    out[hole] = 0
    if not hole.any():
        return out
    h, w = hole.shape
    side = max(h, w)
    reach_px = max(4, int(reach * side))
    near = masks.grow(hole, reach_px) & ~hole
    lines = cv2.HoughLinesP(np.where(near, out, 0).astype(np.uint8), 1, np.pi / 180,
                            threshold=max(8, int(0.03 * side)), minLineLength=max(6, int(min_length * side)),
                            maxLineGap=3)
    if lines is None:
        return out
    support = (cv2.dilate(out, np.ones((3, 3), np.uint8)) > 0) & ~hole
    segs = sorted((tuple(int(v) for v in seg) for seg in np.asarray(lines).reshape(-1, 4)),
                  key=lambda s: -np.hypot(s[2] - s[0], s[3] - s[1]))[:60]
    need = max(3, int(0.5 * min_length * side))
    drawn = np.zeros_like(out)
    for x1, y1, x2, y2 in segs:
        for a, b in _bridges(x1, y1, x2, y2, hole, support, reach_px, need):
            cv2.line(drawn, a, b, 255, 1, lineType=cv2.LINE_8)
    out[hole & (drawn > 0)] = 255
    return out


def _bridges(x1, y1, x2, y2, hole, support, reach_px, need):
    """Runs of the infinite line through (x1, y1)-(x2, y2) that cross the hole with edge
    support on both sides (or support on one side and the frame's edge on the other)."""
    h, w = hole.shape
    d = np.array([x2 - x1, y2 - y1], np.float64)
    n = np.hypot(*d)
    if n < 1:
        return []
    d /= n
    span = int(np.hypot(h, w)) + 2
    t = np.arange(-span, span + 1, dtype=np.float64)
    xs = np.rint(x1 + t * d[0]).astype(int)
    ys = np.rint(y1 + t * d[1]).astype(int)
    inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    xs, ys = xs[inside], ys[inside]
    if len(xs) < 2:
        return []
    in_hole = hole[ys, xs]
    sup = support[ys, xs]
    out = []
    i, n_pts = 0, len(xs)
    while i < n_pts:
        if not in_hole[i]:
            i += 1
            continue
        j = i
        while j + 1 < n_pts and in_hole[j + 1]:
            j += 1
        before = sup[max(0, i - reach_px):i].sum()
        after = sup[j + 1:j + 1 + reach_px].sum()
        at_start, at_end = i == 0, j == n_pts - 1
        if (before >= need or at_start) and (after >= need or at_end) and (before >= need or after >= need):
            out.append(((int(xs[i]), int(ys[i])), (int(xs[j]), int(ys[j]))))
        i = j + 1
    return out


# ---- the erase model (prefill="erase") ----------------------------------------------


class Eraser:
    """A LaMa-style erase model as TorchScript: (image 1x3xHxW in [0, 1], mask 1x1xHxW) -> image.

    Loaded from the catalog's `erase` entry. Only the hole is taken from its output."""

    MULTIPLE = 8

    def __init__(self, path: Path, device: str):
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
    from app.engine.detector import cached_model, find_model, require

    device = ctx.models.device(request.device)
    models = ctx.models.model_set(request)
    catalog = ctx.models.catalog(request.models)
    _, path = require(find_model(catalog, models.name, "erase"), catalog, "erase")
    return cached_model(ctx.models, "erase", path, device, lambda: Eraser(path, device.device))
