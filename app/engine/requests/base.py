"""The request every job starts from: the photo, the models and the device, and the job kinds."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import numpy as np

import app.engine.checks as checks

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
    REPAINT = "repaint"
    ROOM3D = "room3d"

    @property
    def generates(self) -> bool:
        """Jobs that make new pictures (results to compare, apply and export)."""
        return self in (JobKind.STAGE, JobKind.DEFURNISH, JobKind.REPAINT)


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


def photo_fields(photo, source) -> dict:
    """The fields every request about one photo shares: its pixels and path (a read photo), and where
    the models come from (`source`: a command's arguments or the batch options)."""
    return dict(photo=photo.pixels, photo_path=str(photo.path) if photo.path else None, models=source.models,
                model_set=source.model_set, device=source.device)


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
