"""The one seam between the engine and its callers: a request per job.

Everything that changes a result lives in the request, so a result can be
reproduced from the request stored beside it (`Request.to_dict`). Arrays are
photo-sized numpy arrays in upright-photo pixels: photos are HxWx3 uint8 RGB,
masks are HxW bool (True = edit).

Every request checks itself with `validate()` before it is queued (the engine's
`submit` calls it), so a job never fails after minutes of work for a reason that
was known at the start. The checks are split in two: `check_fields()` (numbers,
choices, names: no pixels needed) and `check_inputs()` (the photo and mask).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import numpy as np

import app.engine.checks as checks
from app import presets

SEED_LIMIT = 2**32  # seeds (and seed + variation) wrap here


class JobKind(StrEnum):
    """Every kind of job the engine runs. The values are what project files and sidecars store."""

    STAGE = "stage"
    DEFURNISH = "defurnish"
    SEGMENT = "segment"
    EMBED = "embed"
    GUIDES = "guides"
    AUTOMASK = "automask"
    TEXT_SEGMENT = "text_segment"

    @property
    def generates(self) -> bool:
        """Jobs that make new pictures (results to compare, apply and export)."""
        return self in (JobKind.STAGE, JobKind.DEFURNISH)


PREFILLS = ("telea", "ns", "erase", "none")
AUTOMASK_TARGETS = ("furniture", "floor", "structure")
AUTOMASK_METHODS = ("auto", "detector", "sam3", "semantic")
MAX_PHRASES = 20
MAX_PHRASE_CHARS = 60
DEVICES = ("cpu", "cuda", "mps")


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

    kind: ClassVar[JobKind]

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": str(self.kind)}
        for f in dataclasses.fields(self):
            out[f.name] = _jsonable(getattr(self, f.name))
        return out

    # ---- checks -----------------------------------------------------------------

    def validate(self) -> None:
        """Raise `InvalidRequest` (a UserError naming the field) when the job cannot run as asked."""
        self.check_fields()
        self.check_inputs()

    def check_fields(self) -> None:
        checks.text(self, "models", allow_empty=False)
        if self.model_set is not None:
            checks.text(self, "model_set", allow_empty=False)
        if self.device is not None and self.device not in DEVICES and not str(self.device).startswith("cuda:"):
            checks.fail("device", f"must be one of {', '.join(DEVICES)} (got {self.device!r})")

    def check_inputs(self) -> None:
        checks.photo(self.photo)

    @property
    def size(self) -> tuple[int, int]:
        """(w, h) of the photo."""
        return int(self.photo.shape[1]), int(self.photo.shape[0])


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

    def check_fields(self) -> None:
        super().check_fields()
        checks.text(self, "prompt")
        checks.text(self, "negative")
        checks.integer(self, "steps", 1, 500)
        checks.number(self, "guidance", 0.0, 50.0)
        checks.number(self, "strength", 0.0, 1.0, low_open=True)
        if self.seed is not None:
            checks.integer(self, "seed", 0, SEED_LIMIT - 1)
        checks.integer(self, "variations", 1, 16)
        for name in ("grow_px", "feather_px"):
            if getattr(self, name) is not None:
                checks.integer(self, name, 0, 10_000)
        checks.canny(self)
        checks.number(self, "depth_scale", 0.0, 2.0)
        checks.number(self, "canny_scale", 0.0, 2.0)
        checks.boolean(self, "color_match")

    def check_inputs(self) -> None:
        super().check_inputs()
        if self.mask is not None:
            checks.mask(self.mask, self.photo)


@dataclass(kw_only=True)
class StageRequest(GenerationRequest):
    """Add furniture. `mask=None` stages the automatic staging area (floor + band)."""

    style: str = "modern"
    room: str = "living_room"
    avoid: list[str] = field(default_factory=list)  # "no X" constraints -> negative prompt
    inpaint_scale: float = 0.0  # > 0 adds the SD1.5 inpaint ControlNet where the set has it
    lora: str | None = None
    lora_scale: float = 0.8

    kind = JobKind.STAGE

    def check_fields(self) -> None:
        super().check_fields()
        checks.choice_from(self, "style", presets.style)
        checks.choice_from(self, "room", presets.room)
        checks.texts(self, "avoid")
        checks.number(self, "inpaint_scale", 0.0, 2.0)
        checks.lora(self)

    def check_inputs(self) -> None:
        super().check_inputs()
        if self.mask is not None and not self.mask.any():
            checks.fail("mask", "is empty: select the area to furnish")


@dataclass(kw_only=True)
class DefurnishRequest(GenerationRequest):
    """Remove what the mask covers and leave an empty room."""

    margin_px: int | None = None  # ring added around objects; None scales settings.MARGIN_AT_1024
    # Below 1.0 the pre-filled hole seeds the sampler, so the model starts from an empty room
    # rather than from noise where furniture stood.
    strength: float = 0.95
    prefill: str = "telea"  # classical fill of the hole before diffusion: "telea", "ns", "erase", "none"
    depth_scale: float = 0.3
    canny_scale: float = 0.6
    lora: str | None = None  # optional de-furnishing LoRA (.safetensors)
    lora_scale: float = 0.8

    kind = JobKind.DEFURNISH

    def check_fields(self) -> None:
        super().check_fields()
        if self.margin_px is not None:
            checks.integer(self, "margin_px", 0, 10_000)
        checks.choice(self, "prefill", PREFILLS)
        checks.lora(self)

    def check_inputs(self) -> None:
        super().check_inputs()
        if self.mask is None or not self.mask.any():
            checks.fail("mask", "is empty: de-furnishing needs a mask of the objects to remove")


@dataclass(kw_only=True)
class SegmentRequest(Request):
    """Click-to-segment. Points are (x, y, positive) in photo pixels."""

    points: list[tuple[float, float, bool]] = field(default_factory=list)
    box: tuple[float, float, float, float] | None = None
    multimask: bool = True  # ask SAM for 3 candidates and return the best-scored
    mask_index: int | None = None  # pick a candidate explicitly

    kind = JobKind.SEGMENT

    def check_fields(self) -> None:
        super().check_fields()
        if not self.points and self.box is None:
            checks.fail("points", "are missing: give at least one point or a box")
        checks.boolean(self, "multimask")
        if self.mask_index is not None:
            checks.integer(self, "mask_index", 0, 2)

    def check_inputs(self) -> None:
        super().check_inputs()
        checks.points(self.points, self.size)
        if self.box is not None:
            checks.box(self.box, self.size)


@dataclass(kw_only=True)
class EmbedRequest(Request):
    """Compute (or fetch from cache) the SAM embedding of a photo ahead of clicks."""

    kind = JobKind.EMBED


@dataclass(kw_only=True)
class GuidesRequest(Request):
    """What the ControlNets will see: Canny, depth and the staging area."""

    canny_low: int = 100
    canny_high: int = 200

    kind = JobKind.GUIDES

    def check_fields(self) -> None:
        super().check_fields()
        checks.canny(self)


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

    kind = JobKind.AUTOMASK

    def check_fields(self) -> None:
        super().check_fields()
        checks.choice(self, "target", AUTOMASK_TARGETS)
        checks.choice(self, "method", AUTOMASK_METHODS)
        checks.text(self, "prompt")
        checks.number(self, "box_threshold", 0.0, 1.0)
        checks.number(self, "text_threshold", 0.0, 1.0)
        if self.margin_px is not None:
            checks.integer(self, "margin_px", 0, 10_000)
        checks.number(self, "band", 0.0, 1.0)
        checks.texts(self, "exclude")


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

    kind = JobKind.TEXT_SEGMENT

    @property
    def phrases(self) -> list[str]:
        return split_phrases(self.text)

    def check_fields(self) -> None:
        super().check_fields()
        checks.text(self, "text")
        phrases = self.phrases
        if not phrases:
            checks.fail("text", "names nothing: name what to select, e.g. 'chairs' or 'sofa, floor lamp'")
        if len(phrases) > MAX_PHRASES:
            checks.fail("text", f"names {len(phrases)} things; at most {MAX_PHRASES} at a time")
        long = next((p for p in phrases if len(p) > MAX_PHRASE_CHARS), None)
        if long is not None:
            checks.fail("text", f"'{long[:40]}...' is too long: name each thing in a few words")
        checks.number(self, "threshold", 0.0, 1.0)
        checks.integer(self, "max_instances", 1, 500)


REQUEST_TYPES: dict[JobKind, type[Request]] = {
    cls.kind: cls for cls in (StageRequest, DefurnishRequest, SegmentRequest, EmbedRequest, GuidesRequest,
                              AutoMaskRequest, TextSegmentRequest)
}


def request_type(kind: str) -> type[Request]:
    """The request class of a stored job kind ("stage", ...); InvalidRequest for an unknown one."""
    try:
        return REQUEST_TYPES[JobKind(kind)]
    except ValueError:
        checks.fail("kind", f"is not a known job ({kind!r}; known: {', '.join(k.value for k in JobKind)})")
