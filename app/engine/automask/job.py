"""Automatic masks that understand a room: furniture objects, protected structure, floor.

The engine job (run_automask): the detector and the semantic segmenter turn a photo
into detections and a label map; the pure logic on numpy arrays (no torch, no models)
in vision.labels, automask.objects and automask.floor decides
what those mean for a room photo. So that logic is tested with hand-made label maps
and detections, and the UI can re-combine a selection (toggle an object, change the
margin) without a round trip to the engine.

Rules
- Class lists are resolved by label *name* from the model's own `id2label`
  (any index base, synonyms "windowpane;window", stray spaces "bed "), never by
  a hard-coded index.
- Structure (walls, floor, ceiling, windows, doors, radiators, stairs, columns,
  built-in fixtures, light fixtures, curtains and what is seen through windows)
  is never selected for removal; the user can still add it by hand.
- Each removed object gets a margin ring (default settings.MARGIN_AT_1024 at a 1024 px long side,
  scaled with the photo) so its shadow and contact marks go too; the ring never
  eats into windows, doors and other hard structure.
- When nothing is found the selection is empty and a message says so: there is
  never a whole-photo fallback.
"""

from __future__ import annotations

import time

import numpy as np

from app.engine.automask.floor import staging_area_from
from app.engine.automask.objects import (
    combine,
    default_margin,
    filter_detections,
    finalize_objects,
    nothing_found_message,
    objects_from_segmentation,
    structure_mask,
    structure_objects,
)
from app.engine.automask.text_masks import load_text_segmenter, room_objects, set_text_model
from app.engine.models.optional import find_optional, missing_optional_message, require_optional
from app.engine.requests import AutoMaskRequest, array_digest
from app.engine.results import AutoMaskResult, MaskObject
from app.engine.vision.depth import depth_of_small_copy
from app.engine.vision.detections import SegMap, upscale_mask
from app.engine.vision.detector import load_detector, parse_phrases, segment_boxes
from app.engine.vision.labels import (
    DEFAULT_FURNITURE_QUERY,
    DEFAULT_STRUCTURE_QUERY,
    FURNITURE,
    STRUCTURE,
    classify_label,
    label_names,
)
from app.engine.vision.sam_loader import segmenter_for
from app.engine.vision.semantic import load_semantic
from app.errors import ModelMissing, UserError
from app.imaging import guides


def run_automask(request: AutoMaskRequest, ctx) -> AutoMaskResult:
    """AutoMaskRequest -> AutoMaskResult (see the module docstring for the rules)."""
    t0 = time.perf_counter()
    photo = request.photo
    H, W = photo.shape[:2]
    shape = (H, W)
    device = ctx.models.device(request.device)
    models = ctx.models.model_set(request)
    catalog = ctx.models.catalog(request.models)
    key = array_digest(photo)
    job = _Job(ctx, request, models, catalog, device, photo, key)
    timings: dict[str, float] = {}

    if request.target == "furniture":
        objects, seg = job.furniture()
        exclude = [label_names(e)[0] for e in request.exclude if label_names(e)]
        for obj in objects:
            if any(e in label_names(obj.label) or e == obj.label.split()[-1] for e in exclude):
                obj.selected = False
        protected = structure_mask(seg, shape, hard_only=True) if seg is not None else None
        margin = default_margin((W, H)) if request.margin_px is None else max(0, int(request.margin_px))
        mask = combine(objects, shape, margin, protected)
        message = ""
        if not objects:
            message = nothing_found_message("furniture", job.used)
        elif not mask.any():
            message = (f"Found {len(objects)} object(s), none selected: tick the ones to remove "
                       f"({', '.join(o.label for o in objects[:6])}).")
        result = AutoMaskResult("furniture", objects, mask, margin, message, protected, job.used, timings)
    elif request.target == "structure":
        objects, seg = job.structure()
        mask = np.zeros(shape, bool)
        for obj in objects:
            x0, y0, x1, y1 = obj.box
            mask[y0:y1, x0:x1] |= obj.crop
        message = "" if objects else nothing_found_message("structure", job.used)
        protected = structure_mask(seg, shape, hard_only=True) if seg is not None else None
        result = AutoMaskResult("structure", objects, mask, 0, message, protected, job.used, timings)
    else:
        objects, seg = job.floor()
        mask = np.zeros(shape, bool)
        for obj in objects:
            x0, y0, x1, y1 = obj.box
            mask[y0:y1, x0:x1] |= obj.crop
        message = "" if mask.any() else nothing_found_message("floor", job.used)
        result = AutoMaskResult("floor", objects, mask, 0, message, None, job.used, timings)
    timings.update(job.timings)
    timings["automask_s"] = time.perf_counter() - t0
    return result


