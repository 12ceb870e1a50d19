"""What each job returns (inside its `Finished` event). Arrays are photo-sized, upright pixels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.engine.requests import GenerationRequest


@dataclass
class GenerationResult:
    images: list[np.ndarray]  # full-resolution RGB uint8, one per variation
    seeds: list[int]
    request: GenerationRequest
    mask: np.ndarray  # the final (grown) edit mask, bool, photo-sized
    timings: dict[str, float] = field(default_factory=dict)
    prompts: list[str] = field(default_factory=list)  # per image when a job has several prompts (repaint)


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
    objects: list[MaskObject]  # best first; toggle `selected` and re-combine with `combine_objects`
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


@dataclass
class Room3DResult:
    """World coordinates in metres: Y up, the floor at y = 0, the camera above the origin."""

    vertices: np.ndarray = field(repr=False)  # N x 3 float32
    colors: np.ndarray = field(repr=False)  # N x 3 uint8
    faces: np.ndarray | None = field(repr=False)  # M x 3 int32; None for a point cloud
    pixels: np.ndarray = field(repr=False)  # N x 2 float32: where each vertex is in the photo (x, y)
    measurements: dict[str, Any] = field(default_factory=dict)  # estimates, labelled as such
    timings: dict[str, float] = field(default_factory=dict)
