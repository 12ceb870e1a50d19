"""Evaluation of de-furnishing on photos of empty rooms.

For each empty-room photo: furniture-shaped masks (from a folder, or drawn here),
optionally furniture painted into them with contact shadows reaching just outside
the tight mask (the case the margin ring exists for); then de-furnishing, and the
metrics the de-furnishing research used against the empty photo as ground truth:
PSNR, SSIM and LPIPS inside the edited region and over the whole image, plus
preservation outside the edit (must be bit-exact) and, when a detector is
installed, the best furniture score inside the region before and after (lower
after is better). A classical fill of the same mask is reported as a baseline.

LPIPS is the real network with pretrained weights from the model catalog (the
AlexNet backbone and the LPIPS heads); without them the evaluation stops and says
how to get them, unless it was asked to leave LPIPS out (`lpips=False`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from app.engine.evaluation.furniture import generate_mask, paint_furniture
from app.engine.evaluation.lpips_catalog import load_lpips
from app.engine.evaluation.metrics import METRIC_KEYS, PSNR_CAP, preservation, region_metrics
from app.engine.models.optional import find_optional
from app.engine.requests import AutoMaskRequest, DefurnishRequest
from app.engine.vision.detector import furniture_score, load_detector
from app.errors import ModelMissing, UserError
from app.imaging import masks
from app.imaging.fills import classical_fill
from app.imaging.io import PHOTO_SUFFIXES, photos_in, read_mask, read_photo, write_mask, write_photo
from app.settings import MARGIN_AT_1024

log = logging.getLogger(__name__)



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
    lpips: bool = True  # False leaves LPIPS out (reported as null, with the reason)
    extra: dict = field(default_factory=dict)

    def request(self, photo: np.ndarray, mask: np.ndarray | None, path: str | None, seed: int) -> DefurnishRequest:
        """The de-furnishing request for one photo of the evaluation."""
        return DefurnishRequest(
            photo=photo, photo_path=path, mask=mask, models=self.models, model_set=self.model_set,
            device=self.device, prompt=self.prompt, negative=self.negative, steps=self.steps,
            guidance=self.guidance, strength=self.strength, seed=seed, margin_px=self.margin_px,
            prefill=self.prefill, lora=self.lora, lora_scale=self.lora_scale,
        )

    def check(self) -> None:
        """The requests' own field checks, before the first photo is read (InvalidRequest)."""
        self.request(np.zeros((8, 8, 3), np.uint8), None, None, self.seed).check_fields()


# ---- the evaluation ------------------------------------------------------------------


def list_photos(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise UserError(f"{folder}: not a folder of empty-room photos")
    photos = photos_in(folder)
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
    settings.check()
    t_start = time.perf_counter()
    empty_dir = Path(empty_dir)
    mask_dir = Path(mask_dir) if mask_dir else None
    if mask_dir is not None and not mask_dir.is_dir():
        raise UserError(f"{mask_dir}: not a folder of masks")
    photos = list_photos(empty_dir)[: settings.limit or None]
    lp = _lpips(engine, settings)
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
        margin = settings.margin_px if settings.margin_px is not None else masks.scale_px(MARGIN_AT_1024, (w, h))
        given = paint_furniture(truth, obj, rng, shadow_px=max(0, int(0.6 * margin))) if settings.paste else truth
        request = settings.request(given, obj, str(path), settings.seed + index)
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

            row["furniture_score"] = {"before": furniture_score(detector, given, edit),
                                      "after": furniture_score(detector, out, edit)}
        if save is not None:
            stem = f"{index + 1:03d}-{path.stem}"
            inputs = [path, mpath, empty_dir, mask_dir]  # the save folder never takes an input's place
            write_photo(save / f"{stem}-input.png", given, protect=inputs)
            write_photo(save / f"{stem}-output.png", out, protect=inputs)
            write_mask(save / f"{stem}-mask.png", edit, protect=inputs)
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
        "lpips": ({"available": True, "model": "LPIPS v0.1 AlexNet", "weights": list(lp.sources)} if lp is not None
                  else {"available": False, "reason": "left out on request (--no-lpips)"}),
        "furniture_score_note": ("best detector score for furniture inside the edited region, before and after "
                                 "(lower after is better)" if detector is not None
                                 else "no detector installed: furniture score not computed"),
        "psnr_cap_db": PSNR_CAP,
        "images": rows,
        "total_s": round(time.perf_counter() - t_start, 3),
    }


def _lpips(engine, settings: EvalSettings):
    """The real LPIPS from the catalog (ModelMissing says how to get it), or None when left out."""
    if not settings.lpips:
        return None
    device = engine.models.device(settings.device)
    return load_lpips(engine.models.catalog(settings.models), "cuda" if device.device == "cuda" else "cpu")


def _detector(engine, settings: EvalSettings):
    """The catalog's detector, when one is installed (the removal-quality signal), else None."""

    manager = engine.models
    probe = AutoMaskRequest(photo=np.zeros((8, 8, 3), np.uint8), models=settings.models,
                               model_set=settings.model_set, device=settings.device)
    try:
        catalog = manager.catalog(settings.models)
        models = manager.model_set(probe)
        found = find_optional(catalog, models.name, "detector")
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