class _Job:
    """The models one automatic-mask job may use, each loaded (once per manager) on first use."""

    def __init__(self, ctx, request, models, catalog, device, photo, key):
        self.ctx, self.request, self.models, self.catalog = ctx, request, models, catalog
        self.device, self.photo, self.key = device, photo, key
        self.used: list[str] = []
        self.timings: dict[str, float] = {}

    def _available(self, kind: str):
        """(name, path) of the `kind` model when the method uses it: optional for "auto",
        required (ModelMissing with how to get it) when the method names it. A text segmenter
        (SAM 3, kind "text") is used by "auto" only when the model set names it."""
        method = self.request.method
        if kind == "text":
            if method == "auto":
                return set_text_model(self.catalog, self.models.name, self.device.device)
            return require_optional(self.catalog, self.models.name, "text") if method == "sam3" else None
        if method == "auto":
            try:
                return find_optional(self.catalog, self.models.name, kind)
            except ModelMissing:  # named by the set but not installed: the other model may do
                return None
        if method == kind:
            return require_optional(self.catalog, self.models.name, kind)
        return None

    def semantic(self) -> SegMap | None:
        found = self._available("semantic")
        if found is None:
            return None
        name, path = found
        self.ctx.progress(0, 0, "recognising the room (semantic segmentation)")
        t = time.perf_counter()
        seg = load_semantic(self.ctx.models, path, self.device).predict(self.photo, key=self.key)
        self.timings["semantic_s"] = time.perf_counter() - t
        self.used.append(name)
        return seg

    def detections(self, phrases, keep_structure: bool) -> list[MaskObject]:
        """Detector boxes -> SAM masks (clipped to the box plus a little) -> candidate objects;
        SAM 3's instances instead when the set has it (one model instead of two)."""
        if self._available("text") is not None:
            return self.text_instances(phrases, keep_structure)
        found = self._available("detector")
        if found is None:
            return []
        name, path = found
        self.ctx.progress(0, 0, "finding objects (detector)")
        t = time.perf_counter()
        detector = load_detector(self.ctx.models, path, self.device)
        dets = detector.detect(self.photo, phrases, self.request.box_threshold, self.request.text_threshold)
        dets = filter_detections(dets, self.photo.shape[:2], keep_structure=keep_structure)
        self.timings["detect_s"] = time.perf_counter() - t
        self.used.append(name)
        if not dets:
            return []
        t = time.perf_counter()
        segmenter = segmenter_for(self.ctx.models, self.models, self.device)
        H, W = self.photo.shape[:2]
        self.ctx.progress(0, len(dets), f"outlining {len(dets)} object(s)")
        sam_masks = segment_boxes(segmenter, self.photo, [d.box for d in dets],
                                  progress=lambda i, n: self.ctx.progress(i, n, f"outlining objects ({i}/{n})"))
        out = []
        for d, full in zip(dets, sam_masks, strict=True):
            x0, y0, x1, y1 = d.box
            px, py = 0.05 * (x1 - x0) + 2, 0.05 * (y1 - y0) + 2  # SAM may bleed past its box: not far
            bx0, by0 = max(0, int(x0 - px)), max(0, int(y0 - py))
            bx1, by1 = min(W, int(np.ceil(x1 + px))), min(H, int(np.ceil(y1 + py)))
            category = classify_label(d.label)
            obj = MaskObject.from_crop(d.label, d.score, (bx0, by0), full[by0:by1, bx0:bx1], (H, W),
                                       category=category, source="detector", selected=category == FURNITURE)
            if obj is not None:
                out.append(obj)
        self.timings["sam_s"] = time.perf_counter() - t
        return out

    def text_instances(self, phrases, keep_structure: bool) -> list[MaskObject]:
        """SAM 3: every instance of every phrase, with its own mask -> candidate objects."""
        name, path = self._available("text")
        t = time.perf_counter()
        segmenter = load_text_segmenter(self.ctx.models, path, self.device)
        found = segmenter.find(self.photo, list(phrases), self.request.box_threshold,
                               progress=self.ctx.progress, check_cancel=self.ctx.check_cancel)
        self.used.append(name)
        objects = room_objects(found, self.photo.shape[:2], keep_structure=keep_structure)
        self.timings["sam3_s"] = time.perf_counter() - t
        return objects

    def _need_some(self, *kinds):
        if self.request.method != "auto" or self._available("text") is not None:
            return
        for k in kinds:
            try:
                if find_optional(self.catalog, self.models.name, k) is not None:
                    return
            except ModelMissing:
                continue
        raise ModelMissing(missing_optional_message(self.catalog, kinds[0]) + (
            f" Or install {' or '.join(kinds[1:])} model." if len(kinds) > 1 else ""))

    def furniture(self):
        self._need_some("detector", "semantic")
        seg = self.semantic()
        objects = self.detections(parse_phrases(self.request.prompt, DEFAULT_FURNITURE_QUERY), keep_structure=False)
        if seg is not None:
            objects += objects_from_segmentation(seg, self.photo.shape[:2])
        return finalize_objects(objects, self.photo.shape[:2], seg), seg

    def structure(self):
        self._need_some("semantic", "detector")
        seg = self.semantic()
        if seg is not None:
            return structure_objects(seg, self.photo.shape[:2]), seg
        objects = self.detections(parse_phrases(self.request.prompt, DEFAULT_STRUCTURE_QUERY), keep_structure=True)
        for o in objects:
            o.category, o.selected = STRUCTURE, True
        return objects, None

    def floor(self):
        H, W = self.photo.shape[:2]
        seg = self.semantic() if self.request.method in ("auto", "semantic") else None
        band = max(0.0, float(self.request.band))
        floor = area = None
        source = "semantic"
        if seg is not None:
            floor, area = staging_area_from((H, W), seg, band=band)
        if floor is None or not floor.any():
            if self.models.depth is None:
                if seg is None:
                    raise UserError(f"model set '{self.models.name}' has neither a depth nor a semantic "
                                    f"segmentation model to find the floor with")
            else:
                t = time.perf_counter()
                self.ctx.progress(0, 0, "estimating depth")
                depth_floor, depth_area = self._depth_floor(band)
                self.timings["depth_s"] = time.perf_counter() - t
                self.used.append("depth")
                floor, area = staging_area_from((H, W), None, depth_floor, depth_area, band)
                source = "depth"
        objects = []
        if floor is not None and floor.any():
            obj = MaskObject.from_mask("floor", 1.0, floor, category="floor", source=source)
            objects.append(obj)
            extra = area & ~floor
            if band > 0 and extra.any():
                objects.append(MaskObject.from_mask("band above the floor", 1.0, extra, category="floor",
                                                    source=source))
        return objects, seg

    def _depth_floor(self, band: float):
        H, W = self.photo.shape[:2]
        small, depth = depth_of_small_copy(self.photo, self.ctx.models, self.models, self.device, key=self.key + ":area")
        floor = guides.staging_area(depth, small, band=0.0)  # empty when there is no floor: no guess
        area = guides.staging_area(depth, small, band=band) if band > 0 else floor
        return upscale_mask(floor, (H, W)), upscale_mask(area, (H, W))
