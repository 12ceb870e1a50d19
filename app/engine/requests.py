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
from typing import Any

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
    steps: int | None = 30  # None: the model set's preset
    guidance: float | None = 7.5  # None: the model set's preset (FLUX Fill: 30, Z-Image Turbo: 0)
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
    fast: bool = False  # the set's fast mode: step-distillation LoRA, few steps, low guidance


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
    # Below 1.0 the pre-filled hole seeds the sampler, so the model starts from an empty room
    # rather than from noise where furniture stood.
    strength: float = 0.95
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


@dataclass(kw_only=True)
class AutoMaskRequest(Request):
    """Automatic masks: furniture objects to remove, the floor / staging area, or the room's structure.

    The result lists objects (label, score, mask) the user toggles one by one; its
    `mask` is the default selection plus the margin ring (for furniture)."""

    target: str = "furniture"  # "furniture", "floor" or "structure"
    method: str = "auto"  # "auto" (every installed model), "detector" (text prompts + SAM), "semantic"
    prompt: str = ""  # detector phrases, "sofa . chair . lamp"; "" = the default list for the target
    box_threshold: float = 0.3  # detector: keep boxes scoring at least this
    text_threshold: float = 0.25  # detector: a phrase must score at least this to name a box
    margin_px: int | None = None  # furniture: ring around the objects; None scales ~20 px at 1024, 0 = none
    band: float = 0.35  # floor: band above the floor (fraction of the floor's height in the frame); 0 = floor only
    exclude: list[str] = field(default_factory=list)  # labels never selected by default ("rug", "painting")

    kind = "automask"


AnyRequest = StageRequest | DefurnishRequest | SegmentRequest | EmbedRequest | GuidesRequest | AutoMaskRequest


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


@dataclass(eq=False)
class MaskObject:
    """One automatically found object. The mask is stored as its box and the crop inside it,
    so forty objects on a 24 MP photo cost megabytes, not gigabytes; `.mask` expands it."""

    label: str
    score: float
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive) in photo pixels
    crop: np.ndarray = field(repr=False)  # bool, the mask inside `box`
    shape: tuple[int, int]  # (h, w) of the photo
    category: str = "furniture"  # "furniture", "other" (listed, not selected), "structure", "floor"
    source: str = "detector"  # "detector", "semantic", "both", "depth"
    selected: bool = True  # part of the default selection
    note: str = ""  # e.g. "fitted?" for a cabinet touching a countertop

    @property
    def mask(self) -> np.ndarray:
        out = np.zeros(self.shape, bool)
        x0, y0, x1, y1 = self.box
        out[y0:y1, x0:x1] = self.crop
        return out

    @property
    def area(self) -> int:
        return int(self.crop.sum())

    @classmethod
    def from_crop(cls, label, score, box, crop, shape, **kw) -> MaskObject | None:
        """Tightens the box to the crop's pixels; None when the crop is empty."""
        ys, xs = np.nonzero(crop)
        if len(xs) == 0:
            return None
        x0, y0 = int(box[0]), int(box[1])
        bx0, bx1, by0, by1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
        tight = np.ascontiguousarray(crop[by0:by1, bx0:bx1], dtype=bool)
        return cls(str(label), float(score), (x0 + bx0, y0 + by0, x0 + bx1, y0 + by1), tight,
                   (int(shape[0]), int(shape[1])), **kw)

    @classmethod
    def from_mask(cls, label, score, mask, **kw) -> MaskObject | None:
        m = np.asarray(mask, bool)
        return cls.from_crop(label, score, (0, 0), m, m.shape[:2], **kw)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": round(float(self.score), 4), "box": list(self.box),
                "area": self.area, "category": self.category, "source": self.source,
                "selected": self.selected, "note": self.note}


@dataclass
class AutoMaskResult:
    target: str
    objects: list[MaskObject]  # best first; toggle `selected` and re-combine with engine.automask_objects.combine
    mask: np.ndarray  # bool, photo-sized: the default selection (+ margin ring for furniture)
    margin_px: int = 0  # the ring included in `mask`
    message: str = ""  # set when nothing was found: then `mask` is empty, never the whole photo
    protected: np.ndarray | None = field(default=None, repr=False)  # hard structure the ring never covers
    models: list[str] = field(default_factory=list)  # which models ran
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return bool(self.objects)


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
    box: tuple[int, int, int, int] | None = None  # where the preview sits in the photo (x0, y0, x1, y1)


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
