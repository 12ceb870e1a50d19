"""Timing of the per-job imaging path on a 24 MP photo (not a test; run by hand):

.venv/bin/python -m tests.imaging.bench_compose
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from app.imaging import compose, masks


def main(repeats: int = 3) -> dict[str, float]:
    rng = np.random.default_rng(0)
    W, H = 6000, 4000
    photo = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    mask = np.zeros((H, W), np.uint8)
    cv2.ellipse(mask, (3000, 2600), (1300, 800), 0, 0, 360, 1, -1)  # ~15% of the frame
    mask = mask.astype(bool)
    print(f"mask covers {mask.mean():.1%} of {W}x{H}")
    best: dict[str, float] = {}
    first = None
    for _ in range(repeats):
        t: dict[str, float] = {}

        def lap(name, fn, *a, t=t):
            s = time.perf_counter()
            r = fn(*a)
            t[name] = time.perf_counter() - s
            return r

        grown = lap("grow", masks.grow, mask, masks.scale_px(8, (W, H)))
        alpha = lap("feather", masks.feather, grown, masks.scale_px(8, (W, H)))
        plan = lap("plan_crop", compose.plan_crop, alpha > 0, (W, H))
        crop = lap("extract", compose.extract, photo, plan)
        mcrop = lap("extract_mask", compose.extract_mask, grown, plan)
        gen = (crop.astype(np.int16) + 12).clip(0, 255).astype(np.uint8)  # a "model" with a colour cast
        gen = lap("color_match", compose.color_match, gen, crop, mcrop)
        lap("paste_back", compose.paste_back, photo, gen, plan, alpha)
        for k, v in t.items():
            best[k] = min(best.get(k, 1e9), v)
        if first is None:  # the first round also pays page faults on fresh memory
            first = sum(v for k, v in t.items() if k != "grow")
    core = sum(v for k, v in best.items() if k != "grow")
    for k, v in best.items():
        print(f"{k:13s} {v * 1000:7.1f} ms")
    print(
        f"{'core total':13s} {core * 1000:7.1f} ms  best of {repeats} "
        f"(feather+plan_crop+extract+extract_mask+color_match+paste_back); first round {first * 1000:.0f} ms"
    )
    return best


if __name__ == "__main__":
    main()
