"""Event-loop heartbeat: a fast QTimer measuring the gaps between its own ticks.

A gap much longer than the interval means the GUI thread was busy and the window
did not respond for that long. The longest gap while a job runs is the number
to watch (goal: at most 50 ms)."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer, Signal


class Heartbeat(QObject):
    stall = Signal(float)  # seconds, for gaps over `warn_s`

    def __init__(self, interval_ms: int = 10, warn_s: float = 0.1, parent: QObject | None = None):
        super().__init__(parent)
        self.interval = interval_ms / 1000.0
        self.warn_s = warn_s
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._last: float | None = None
        self.max_gap = 0.0  # seconds, since the last reset (gap beyond the interval)
        self.samples = 0

    def start(self) -> None:
        self._last = None
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self._last = None

    def reset(self) -> None:
        self.max_gap, self.samples, self._last = 0.0, 0, None

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            gap = now - self._last
            self.samples += 1
            if gap > self.max_gap:
                self.max_gap = gap
            if gap > self.warn_s:
                self.stall.emit(gap)
        self._last = now
