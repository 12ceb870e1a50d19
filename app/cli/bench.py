"""`bench`: the speed and load-count numbers, measured on this machine.

SAM timings use the real ViT-B architecture with random weights (time does
not depend on weight values) on a synthetic 24 MP photo; the app's click path
is measured against the bare `SamPredictor.predict` on the same photo in the
same run.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

from app.cli.bench_train import bench_training
from app.cli.common import emit_json


def register(sub) -> None:
    p = sub.add_parser("bench", help="measure click, pre/post-processing and job speed")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quick", action="store_true", help="tiny SAM and fewer repeats (for tests)")
    p.add_argument("--clicks", type=int, default=15)
    p.set_defaults(run=run_bench)


def synthetic_room(w: int, h: int, seed: int = 0) -> np.ndarray:
    """A room-like photo: wall, floor, a few boxes, fine noise (so JPEG and SAM see texture)."""
    import cv2

    rng = np.random.default_rng(seed)
    img = np.empty((h, w, 3), np.uint8)
    img[: int(h * 0.6)] = (205, 198, 186)
    img[int(h * 0.6):] = (128, 96, 70)
    for _ in range(6):
        x, y = int(rng.integers(0, w * 0.8)), int(rng.integers(h * 0.4, h * 0.8))
        cv2.rectangle(img, (x, y), (x + w // 8, y + h // 8), tuple(int(c) for c in rng.integers(20, 230, 3)), -1)
    noise = rng.integers(-6, 7, (h // 4, w // 4, 1), dtype=np.int16)
    noise = cv2.resize(noise.astype(np.float32), (w, h))[..., None]
    return np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def bench_sam(photo: np.ndarray, quick: bool, clicks: int) -> dict:
    import torch
    from segment_anything import SamPredictor

    from app.engine.sam_model import build_sam
    from app.engine.segmenter import Segmenter
    from app.engine.tiny import TINY_SAM_CONFIG

    torch.manual_seed(0)
    sam = build_sam(TINY_SAM_CONFIG if quick else "vit_b")
    h, w = photo.shape[:2]
    rng = np.random.default_rng(1)
    points = [(float(rng.uniform(0, w)), float(rng.uniform(0, h)), True) for _ in range(clicks)]

    seg = Segmenter(sam, "cpu", "bench", cache_dir=None)
    t0 = time.perf_counter()
    seg.embed(photo)
    embed_s = time.perf_counter() - t0
    app_ms = []
    for p in points:
        t = time.perf_counter()
        seg.segment(photo, [p])
        app_ms.append((time.perf_counter() - t) * 1000)

    predictor = SamPredictor(sam)
    t0 = time.perf_counter()
    predictor.set_image(photo)
    bare_embed_s = time.perf_counter() - t0
    bare_ms = []
    for x, y, _ in points:
        t = time.perf_counter()
        predictor.predict(point_coords=np.array([[x, y]]), point_labels=np.array([1]), multimask_output=True)
        bare_ms.append((time.perf_counter() - t) * 1000)
    return {
        "sam_model": "tiny" if quick else "vit_b",
        "sam_click_ms": round(statistics.median(app_ms), 2),
        "sam_predict_ms": round(statistics.median(bare_ms), 2),
        "sam_click_ratio": round(statistics.median(app_ms) / statistics.median(bare_ms), 3),
        "sam_embed_s": round(embed_s, 3),
        "sam_bare_set_image_s": round(bare_embed_s, 3),
    }


def bench_prepost(photo: np.ndarray) -> dict:
    """Everything a job does to a 24 MP photo apart from the model itself."""
    from app.engine.inpaint import _prefill
    from app.imaging import compose, guides, masks

    h, w = photo.shape[:2]
    mask = np.zeros((h, w), bool)
    mask[int(h * 0.45):int(h * 0.85), int(w * 0.3):int(w * 0.7)] = True  # ~16 % of the frame
    t0 = time.perf_counter()
    edit = masks.grow(mask, masks.scale_px(6, (w, h)))
    edit = edit | masks.margin_ring(edit, masks.scale_px(20, (w, h)))
    plan = compose.plan_crop(edit, (w, h), native=512, multiple=8)
    crop = compose.extract(photo, plan)
    crop_mask = compose.extract_mask(edit, plan)
    init = _prefill(crop, crop_mask, "telea")
    guides.canny(init)
    alpha = masks.feather(edit, masks.scale_px(10, (w, h)))
    generated = init[..., ::-1].copy()  # stands in for the model's output
    generated = compose.color_match(generated, crop, crop_mask)
    out = compose.paste_back(photo, generated, plan, alpha)
    total = time.perf_counter() - t0
    unchanged = bool(np.array_equal(out[alpha == 0], photo[alpha == 0]))
    return {"prepost_24mp_s": round(total, 3), "prepost_outside_mask_identical": unchanged}


def bench_io(photo: np.ndarray, folder) -> dict:
    from pathlib import Path

    from PIL import Image

    from app.imaging.io import read_photo, write_photo

    src = Path(folder) / "bench.jpg"
    Image.fromarray(photo).save(src, quality=95)
    t0 = time.perf_counter()
    loaded = read_photo(src)
    t1 = time.perf_counter()
    write_photo(Path(folder) / "bench_out.jpg", loaded.pixels, source=loaded, metadata={"bench": True})
    t2 = time.perf_counter()
    return {"read_24mp_jpeg_s": round(t1 - t0, 3), "write_24mp_jpeg_s": round(t2 - t1, 3)}


def bench_jobs() -> dict:
    from app.engine.requests import StageRequest
    from app.engine.worker import Engine

    photo = synthetic_room(1600, 1067, seed=2)
    mask = np.zeros(photo.shape[:2], bool)
    mask[600:950, 500:1100] = True
    engine = Engine(models="tiny", device="cpu")
    try:
        t0 = time.perf_counter()
        engine.run(StageRequest(photo=photo, mask=mask, models="tiny", model_set="tiny", steps=4, seed=1))
        first = time.perf_counter() - t0
        loads_after_first = engine.models.loads
        t0 = time.perf_counter()
        engine.run(StageRequest(photo=photo, mask=mask, models="tiny", model_set="tiny", steps=4, seed=2,
                                style="industrial"))
        second = time.perf_counter() - t0
        from app.engine.requests import DefurnishRequest

        engine.run(DefurnishRequest(photo=photo, mask=mask, models="tiny", model_set="tiny", steps=4, seed=3))
        return {"tiny_stage_first_s": round(first, 3), "tiny_stage_s": round(second, 3),
                "first_job_loads": loads_after_first,
                "second_job_loads": engine.models.loads - loads_after_first}
    finally:
        engine.shutdown()


def run_bench(args) -> int:
    import tempfile

    import torch

    torch.set_grad_enabled(False)
    results: dict = {"torch_threads": torch.get_num_threads()}
    w, h = (1200, 800) if args.quick else (6000, 4000)
    photo = synthetic_room(w, h)
    steps = [("sam", lambda: bench_sam(photo, args.quick, 3 if args.quick else args.clicks)),
             ("prepost", lambda: bench_prepost(photo)),
             ("jobs", bench_jobs),
             ("training", lambda: bench_training(args.quick, synthetic_room))]
    with tempfile.TemporaryDirectory() as tmp:
        steps.insert(2, ("io", lambda: bench_io(photo, tmp)))
        for name, fn in steps:
            print(f"bench: {name} ...", file=sys.stderr)
            results.update(fn())
    results["photo"] = f"{w}x{h}"
    if args.json:
        emit_json(results)
    else:
        for k, v in results.items():
            print(f"{k:32s} {v}")
    return 0
