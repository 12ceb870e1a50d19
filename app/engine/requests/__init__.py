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

import app.engine.checks as checks
from app.engine.requests.analysis import (
    AutoMaskRequest,
    EmbedRequest,
    GuidesRequest,
    Room3DRequest,
    SegmentRequest,
    TextSegmentRequest,
    split_phrases,
)
from app.engine.requests.base import (
    AUTOMASK_METHODS,
    AUTOMASK_TARGETS,
    DEVICES,
    PREFILLS,
    SEED_LIMIT,
    JobKind,
    Request,
    array_digest,
    photo_fields,
)
from app.engine.requests.generation import DefurnishRequest, GenerationRequest, RepaintRequest, StageRequest

REQUEST_TYPES: dict[JobKind, type[Request]] = {
    cls.kind: cls for cls in (StageRequest, DefurnishRequest, SegmentRequest, EmbedRequest, GuidesRequest,
                              AutoMaskRequest, TextSegmentRequest, RepaintRequest, Room3DRequest)
}


def request_type(kind: str) -> type[Request]:
    """The request class of a stored job kind ("stage", ...); InvalidRequest for an unknown one."""
    try:
        return REQUEST_TYPES[JobKind(kind)]
    except ValueError:
        checks.fail("kind", f"is not a known job ({kind!r}; known: {', '.join(k.value for k in JobKind)})")


__all__ = [
    "AUTOMASK_METHODS", "AUTOMASK_TARGETS", "DEVICES", "PREFILLS", "REQUEST_TYPES", "SEED_LIMIT", "AutoMaskRequest",
    "DefurnishRequest", "EmbedRequest", "GenerationRequest", "GuidesRequest", "JobKind", "RepaintRequest", "Request",
    "Room3DRequest", "SegmentRequest", "StageRequest", "TextSegmentRequest", "array_digest", "photo_fields", "request_type",
    "split_phrases",
]
