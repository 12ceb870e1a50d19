"""The time left in a job: from the engine's own step times, never from the first step alone."""

from __future__ import annotations

import numpy as np

from app.engine import Progress, StageRequest
from app.ui.engine_client import EngineClient, JobHandle
from app.ui.eta import MIN_STEPS, StepClock


def test_no_estimate_until_a_few_steps_are_measured_and_the_warm_up_is_left_out():
    clock = StepClock()
    clock.add(30.0, 1)  # 30 s of loading and a slow first step
    assert clock.eta(20) is None
    for step in range(2, 2 + MIN_STEPS):
        clock.add(30.0 + 2.0 * (step - 1), step)
    assert clock.per_step() == 2.0
    assert clock.eta(20) == (20 - (1 + MIN_STEPS)) * 2.0


def test_pauses_between_variations_count_and_a_restart_starts_over():
    clock = StepClock()
    for step in range(1, 11):  # variation 1: 1 s per step
        clock.add(float(step), step)
    for step in range(11, 21):  # decoding and preparing variation 2 took 10 s
        clock.add(20.0 + step - 11, step)
    assert abs(clock.per_step() - (29.0 - 1.0) / 19) < 1e-9
    clock.add(100.0, 1)  # retried a memory tier lower: counting begins again
    assert clock.per_step() is None


def test_a_job_handle_uses_when_events_were_made_not_when_they_arrived(qapp):
    client = EngineClient(lambda: None)
    handle = JobHandle(client, 1, StageRequest(photo=np.zeros((8, 8, 3), np.uint8)), "Staging")
    made = [(1, 10.0), (2, 13.0), (3, 16.0), (4, 19.0), (5, 22.0)]
    for step, at in made:  # all delivered at once after a busy moment of the window
        handle._on_event(Progress(1, step, 30), at)
    assert handle.clock.per_step() == 3.0
    left = handle.clock.eta(30)
    assert left == 25 * 3.0  # 75 s, where the arrival times would have said about 0
