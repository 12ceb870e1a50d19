"""Click selection: the app's SAM path against the bare `SamPredictor.predict` on the same photo,
and the SAM 2.1 Hiera-Tiny backend (the light set's, for CPUs) on the same photo and clicks.

SAM timings use the real architectures with random weights (time does not depend on weight
values); `quick` uses the tiny SAMs for tests."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from app.engine.tiny.models import TINY_SAM_CONFIG
from app.engine.tiny.sam2 import write_tiny_sam2
from app.engine.vision.sam2_backend import Sam2Backend, load_sam2, sam2_model_id
from app.engine.vision.sam_model import build_sam
from app.engine.vision.segmenter import Segmenter


def _time_clicks(embed, click, points: list) -> tuple[float, float]:
    """Seconds for embed(), then the median milliseconds of click(p) over `points`."""
    t0 = time.perf_counter()
    embed()
    embed_s = time.perf_counter() - t0
    ms = []
    for p in points:
        t = time.perf_counter()
        click(p)
        ms.append((time.perf_counter() - t) * 1000)
    return embed_s, statistics.median(ms)


def bench_sam(photo: np.ndarray, quick: bool, clicks: int) -> dict:
    # heavy: loaded on first use, not when the app starts
    import torch
    from segment_anything import SamPredictor

    torch.manual_seed(0)
    sam = build_sam(TINY_SAM_CONFIG if quick else "vit_b")
    h, w = photo.shape[:2]
    rng = np.random.default_rng(1)
    points = [(float(rng.uniform(0, w)), float(rng.uniform(0, h)), True) for _ in range(clicks)]

    seg = Segmenter(sam, "cpu", "bench", cache_dir=None)
    seg.embed(photo[:64, :64].copy())  # one-off set-up paid before either path is timed
    embed_s, app_ms = _time_clicks(lambda: seg.embed(photo), lambda p: seg.segment(photo, [p]), points)
    predictor = SamPredictor(sam)
    bare_embed_s, bare_ms = _time_clicks(
        lambda: predictor.set_image(photo),
        lambda p: predictor.predict(point_coords=np.array([p[:2]]), point_labels=np.array([1]), multimask_output=True),
        points)
    return {
        "sam_model": "tiny" if quick else "vit_b",
        "sam_click_ms": round(app_ms, 2),
        "sam_predict_ms": round(bare_ms, 2),
        "sam_click_ratio": round(app_ms / bare_ms, 3),
        "sam_embed_s": round(embed_s, 3),
        "sam_bare_set_image_s": round(bare_embed_s, 3),
        **_bench_sam2(photo, points, quick),
    }


def _bench_sam2(photo: np.ndarray, points: list, quick: bool) -> dict:
    """The same photo and clicks through SAM 2.1 Hiera-Tiny, built at its real size (1024 px input)
    and loaded through the app's own loader."""
    with tempfile.TemporaryDirectory(prefix="roomstager-bench-sam2-") as tmp:
        folder = write_tiny_sam2(Path(tmp) / "sam2", image_size=256 if quick else 1024, tiny=quick)
        model, processor = load_sam2(folder)
        seg = Segmenter(Sam2Backend(model, processor, "cpu"), "cpu", sam2_model_id(folder), cache_dir=None)
        seg.embed(photo[:64, :64].copy())  # the first call pays one-off set-up
        embed_s, click_ms = _time_clicks(lambda: seg.embed(photo), lambda p: seg.segment(photo, [p]), points)
        params = sum(p.numel() for p in model.parameters()) / 1e6
    return {"sam2_model": "tiny" if quick else "sam2.1-hiera-tiny", "sam2_params_m": round(params, 1),
            "sam2_embed_s": round(embed_s, 3), "sam2_click_ms": round(click_ms, 2)}
