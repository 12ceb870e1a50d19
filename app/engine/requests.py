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
    # "auto" (every installed model; SAM 3 instead of detector + SAM when the set names one),
    # "detector" (text prompts + SAM), "sam3" (SAM 3 alone), "semantic"
    method: str = "auto"
    prompt: str = ""  # detector / SAM 3 phrases, "sofa . chair . lamp"; "" = the default list for the target
    box_threshold: float = 0.3  # detector / SAM 3: keep objects scoring at least this
    text_threshold: float = 0.25  # detector: a phrase must score at least this to name a box
    margin_px: int | None = None  # furniture: ring around the objects; None scales ~20 px at 1024, 0 = none
    band: float = 0.35  # floor: band above the floor (fraction of the floor's height in the frame); 0 = floor only
    exclude: list[str] = field(default_factory=list)  # labels never selected by default ("rug", "painting")

    kind = "automask"


MAX_PHRASES = 20
MAX_PHRASE_CHARS = 60


def split_phrases(text: str) -> list[str]:
    """ "Chairs, floor lamp . rug" -> ["chairs", "floor lamp", "rug"]: lower case, single spaces, no repeats."""
    out: list[str] = []
    for part in str(text or "").replace(";", ",").replace(".", ",").replace("\n", ",").split(","):
        phrase = " ".join(part.split()).lower()
        if phrase and phrase not in out:
            out.append(phrase)
    return out


@dataclass(kw_only=True)
class TextSegmentRequest(Request):
    """Every instance of what `text` names ("chairs", "floor lamp"; several separated by commas),
    found by a text-prompted segmenter (SAM 3). The result lists the instances and their union."""

    text: str = ""
    threshold: float = 0.5  # keep instances scoring at least this (SAM 3: detection x presence score)
    max_instances: int = 50

    kind = "text_segment"

    @property
    def phrases(self) -> list[str]:
        return split_phrases(self.text)

    def validate(self) -> None:
        """Raise UserError naming the option and the problem; called before the job is queued."""
        from app.errors import UserError

        photo = self.photo
        if not isinstance(photo, np.ndarray) or photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
            shape = getattr(photo, "shape", None)
            raise UserError(f"text selection needs an RGB photo (H x W x 3, 8 bit); got {shape}")
        if min(photo.shape[:2]) < 2:
            raise UserError(f"the photo is too small to select in ({photo.shape[1]}x{photo.shape[0]})")
        phrases = self.phrases
        if not phrases:
            raise UserError("text: name what to select, e.g. 'chairs' or 'sofa, floor lamp'")
        if len(phrases) > MAX_PHRASES:
            raise UserError(f"text: {len(phrases)} things named; at most {MAX_PHRASES} at a time")
        long = next((p for p in phrases if len(p) > MAX_PHRASE_CHARS), None)
        if long is not None:
            raise UserError(f"text: '{long[:40]}...' is too long: name each thing in a few words")
        try:
            threshold = float(self.threshold)
        except (TypeError, ValueError):
            raise UserError(f"threshold: not a number ({self.threshold!r})") from None
        if not np.isfinite(threshold) or not 0.0 <= threshold <= 1.0:
            raise UserError(f"threshold must be between 0 and 1 (got {self.threshold})")
        if isinstance(self.max_instances, bool) or not isinstance(self.max_instances, (int, np.integer)) \
                or not 1 <= int(self.max_instances) <= 500:
            raise UserError(f"max_instances must be a whole number from 1 to 500 (got {self.max_instances!r})")


AnyRequest = (StageRequest | DefurnishRequest | SegmentRequest | EmbedRequest | GuidesRequest | AutoMaskRequest
              | TextSegmentRequest)


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
    source: str = "detector"  # "detector", "sam3", "semantic", "both", "depth"
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


@dataclass
class TextSegmentResult:
    text: str
    objects: list[MaskObject]  # one per instance, best first; `label` is the phrase that found it
    mask: np.ndarray  # bool, photo-sized: the union of the objects
    model: str = ""  # the catalog entry that ran
    message: str = ""  # set when nothing was found (then `mask` is empty)
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
