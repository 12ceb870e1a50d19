"""The job table: each kind of job, the function that runs it, and its place in the queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.engine.automask.job import run_automask
from app.engine.automask.text_masks import run_text_segment
from app.engine.diffusion.defurnish import run_defurnish
from app.engine.diffusion.repaint import run_repaint
from app.engine.diffusion.staging import run_stage
from app.engine.geometry.room3d import run_room3d
from app.engine.requests import JobKind, Request
from app.engine.vision.jobs import run_embed, run_guides, run_segment
from app.errors import UserError

Handler = Callable[[Any, Any], Any]  # (request, JobContext) -> result

HANDLERS: dict[JobKind, Handler] = {
    JobKind.STAGE: run_stage,
    JobKind.DEFURNISH: run_defurnish,
    JobKind.SEGMENT: run_segment,
    JobKind.EMBED: run_embed,
    JobKind.GUIDES: run_guides,
    JobKind.AUTOMASK: run_automask,
    JobKind.TEXT_SEGMENT: run_text_segment,
    JobKind.REPAINT: run_repaint,
    JobKind.ROOM3D: run_room3d,
}

# Lower runs first. Clicks must not wait behind queued generations.
PRIORITY: dict[JobKind, int] = {
    JobKind.SEGMENT: 0,
    JobKind.EMBED: 1, JobKind.GUIDES: 1, JobKind.AUTOMASK: 1, JobKind.TEXT_SEGMENT: 1,
    JobKind.ROOM3D: 3,
    JobKind.STAGE: 5, JobKind.DEFURNISH: 5, JobKind.REPAINT: 5,
}


def handler_for(request: Request) -> Handler:
    kind = getattr(request, "kind", None)
    try:
        return HANDLERS[kind]
    except KeyError:
        raise UserError(f"the engine does not know the request type {type(request).__name__}") from None
