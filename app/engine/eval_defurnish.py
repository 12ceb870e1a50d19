"""Evaluation of de-furnishing on photos of empty rooms.

For each empty-room photo: furniture-shaped masks (from a folder, or drawn here),
optionally furniture painted into them with contact shadows reaching just outside
the tight mask (the case the margin ring exists for); then de-furnishing, and the
metrics the de-furnishing research used against the empty photo as ground truth:
PSNR, SSIM and LPIPS inside the edited region and over the whole image, plus
preservation outside the edit (must be bit-exact) and, when a detector is
installed, the best furniture score inside the region before and after (lower
after is better). A classical fill of the same mask is reported as a baseline.

LPIPS needs pretrained network weights; it is computed only when the `lpips`
package and its AlexNet weights are present locally, else reported as null with
the reason.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from app.errors import UserError
from app.imaging import masks

log = logging.getLogger(__name__)

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".heic", ".heif"}
PSNR_CAP = 100.0  # dB reported for identical pixels (JSON has no infinity)
METRIC_KEYS = ("psnr", "ssim", "lpips")


@dataclass
class EvalSettings:
    steps: int = 30
    guidance: float = 7.5
    strength: float = 1.0
    seed: int = 0
    margin_px: int | None = None
    prefill: str = "telea"
    prompt: str = ""
    negative: str = ""
    lora: str | None = None
    lora_scale: float = 0.8
    models: str = "auto"
    model_set: str | None = None
    device: str | None = None
    paste: bool = True  # paint furniture (with shadows) into the masks before de-furnishing
    objects: int | None = None  # shapes per generated mask (None: 1-3 at random)
    max_side: int | None = None  # reduce photos to this long side first (speed)
    limit: int | None = None
    save_dir: str | None = None  # write input, result and mask per photo
    detector_check: bool = True  # furniture score before / after when a detector is installed
    extra: dict = field(default_factory=dict)


# ---- furniture-shaped masks and furniture painted into them ----------------------------


def _poly(mask, pts):
    cv2.fillPoly(mask, [np.round(np.asarray(pts)).astype(np.int32)], 1)


def furniture_shape(kind: str, w: int, h: int, x: float, bottom: float, size: float) -> np.ndarray:
    """A silhouette standing on the floor: its base at row `bottom`, centred at column `x`,
    `size` = its width in pixels. Kinds: sofa, table, chair, lamp, plant, cabinet, bed."""
    m = np.zeros((h, w), np.uint8)
    s = size
    b = bottom
    if kind == "sofa":
        cv2.rectangle(m, (int(x - s / 2), int(b - 0.42 * s)), (int(x + s / 2), int(b - 0.06 * s)), 1, -1)
        cv2.rectangle(m, (int(x - s / 2), int(b - 0.62 * s)), (int(x + s / 2), int(b - 0.3 * s)), 1, -1)
        for sx in (-1, 1):
            cv2.rectangle(m, (int(x + sx * s / 2 - 0.08 * s), int(b - 0.5 * s)), (int(x + sx * s / 2), int(b - 0.06 * s)),
                          1, -1)
            cv2.rectangle(m, (int(x + sx * 0.42 * s), int(b - 0.06 * s)), (int(x + sx * 0.45 * s), int(b)), 1, -1)
    elif kind == "table":
        cv2.ellipse(m, (int(x), int(b - 0.45 * s)), (int(s / 2), int(0.1 * s)), 0, 0, 360, 1, -1)
        for sx in (-0.38, 0.38):
            cv2.rectangle(m, (int(x + sx * s - 0.03 * s), int(b - 0.45 * s)), (int(x + sx * s + 0.03 * s), int(b)), 1, -1)
    elif kind == "chair":
        cv2.rectangle(m, (int(x - 0.3 * s), int(b - 1.1 * s)), (int(x + 0.3 * s), int(b - 0.5 * s)), 1, -1)
        cv2.rectangle(m, (int(x - 0.4 * s), int(b - 0.55 * s)), (int(x + 0.4 * s), int(b - 0.42 * s)), 1, -1)
        for sx in (-0.35, 0.35):
            cv2.rectangle(m, (int(x + sx * s - 0.04 * s), int(b - 0.45 * s)), (int(x + sx * s + 0.04 * s), int(b)), 1, -1)
    elif kind == "lamp":
        _poly(m, [(x - 0.5 * s, b - 1.6 * s), (x + 0.5 * s, b - 1.6 * s), (x + 0.3 * s, b - 2.1 * s),
                  (x - 0.3 * s, b - 2.1 * s)])
        cv2.rectangle(m, (int(x - 0.05 * s), int(b - 1.6 * s)), (int(x + 0.05 * s), int(b)), 1, -1)
        cv2.ellipse(m, (int(x), int(b - 0.03 * s)), (int(0.3 * s), int(0.06 * s)), 0, 0, 360, 1, -1)
    elif kind == "plant":
        _poly(m, [(x - 0.3 * s, b - 0.5 * s), (x + 0.3 * s, b - 0.5 * s), (x + 0.22 * s, b), (x - 0.22 * s, b)])
        cv2.ellipse(m, (int(x), int(b - 0.95 * s)), (int(0.5 * s), int(0.5 * s)), 0, 0, 360, 1, -1)
    elif kind == "cabinet":
        cv2.rectangle(m, (int(x - s / 2), int(b - 1.3 * s)), (int(x + s / 2), int(b)), 1, -1)
    elif kind == "bed":
        cv2.rectangle(m, (int(x - s / 2), int(b - 0.35 * s)), (int(x + s / 2), int(b)), 1, -1)
        cv2.rectangle(m, (int(x - s / 2), int(b - 0.75 * s)), (int(x - 0.42 * s), int(b)), 1, -1)
    else:
        raise ValueError(kind)
    return m.astype(bool)


KINDS = ("sofa", "table", "chair", "lamp", "plant", "cabinet", "bed")
_REL_SIZE = {"sofa": 0.35, "table": 0.22, "chair": 0.1, "lamp": 0.07, "plant": 0.09, "cabinet": 0.16, "bed": 0.4}


def generate_mask(shape: tuple[int, int], rng: np.random.Generator, count: int | None = None) -> np.ndarray:
    """1-3 (or `count`) furniture silhouettes standing in the lower part of the frame."""
    h, w = shape
    count = int(rng.integers(1, 4)) if count is None else int(count)
    out = np.zeros((h, w), bool)
    for _ in range(count):
        kind = KINDS[int(rng.integers(len(KINDS)))]
        size = _REL_SIZE[kind] * w * float(rng.uniform(0.8, 1.2))
        bottom = h * float(rng.uniform(0.72, 0.95))
        x = w * float(rng.uniform(0.2, 0.8))
        out |= furniture_shape(kind, w, h, x, bottom, size)
    if not out.any():  # a photo so small the shapes vanished
        out[int(h * 0.6):int(h * 0.85), int(w * 0.35):int(w * 0.65)] = True
    return out


def paint_furniture(photo: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
                    shadow_px: int) -> np.ndarray:
    """Furniture painted into `mask` (shaded fabric/wood colours, some texture) with a soft
    contact shadow that reaches up to `shadow_px` beyond the mask's lower edge."""
    out = photo.astype(np.float32)
    h, w = mask.shape
    if shadow_px > 0:
        below = masks.grow(mask, shadow_px) & ~mask
        dist = cv2.distanceTransform((~mask).view(np.uint8), cv2.DIST_L2, 3)
        strength = np.clip(1.0 - dist / max(1, shadow_px), 0, 1) * 0.45
        ys = np.arange(h, dtype=np.float32)[:, None]
        rows = np.flatnonzero(mask.any(axis=1))
        # shadows fall mostly on the floor: weaker above the object's middle
        mid = (rows[0] + rows[-1]) / 2 if len(rows) else h / 2
        strength *= np.clip((ys - mid) / max(1.0, (rows[-1] - mid) if len(rows) else 1.0), 0.2, 1.0)
        out[below] *= (1.0 - strength[below])[:, None]
    colour = rng.uniform(30, 200, 3).astype(np.float32)
    grad = np.linspace(1.15, 0.75, h, dtype=np.float32)[:, None, None]
    texture = rng.normal(0, 6, (h, w, 1)).astype(np.float32)
    painted = np.clip(colour[None, None] * grad + texture, 0, 255)
    out[mask] = painted[mask]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# ---- metrics -------------------------------------------------------------------------


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


