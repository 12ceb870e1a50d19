"""Requests of the jobs that look at the photo: selection, guides, automatic masks, text masks, 3D."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import app.engine.checks as checks
from app.engine.requests.base import (
    AUTOMASK_METHODS,
    AUTOMASK_TARGETS,
    MAX_PHRASE_CHARS,
    MAX_PHRASES,
    JobKind,
    Request,
)


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


@dataclass(kw_only=True)
class Room3DRequest(Request):
    """The room in 3D from one photo: metric depth, camera, floor plane, a coloured mesh or points.
    `result` (same size as the photo) colours the same geometry with a staged / emptied result."""

    result: np.ndarray | None = field(default=None, repr=False)
    focal_35mm: float | None = None  # EXIF FocalLengthIn35mmFilm (or derived); None = the model's estimate
    max_side: int = 768  # the mesh grid's long side in vertices
    points: bool = False  # a point cloud instead of a mesh

    kind = JobKind.ROOM3D

    def check_fields(self) -> None:
        super().check_fields()
        if self.focal_35mm is not None:
            checks.number(self, "focal_35mm", 4.0, 2000.0)
        checks.integer(self, "max_side", 64, 4096)
        checks.boolean(self, "points")

    def check_inputs(self) -> None:
        super().check_inputs()
        if self.result is not None:
            checks.same_photo("result", self.result, self.photo)
