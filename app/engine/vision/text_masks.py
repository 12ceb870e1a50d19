"""Text-prompted masks: the "select all: chairs" job, and SAM 3 objects for the automatic furniture masks.

A text-prompted segmenter (SAM 3) is a catalog entry of role "text-segmenter". A model set names
one with `text_segmenter = NAME`; the automatic masks use it only then (one model instead of
Grounding DINO + SAM), while a text selection takes the set's, else any installed one.
Instances become the same `MaskObject`s the detector path makes (label = the phrase, score,
category from the label), so the Auto panel and `combine` work on them unchanged.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from app.engine.automask_labels import FURNITURE, STRUCTURE, classify_label
from app.engine.automask_objects import MAX_BOX_FRACTION, MAX_OBJECTS
from app.engine.detector import cached_model, find_model, require
from app.engine.requests import MaskObject, TextSegmentRequest, TextSegmentResult
from app.engine.vision.sam3 import Sam3Segmenter, load_sam3, sam3_dtype
from app.errors import ModelMissing

log = logging.getLogger(__name__)

SOURCE = "sam3"  # MaskObject.source of what SAM 3 found


# ---- finding and loading the model ---------------------------------------------------


def set_text_model(catalog, set_name: str | None) -> tuple[str, Path] | None:
    """(name, path) of the text segmenter the model set names, when it is installed; else None."""
    spec = catalog.sets.get(set_name or "") or {}
    name = spec.get("text_segmenter")
    if not name or name not in catalog.entries:
        return None
    entry = catalog.entry(name)
    if entry.role != "text-segmenter" or not catalog.is_installed(name):
        log.info("model set '%s' names %s, which is not installed: the detector path is used", set_name, name)
        return None
    return name, entry.local(catalog.root)


def require_text_model(catalog, set_name: str | None) -> tuple[str, Path]:
    """The set's text segmenter, else any installed one; ModelMissing (with how to get one) when none is."""
    return require(find_model(catalog, set_name, "text"), catalog, "text")


def load_text_segmenter(manager, path: Path, device):
    """One loaded SAM 3 per (path, device) on the model manager (counted in its loads)."""

    def build():
        model, processor = load_sam3(path)
        return Sam3Segmenter(model, processor, device.device, sam3_dtype(device.device))

    return cached_model(manager, "sam3", path, device, build)


# ---- instances -> objects ---------------------------------------------------------------


def instance_object(inst, shape: tuple[int, int], **kw) -> MaskObject | None:
    """A SAM 3 instance -> a MaskObject at photo size; None when its mask is empty there."""
    full = inst.mask(shape)
    rows = np.flatnonzero(full.any(axis=1))
    if len(rows) == 0:
        return None
    cols = np.flatnonzero(full.any(axis=0))
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    return MaskObject.from_crop(inst.phrase, inst.score, (x0, y0), full[y0:y1, x0:x1], shape, **kw)


def room_objects(instances, shape: tuple[int, int], keep_structure: bool = False,
                 limit: int = MAX_OBJECTS) -> list[MaskObject]:
    """Instances -> candidate objects for the automatic masks, by the detector path's rules: structure
    labels dropped (unless asked for), whole-room boxes dropped; furniture selected, other labels listed."""
    H, W = shape
    out: list[MaskObject] = []
    for inst in instances:
        category = classify_label(inst.phrase)
        if (category == STRUCTURE) != keep_structure:
            continue
        x0, y0, x1, y1 = inst.box
        if (x1 - x0) * (y1 - y0) > MAX_BOX_FRACTION * W * H:
            continue
        obj = instance_object(inst, shape, category=category, source=SOURCE, selected=category == FURNITURE)
        if obj is not None:
            out.append(obj)
        if len(out) >= limit:
            break
    return out


# ---- the job ------------------------------------------------------------------------------


def run_text_segment(request: TextSegmentRequest, ctx) -> TextSegmentResult:
    """TextSegmentRequest -> every instance of what it names, each a selected MaskObject, and their union."""
    t0 = time.perf_counter()
    request.validate()
    photo = request.photo
    shape = photo.shape[:2]
    device = ctx.models.device(request.device)
    catalog = ctx.models.catalog(request.models)
    set_name = request.model_set
    if set_name is None:
        try:  # the set this machine would use, if any is complete; a text segmenter needs no set
            set_name = ctx.models.model_set(request).name
        except ModelMissing:
            set_name = None
    name, path = require_text_model(catalog, set_name)
    ctx.progress(0, 0, "loading SAM 3")
    segmenter = load_text_segmenter(ctx.models, path, device)
    t1 = time.perf_counter()
    instances = segmenter.find(photo, request.phrases, float(request.threshold), int(request.max_instances),
                               progress=ctx.progress, check_cancel=ctx.check_cancel)
    t2 = time.perf_counter()
    objects = []
    for inst in instances:
        ctx.check_cancel()
        obj = instance_object(inst, shape, category=classify_label(inst.phrase), source=SOURCE, selected=True)
        if obj is not None:
            objects.append(obj)
    mask = np.zeros(shape, bool)
    for obj in objects:
        x0, y0, x1, y1 = obj.box
        mask[y0:y1, x0:x1] |= obj.crop
    message = "" if objects else (f"Nothing matching '{request.text.strip()}' was found in this photo "
                                  f"(SAM 3, score at least {float(request.threshold):g}).")
    return TextSegmentResult(text=request.text, objects=objects, mask=mask, model=name, message=message,
                             timings={"load_s": t1 - t0, "find_s": t2 - t1, "masks_s": time.perf_counter() - t2})
