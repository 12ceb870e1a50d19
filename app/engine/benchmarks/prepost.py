"""Everything around the model on a 24 MP photo: masks, crop, fill, guides, paste-back; reading, exporting
and saving the photo and a project."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PIL import Image

from app import settings
from app.imaging import bundle, compose, guides, masks
from app.imaging.fills import classical_fill
from app.imaging.io import read_photo, write_photo


def bench_prepost(photo: np.ndarray) -> dict:
    """Everything a job does to a 24 MP photo apart from the model itself."""

    h, w = photo.shape[:2]
    mask = np.zeros((h, w), bool)
    mask[int(h * 0.45):int(h * 0.85), int(w * 0.3):int(w * 0.7)] = True  # ~16 % of the frame
    t0 = time.perf_counter()
    edit = masks.grow(mask, masks.scale_px(6, (w, h)))
    edit = edit | masks.margin_ring(edit, masks.scale_px(settings.MARGIN_AT_1024, (w, h)))
    plan = compose.plan_crop(edit, (w, h), native=512, multiple=8)
    crop = compose.extract(photo, plan)
    crop_mask = compose.extract_mask(edit, plan)
    init = classical_fill(crop, crop_mask, "telea")
    guides.canny(init)
    alpha = masks.feather(edit, masks.scale_px(10, (w, h)))
    generated = init[..., ::-1].copy()  # stands in for the model's output
    generated = compose.color_match(generated, crop, crop_mask)
    out = compose.paste_back(photo, generated, plan, alpha)
    total = time.perf_counter() - t0
    unchanged = bool(np.array_equal(out[alpha == 0], photo[alpha == 0]))
    return {"prepost_24mp_s": round(total, 3), "prepost_outside_mask_identical": unchanged}


def bench_io(photo: np.ndarray, folder) -> dict:
    src = Path(folder) / "bench.jpg"
    Image.fromarray(photo).save(src, quality=95)
    t0 = time.perf_counter()
    loaded = read_photo(src)
    t1 = time.perf_counter()
    write_photo(Path(folder) / "bench_out.jpg", loaded.pixels, source=loaded, metadata={"bench": True})
    t2 = time.perf_counter()
    return {"read_24mp_jpeg_s": round(t1 - t0, 3), "write_24mp_jpeg_s": round(t2 - t1, 3)}


def bench_save(photo: np.ndarray, folder) -> dict:
    """Saving a staged photo: the PNG export (the app's encoder, and Pillow's default writer that it
    replaced, for comparison), the TIFF export, and a project holding the photo and one result."""
    folder = Path(folder)
    src = folder / "save-source.jpg"
    Image.fromarray(photo).save(src, quality=95)
    source = read_photo(src)
    h, w = photo.shape[:2]
    mask = np.zeros((h, w), bool)
    mask[int(h * 0.45):int(h * 0.85), int(w * 0.3):int(w * 0.7)] = True
    result = photo.copy()
    result[mask] = result[mask] // 2 + 60  # a repainted area
    out: dict = {}
    for key, name in (("export_png_24mp_s", "export.png"), ("export_tiff_24mp_s", "export.tif")):
        t0 = time.perf_counter()
        write_photo(folder / name, result, source=source, metadata={"bench": True})
        out[key] = round(time.perf_counter() - t0, 3)
    out["export_png_24mp_mb"] = round((folder / "export.png").stat().st_size / 1e6, 1)
    t0 = time.perf_counter()
    Image.fromarray(result).save(folder / "pillow.png")  # what PNG exports cost before the fast encoder
    out["export_png_24mp_pillow_default_s"] = round(time.perf_counter() - t0, 3)
    files = {"photo/save-source.jpg": src, "results/r1.png": result, "results/r1-mask.png": ("mask", mask),
             "results/r1-request-mask.png": ("mask", mask), "mask-1.png": ("mask", mask.astype(np.uint8) * 255)}
    t0 = time.perf_counter()
    bundle.write_zip(files, folder / "bench.rsproj", last={"project.json": b"{}"})
    out["project_save_24mp_s"] = round(time.perf_counter() - t0, 3)
    return out
