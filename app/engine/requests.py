"""The one seam between the engine and its callers: a request per job, events out.

Everything that changes a result lives in the request, so a result can be
reproduced from the request stored beside it (`Request.to_dict`). Arrays are
photo-sized numpy arrays in upright-photo pixels: photos are HxWx3 uint8 RGB,
masks are HxW bool (True = edit).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np


def array_digest(array: np.ndarray) -> str:
    """Content hash of an array: the key for caches and for the stored request."""
    h = hashlib.sha256()
    h.update(str(array.shape).encode())
    h.update(str(array.dtype).encode())
    h.update(np.ascontiguousarray(array).data)
    return h.hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"sha256": array_digest(value), "shape": list(value.shape)}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


@dataclass(kw_only=True)
class Request:
    """Fields every job shares."""

    photo: np.ndarray = field(repr=False)
    photo_path: str | None = None  # for the record only; the pixels are in `photo`
    models: str = "auto"  # the models folder: "auto" (the app's), "tiny" (test models), or a path
    model_set: str | None = None  # "standard", "high", ...; None picks one for the device
    device: str | None = None  # "cpu", "cuda", "mps"; None picks the best available

    kind = "request"

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind}
        for f in dataclasses.fields(self):
            out[f.name] = _jsonable(getattr(self, f.name))
        return out


@dataclass(kw_only=True)
class GenerationRequest(Request):
    """Shared by staging and de-furnishing: sampling and mask handling."""

    mask: np.ndarray | None = field(default=None, repr=False)
    prompt: str = ""
    negative: str = ""
    steps: int = 30
    guidance: float = 7.5
    strength: float = 1.0
    seed: int | None = None  # None draws one; the drawn seed is reported in the result
    variations: int = 1
    grow_px: int | None = None  # None scales a default with the photo size
    feather_px: int | None = None
    canny_low: int = 100
    canny_high: int = 200
    depth_scale: float = 0.5
    canny_scale: float = 0.5
    color_match: bool = True


@dataclass(kw_only=True)
class StageRequest(GenerationRequest):
    """Add furniture. `mask=None` stages the automatic staging area (floor + band)."""

    style: str = "modern"
    room: str = "living_room"
    avoid: list[str] = field(default_factory=list)  # "no X" constraints -> negative prompt
    inpaint_scale: float = 0.0  # > 0 adds the SD1.5 inpaint ControlNet where the set has it
    lora: str | None = None
    lora_scale: float = 0.8

    kind = "stage"


@dataclass(kw_only=True)
class DefurnishRequest(GenerationRequest):
    """Remove what the mask covers and leave an empty room."""

    margin_px: int | None = None  # ring added around objects; None scales ~20 px at 1024
    prefill: str = "telea"  # classical fill of the hole before diffusion: "telea", "ns", "none"
    depth_scale: float = 0.3
    canny_scale: float = 0.6
    lora: str | None = None  # optional de-furnishing LoRA (.safetensors)
    lora_scale: float = 0.8

    kind = "defurnish"


@dataclass(kw_only=True)
class SegmentRequest(Request):
    """Click-to-segment. Points are (x, y, positive) in photo pixels."""

    points: list[tuple[float, float, bool]] = field(default_factory=list)
    box: tuple[float, float, float, float] | None = None
    multimask: bool = True  # ask SAM for 3 candidates and return the best-scored
    mask_index: int | None = None  # pick a candidate explicitly

    kind = "segment"


@dataclass(kw_only=True)
class EmbedRequest(Request):
    """Compute (or fetch from cache) the SAM embedding of a photo ahead of clicks."""

    kind = "embed"


@dataclass(kw_only=True)
class GuidesRequest(Request):
    """What the ControlNets will see: Canny, depth and the staging area."""

    canny_low: int = 100
    canny_high: int = 200

    kind = "guides"


AnyRequest = Union[StageRequest, DefurnishRequest, SegmentRequest, EmbedRequest, GuidesRequest]


# ---- results ---------------------------------------------------------------------


@dataclass
class GenerationResult:
    images: list[np.ndarray]  # full-resolution RGB uint8, one per variation
    seeds: list[int]
    request: GenerationRequest
    mask: np.ndarray  # the final (grown) edit mask, bool, photo-sized
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class SegmentResult:
    mask: np.ndarray  # bool, photo-sized
    scores: list[float]
    chosen: int
    low_res_logits: np.ndarray | None = field(default=None, repr=False)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class EmbedResult:
    key: str
    cached: bool
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class GuidesResult:
    canny: np.ndarray  # HxW uint8
    depth: np.ndarray  # HxW uint8, near = bright
    staging_area: np.ndarray  # HxW bool
    timings: dict[str, float] = field(default_factory=dict)


# ---- events ----------------------------------------------------------------------


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


@dataclass
class Finished(Event):
    result: Any


@dataclass
class Failed(Event):
    message: str
    user_error: bool = False  # bad input or missing model, as opposed to a bug


@dataclass
class Cancelled(Event):
    pass
