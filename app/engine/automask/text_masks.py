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

from app.engine.automask.objects import MAX_BOX_FRACTION, MAX_OBJECTS
from app.engine.models.optional import require_optional
from app.engine.requests import TextSegmentRequest
from app.engine.results import MaskObject, TextSegmentResult
from app.engine.vision.labels import FURNITURE, STRUCTURE, classify_label
from app.engine.vision.sam3 import Sam3Segmenter, load_sam3, sam3_dtype
from app.engine.vision.segmenter import upscale_window
from app.errors import ModelMissing

log = logging.getLogger(__name__)

SOURCE = "sam3"  # MaskObject.source of what SAM 3 found
# On a CPU the real SAM 3 (3.4 GB) takes minutes per photo and ~20 s per phrase (measured on 2 cores):
# the automatic masks' ~20 furniture words would take many minutes, so there the detector path stays
# (unless asked for by name). A text selection is one or two words, and the user asked for it.
CPU_MAX_WEIGHT_BYTES = 2**30


# ---- finding and loading the model ---------------------------------------------------


def weight_bytes(path: Path) -> int:
    path = Path(path)
    files = [path] if path.is_file() else list(path.glob("*.safetensors"))
    return sum(f.stat().st_size for f in files if f.is_file())


def set_text_model(catalog, set_name: str | None, device: str | None = None) -> tuple[str, Path] | None:
    """(name, path) of the text segmenter the model set names, when it is installed (and, on a CPU,
    small enough to answer in seconds); else None."""
    spec = catalog.sets.get(set_name or "") or {}
    name = spec.get("text_segmenter")
    if not name or name not in catalog.entries:
        return None
    entry = catalog.entry(name)
    if entry.role != "text-segmenter" or not catalog.is_installed(name):
        log.info("model set '%s' names %s, which is not installed: the detector path is used", set_name, name)
        return None
    path = entry.local(catalog.root)
    if device == "cpu" and weight_bytes(path) > CPU_MAX_WEIGHT_BYTES:
        log.info("%s is too slow on a CPU for the automatic masks: the detector path is used", name)
        return None
    return name, path


def require_text_model(catalog, set_name: str | None) -> tuple[str, Path]:
    """The set's text segmenter, else any installed one; ModelMissing (with how to get one) when none is."""
    return require_optional(catalog, set_name, "text")


def load_text_segmenter(manager, path: Path, device):
    """One loaded SAM 3 per (path, device) on the model manager (counted in its loads)."""

    def build():
        model, processor = load_sam3(path)
        return Sam3Segmenter(model, processor, device.device, sam3_dtype(device.device))

    return manager.cached("sam3", path, device, build)


# ---- instances -> objects ---------------------------------------------------------------


def instance_object(inst, shape: tuple[int, int], **kw) -> MaskObject | None:
    """A SAM 3 instance -> a MaskObject at photo size; None when its mask is empty there.

    Only the window around the instance's positive logits is made at photo size, never the whole
    24 MP frame."""
    H, W = shape
    found = upscale_window(inst.logits, shape)
    if found is None:
        return None
    x0, y0, window = found
    # tighten with row / column scans: np.nonzero (MaskObject.from_crop) costs ~0.3 s on a 15 MP object
    ys = np.flatnonzero(window.any(axis=1))
    if len(ys) == 0:
        return None
    xs = np.flatnonzero(window.any(axis=0))
    crop = np.ascontiguousarray(window[ys[0]:ys[-1] + 1, xs[0]:xs[-1] + 1])
    box = (x0 + int(xs[0]), y0 + int(ys[0]), x0 + int(xs[-1]) + 1, y0 + int(ys[-1]) + 1)
    return MaskObject(inst.phrase, float(inst.score), box, crop, (int(H), int(W)), **kw)


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