class Lpips:
    """LPIPS (AlexNet) when the `lpips` package and its pretrained weights are installed locally."""

    def __init__(self):
        self.fn = None
        self.reason = ""
        try:
            import importlib.util

            if importlib.util.find_spec("lpips") is None:
                self.reason = ("LPIPS needs pretrained network weights: the `lpips` package (with its linear "
                               "layers) and torchvision's AlexNet weights. The package is not installed.")
                return
            import torch

            alex = Path(torch.hub.get_dir()) / "checkpoints" / "alexnet-owt-7be5be79.pth"
            if not alex.is_file():
                self.reason = (f"LPIPS needs torchvision's pretrained AlexNet weights ({alex}), which are not "
                               f"present and are never downloaded during an evaluation.")
                return
            import lpips

            self.fn = lpips.LPIPS(net="alex", pretrained=True, verbose=False).eval()
            self._torch = torch
        except Exception as exc:  # a broken optional dependency must not stop the evaluation
            self.fn = None
            self.reason = f"LPIPS could not be loaded: {exc.__class__.__name__}: {exc}"

    def __call__(self, a: np.ndarray, b: np.ndarray, region: np.ndarray | None = None) -> float | None:
        if self.fn is None:
            return None
        if region is not None:
            box = masks.bounding_box(region)
            if box is None:
                return None
            x0, y0, x1, y1 = box
            a, b = a[y0:y1, x0:x1], b[y0:y1, x0:x1]
        if min(a.shape[:2]) < 16:
            return None
        torch = self._torch

        def t(x):
            return torch.from_numpy(x).permute(2, 0, 1)[None].float() / 127.5 - 1.0

        with torch.inference_mode():
            return float(self.fn(t(a), t(b)).item())


