"""Moving model bytes with progress: the progress events and their meter, cancel, disk-space
checks, and hashing while reading or copying. Shared by downloads, hub installs and imports."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.errors import JobCancelled, UserError

CHUNK = 1 << 20
DISK_MARGIN = 256 * 1024**2  # keep this much free after a download


# ---- progress --------------------------------------------------------------------


def human_bytes(n: float | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def human_time(s: float | None) -> str:
    if s is None:
        return "?"
    s = int(round(s))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


@dataclass
class DownloadProgress:
    name: str  # the catalog entry
    done: int  # bytes on disk for this entry so far (resumed bytes included)
    total: int | None
    speed: float  # bytes per second over the last seconds
    eta: float | None  # seconds left
    file: str = ""
    message: str = ""

    @property
    def fraction(self) -> float | None:
        return None if not self.total else min(1.0, self.done / self.total)

    def text(self) -> str:
        if self.message:
            return f"{self.name}: {self.message}"
        parts = [f"{human_bytes(self.done)} of {human_bytes(self.total)}" if self.total else human_bytes(self.done)]
        if self.speed > 0:
            parts.append(f"{human_bytes(self.speed)}/s")
        if self.eta is not None:
            parts.append(f"{human_time(self.eta)} left")
        return f"{self.name}: " + " · ".join(parts)


ProgressFn = Callable[[DownloadProgress], None]


class DownloadCancelled(JobCancelled):
    """The user cancelled; what was downloaded so far is kept for a resume."""


class ChecksumMismatch(UserError):
    """The file downloaded is not the one the catalog names; nothing was installed."""


class Meter:
    """Bytes -> throttled DownloadProgress events with a smoothed speed and a time left."""

    def __init__(self, name: str, total: int | None, done: int, progress: ProgressFn | None,
                 cancel: threading.Event | None, interval: float = 0.1):
        self.name, self.total, self.done = name, total, done
        self.progress, self.cancel, self.interval = progress, cancel, interval
        self.file = ""
        self._t0 = self._last_emit = time.monotonic()
        self._window: list[tuple[float, int]] = [(self._t0, done)]
        self.speed = 0.0

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise DownloadCancelled(f"download of '{self.name}' cancelled")

    def add(self, n: int) -> None:
        self.check()
        self.done += n
        now = time.monotonic()
        if now - self._last_emit >= self.interval:
            self.emit(now)

    def emit(self, now: float | None = None, message: str = "") -> None:
        now = now or time.monotonic()
        self._last_emit = now
        self._window.append((now, self.done))
        while len(self._window) > 2 and now - self._window[0][0] > 5.0:
            self._window.pop(0)
        (t0, d0), (t1, d1) = self._window[0], self._window[-1]
        if t1 > t0:
            self.speed = (d1 - d0) / (t1 - t0)
        eta = None
        if self.total and self.speed > 0:
            eta = max(0.0, (self.total - self.done) / self.speed)
        if self.progress is not None:
            self.progress(DownloadProgress(self.name, self.done, self.total, self.speed, eta, self.file, message))


# ---- disk space ------------------------------------------------------------------


def free_bytes(path: Path) -> int:
    p = Path(path)
    while not p.exists() and p.parent != p:
        p = p.parent
    return shutil.disk_usage(p).free


def check_disk_space(path: Path, needed: int | None, what: str) -> None:
    if not needed or needed <= 0:
        return
    free = free_bytes(path)
    if needed + DISK_MARGIN > free:
        raise UserError(
            f"not enough free disk space for {what}: it needs {human_bytes(needed)} and "
            f"{human_bytes(free)} is free on the drive of {path}. Free some space or point the app at a models "
            f"folder on another drive (--models DIR or ROOMSTAGER_MODELS)."
        )


def sha256_file(path: Path, meter: Meter | None = None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            if meter is not None:
                meter.add(len(chunk))
    return h.hexdigest()


def copy_hashed(src: Path, dest: Path, meter: Meter) -> str:
    """Copy `src` to `dest` (flushed to disk) with progress and cancel; returns the SHA-256 of the bytes."""
    h = hashlib.sha256()
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        while chunk := fin.read(CHUNK):
            meter.check()
            fout.write(chunk)
            h.update(chunk)
            meter.add(len(chunk))
        fout.flush()
        os.fsync(fout.fileno())
    return h.hexdigest()
