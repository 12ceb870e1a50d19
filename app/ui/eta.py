"""Time left in a job, from step times measured where the steps happen.

Progress events are stamped on the engine's thread when they are made: the window may
receive several at once after a busy moment, and the gaps between arrivals say nothing
about the sampler's pace. The time up to the first step (loading models, guides, the
first step's warm-up) is left out; the estimate is the mean pace since that first step,
so the pauses between variations (decoding one, preparing the next) are counted too,
and none is shown until a few steps have been measured.
"""

from __future__ import annotations

MIN_STEPS = 3  # steps measured before the first estimate


class StepClock:
    def __init__(self) -> None:
        self._first: tuple[float, int] | None = None
        self._last: tuple[float, int] | None = None

    def add(self, at: float, step: int) -> None:
        """A step event made at time `at` (seconds, any monotonic clock)."""
        if self._last is not None and step < self._last[1]:  # a restart (e.g. retried in a lower memory mode)
            self._first = self._last = None
        if self._first is None:
            self._first = (at, step)
        if self._last is None or step > self._last[1]:
            self._last = (at, step)

    def per_step(self) -> float | None:
        if self._first is None or self._last is None:
            return None
        (t0, s0), (t1, s1) = self._first, self._last
        if s1 - s0 < MIN_STEPS or t1 <= t0:
            return None
        return (t1 - t0) / (s1 - s0)

    def eta(self, total: int, now: float | None = None) -> float | None:
        """Seconds left for `total` steps; with `now`, less the time since the last step."""
        pace = self.per_step()
        if pace is None or total <= 0:
            return None
        left = (total - self._last[1]) * pace
        if now is not None:
            left -= max(0.0, now - self._last[0])
        return max(0.0, left)
