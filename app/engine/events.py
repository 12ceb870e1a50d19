"""What a job tells its caller while it runs: started, progress (with a preview), and how it ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Event:
    job_id: int


@dataclass
class Started(Event):
    request: Any


@dataclass
class Progress(Event):
    step: int
    total: int
    message: str = ""
    preview: np.ndarray | None = field(default=None, repr=False)  # small RGB uint8 of the crop
    box: tuple[int, int, int, int] | None = None  # where the preview sits in the photo (x0, y0, x1, y1)
    region: np.ndarray | None = field(default=None, repr=False)  # bool, over the box: the part the job repaints


@dataclass
class Finished(Event):
    result: Any


@dataclass
class Failed(Event):
    message: str
    user_error: bool = False  # bad input or missing model, as opposed to a bug
    missing_model: bool = False  # a model the job needs is not installed (the window offers its Models dialog)


@dataclass
class Cancelled(Event):
    pass