def region_metrics(out: np.ndarray, truth: np.ndarray, region: np.ndarray | None, lp: Lpips) -> dict:
    return {"psnr": psnr(out, truth, region), "ssim": ssim(out, truth, region), "lpips": lp(out, truth, region)}


def preservation(out: np.ndarray, given: np.ndarray, edit: np.ndarray) -> dict:
    """Outside the edit the output must be the input, bit for bit."""
    outside = ~edit
    if not outside.any():
        return {"changed_fraction": 0.0, "max_abs_diff": 0, "identical": True}
    diff = np.abs(out[outside].astype(np.int16) - given[outside].astype(np.int16))
    changed = diff.max(axis=-1) > 0
    return {"changed_fraction": float(changed.mean()), "max_abs_diff": int(diff.max()),
            "identical": bool(not changed.any())}


# ---- the evaluation ------------------------------------------------------------------


def list_photos(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise UserError(f"{folder}: not a folder of empty-room photos")
    photos = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
    if not photos:
        raise UserError(f"{folder}: no photos (jpg, png, tif, webp, heic) in it")
    return photos


def find_mask(mask_dir: Path | None, photo: Path) -> Path | None:
    if mask_dir is None:
        return None
    for p in sorted(mask_dir.glob(photo.stem + ".*")):
        if p.suffix.lower() in PHOTO_SUFFIXES:
            return p
    return None


def _reduce(photo: np.ndarray, max_side: int | None) -> np.ndarray:
    h, w = photo.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return photo
    s = max_side / max(h, w)
    return cv2.resize(photo, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def _mean(values) -> float | None:
    vals = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def evaluate(engine, empty_dir: str | Path, mask_dir: str | Path | None, settings: EvalSettings,
             progress=None) -> dict:
    """Run the evaluation; returns the JSON-ready report."""
    from app.engine import requests as rq
    from app.engine.inpaint import classical_fill
    from app.imaging.io import read_mask, read_photo, write_mask, write_photo

    t_start = time.perf_counter()
    empty_dir = Path(empty_dir)
    mask_dir = Path(mask_dir) if mask_dir else None
    if mask_dir is not None and not mask_dir.is_dir():
        raise UserError(f"{mask_dir}: not a folder of masks")
    photos = list_photos(empty_dir)[: settings.limit or None]
    lp = Lpips()
    detector = _detector(engine, settings) if settings.detector_check else None
    save = Path(settings.save_dir) if settings.save_dir else None
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, path in enumerate(photos):
        if progress:
            progress(index, len(photos), path.name)
        full = read_photo(path).pixels
        truth = _reduce(full, settings.max_side)
        h, w = truth.shape[:2]
        rng = np.random.default_rng([settings.seed, index])
        mpath = find_mask(mask_dir, path)
        if mpath is not None:
            source = str(mpath)
            obj = read_mask(mpath, (full.shape[1], full.shape[0]))
            if obj.shape != (h, w):
                obj = cv2.resize(obj.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) >= 0.5
        else:
            source = "generated"
            obj = generate_mask((h, w), rng, settings.objects)
        if not obj.any():
            rows.append({"photo": str(path), "mask": source, "skipped": "the mask is empty"})
            continue
        margin = settings.margin_px if settings.margin_px is not None else masks.scale_px(20, (w, h))
        given = paint_furniture(truth, obj, rng, shadow_px=max(0, int(0.6 * margin))) if settings.paste else truth
        request = rq.DefurnishRequest(
            photo=given, photo_path=str(path), mask=obj, models=settings.models, model_set=settings.model_set,
            device=settings.device, prompt=settings.prompt, negative=settings.negative, steps=settings.steps,
            guidance=settings.guidance, strength=settings.strength, seed=settings.seed + index,
            margin_px=settings.margin_px, prefill=settings.prefill, lora=settings.lora,
            lora_scale=settings.lora_scale,
        )
        t0 = time.perf_counter()
        result = engine.run(request)
        seconds = time.perf_counter() - t0
        out = result.images[0]
        edit = result.mask
        baseline = classical_fill(given, edit, "telea")
        row = {
            "photo": str(path), "mask": source, "size": [w, h],
            "object_fraction": float(obj.mean()), "edit_fraction": float(edit.mean()),
            "mask_region": region_metrics(out, truth, edit, lp),
            "whole": region_metrics(out, truth, None, lp),
            "outside": preservation(out, given, edit),
            "baseline_fill": {"mask_region": region_metrics(baseline, truth, edit, lp),
                              "whole": region_metrics(baseline, truth, None, lp)},
            "input": {"mask_region": region_metrics(given, truth, edit, lp)},
            "seconds": round(seconds, 3), "seed": result.seeds[0],
        }
        if detector is not None:
            from app.engine.detector import furniture_score

            row["furniture_score"] = {"before": furniture_score(detector, given, edit),
                                      "after": furniture_score(detector, out, edit)}
        if save is not None:
            stem = f"{index + 1:03d}-{path.stem}"
            write_photo(save / f"{stem}-input.png", given)
            write_photo(save / f"{stem}-output.png", out)
            write_mask(save / f"{stem}-mask.png", edit)
        rows.append(row)
    done = [r for r in rows if "skipped" not in r]
    summary = {}
    for part in ("mask_region", "whole"):
        summary[part] = {k: _mean(r[part][k] for r in done) for k in METRIC_KEYS}
    summary["baseline_fill"] = {part: {k: _mean(r["baseline_fill"][part][k] for r in done) for k in METRIC_KEYS}
                                for part in ("mask_region", "whole")}
    summary["input_mask_region"] = {k: _mean(r["input"]["mask_region"][k] for r in done) for k in METRIC_KEYS}
    summary["outside"] = {"all_identical": all(r["outside"]["identical"] for r in done),
                          "max_changed_fraction": max((r["outside"]["changed_fraction"] for r in done), default=0.0)}
    if detector is not None and done:
        summary["furniture_score"] = {"before": _mean(r["furniture_score"]["before"] for r in done),
                                      "after": _mean(r["furniture_score"]["after"] for r in done)}
    else:
        summary["furniture_score"] = None
    return {
        "photos": len(done), "skipped": len(rows) - len(done),
        "settings": {k: v for k, v in settings.__dict__.items() if k != "extra"},
        "summary": summary,
        "lpips": {"available": lp.fn is not None, "reason": lp.reason or None},
        "furniture_score_note": ("best detector score for furniture inside the edited region, before and after "
                                 "(lower after is better)" if detector is not None
                                 else "no detector installed: furniture score not computed"),
        "psnr_cap_db": PSNR_CAP,
        "images": rows,
        "total_s": round(time.perf_counter() - t_start, 3),
    }


def _detector(engine, settings: EvalSettings):
    """The catalog's detector, when one is installed (the removal-quality signal), else None."""
    from app.engine import requests as rq
    from app.engine.detector import find_model, load_detector
    from app.errors import ModelMissing

    manager = engine.models
    probe = rq.AutoMaskRequest(photo=np.zeros((8, 8, 3), np.uint8), models=settings.models,
                               model_set=settings.model_set, device=settings.device)
    try:
        catalog = manager.catalog(settings.models)
        models = manager.model_set(probe)
        found = find_model(catalog, models.name, "detector")
    except (ModelMissing, UserError):
        return None
    if found is None:
        return None
    return load_detector(manager, found[1], manager.device(settings.device))


def table(report: dict) -> str:
    """A short text table of the summary."""
    s = report["summary"]

    def f(v, digits=2):
        return "   -  " if v is None else f"{v:6.{digits}f}"

    lines = [f"{report['photos']} photo(s); LPIPS: " + ("yes" if report["lpips"]["available"] else "n/a"),
             f"{'':22}{'PSNR':>7}{'SSIM':>8}{'LPIPS':>8}"]
    rows = [("de-furnished, mask", s["mask_region"]), ("de-furnished, whole", s["whole"]),
            ("classical fill, mask", s["baseline_fill"]["mask_region"]),
            ("input, mask", s["input_mask_region"])]
    for name, m in rows:
        lines.append(f"{name:<22}{f(m['psnr']):>7}{f(m['ssim'], 3):>8}{f(m['lpips'], 3):>8}")
    lines.append("outside the mask: " + ("identical" if s["outside"]["all_identical"] else
                                         f"CHANGED (up to {s['outside']['max_changed_fraction']:.2%} of pixels)"))
    if s.get("furniture_score"):
        fs = s["furniture_score"]
        lines.append(f"furniture score in the mask: before {f(fs['before'], 3)}, after {f(fs['after'], 3)}")
    return "\n".join(lines)
