"""Whole jobs with the tiny models: the first (with loading) and later ones, and what a second job loads."""

from __future__ import annotations

import time

import numpy as np

from app.engine.benchmarks.scenes import synthetic_room
from app.engine.requests import DefurnishRequest, StageRequest
from app.engine.worker import Engine


def bench_jobs() -> dict:
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
        engine.run(DefurnishRequest(photo=photo, mask=mask, models="tiny", model_set="tiny", steps=4, seed=3))
        return {"tiny_stage_first_s": round(first, 3), "tiny_stage_s": round(second, 3),
                "first_job_loads": loads_after_first,
                "second_job_loads": engine.models.loads - loads_after_first}
    finally:
        engine.shutdown()
