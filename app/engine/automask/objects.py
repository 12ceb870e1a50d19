"""Objects of an automatic mask: candidates from label maps and detections, and the removal selection.

Pure logic on numpy arrays (no torch, no models): a label map (SegMap) or detector
boxes become candidate MaskObjects, which are cleaned, de-duplicated and combined
into the removal mask with its margin ring. The UI imports this module for `combine`
(re-combining a selection without a round trip to the engine, and without torch).
"""

from __future__ import annotations

import cv2
import numpy as np

from app import settings
from app.engine.results import MaskObject
from app.engine.vision.detections import Detection, SegMap, box_iou, upscale_mask
from app.engine.vision.labels import (
    FURNITURE,
    MAYBE_BUILT_IN,
    OTHER,
    STRUCTURE,
    classify_label,
    display_label,
    is_named,
)
from app.imaging import masks

MAX_OBJECT_FRACTION = 0.6  # an "object" covering more of the photo than this is not one piece of furniture
MAX_BOX_FRACTION = 0.9  # detector boxes this large are the whole room ("furniture" on everything)
MIN_OBJECT_FRACTION = 0.0004  # smaller components are specks (0.04 % of the photo)
STRUCTURE_OVERLAP = 0.7  # a detection mostly on wall/floor/window pixels is structure, not furniture
DEDUPE_IOU = 0.5
MAX_OBJECTS = 40


def default_margin(size: tuple[int, int]) -> int:
    """The margin ring for a photo of size (w, h): settings.MARGIN_AT_1024 px at a 1024 px long side."""
    return masks.scale_px(settings.MARGIN_AT_1024, size)


def _object_from_small(label: str, score: float, comp: np.ndarray, box_small, shape, **kw) -> MaskObject | None:
    """A component of a small label map -> a MaskObject at photo size (only its box is resampled)."""
    H, W = shape
    h, w = comp.shape
    sx, sy = W / w, H / h
    x0, y0, x1, y1 = box_small
    X0, Y0 = max(0, int(np.floor(x0 * sx))), max(0, int(np.floor(y0 * sy)))
    X1, Y1 = min(W, int(np.ceil(x1 * sx))), min(H, int(np.ceil(y1 * sy)))
    if X1 <= X0 or Y1 <= Y0:
        return None
    # Resample the component (with 1 px of context) into the full-size box, pixel centres aligned.
    px0, py0 = max(0, x0 - 1), max(0, y0 - 1)
    sub = comp[py0:min(h, y1 + 1), px0:min(w, x1 + 1)].astype(np.float32)
    m = np.float32([[1 / sx, 0, (X0 + 0.5) / sx - 0.5 - px0], [0, 1 / sy, (Y0 + 0.5) / sy - 0.5 - py0]])
    crop = cv2.warpAffine(sub, m, (X1 - X0, Y1 - Y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0) >= 0.5
    if not crop.any():
        return None
    return MaskObject.from_crop(label, score, (X0, Y0, X1, Y1), crop, shape, **kw)


def objects_from_segmentation(seg: SegMap, shape: tuple[int, int], min_fraction: float = MIN_OBJECT_FRACTION,
                              include_other: bool = True) -> list[MaskObject]:
    """Furniture (and, unselected, unknown) classes of a label map -> one object per connected piece.

    Structure classes never become objects. A rug that covers most of the floor is
    wall-to-wall carpet: flooring, not an object. Cabinets and shelves that touch a
    fixture (countertop, sink, stove ...) are probably fitted: listed, not selected."""
    ids = seg.ids
    h, w = seg.labels.shape
    area_min = max(4, int(min_fraction * h * w))
    join = max(1, round(0.01 * max(h, w)))
    fixture = seg.small_mask(ids["fixture"])
    fixture_near = cv2.dilate(fixture.view(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) if fixture.any() else None
    floor_small = seg.small_mask(ids["floor"])
    wanted = sorted(ids[FURNITURE] | (ids[OTHER] if include_other else set()))
    out: list[MaskObject] = []
    present = set(np.unique(seg.labels).tolist())
    for cid in wanted:
        if cid not in present:
            continue
        label = display_label(seg.id2label.get(cid, seg.id2label.get(str(cid), str(cid))))
        category = FURNITURE if cid in ids[FURNITURE] else OTHER
        cls = seg.labels == cid
        if cid in ids["floor_cover"] and _is_wall_to_wall(cls, floor_small):
            continue
        # pieces of one object split by what stands in front (a rug under a table and a plant)
        # stay one object: touching pieces, and small pieces close to a big one
        near = cv2.dilate(cls.view(np.uint8), np.ones((2 * join + 1, 2 * join + 1), np.uint8))
        n, lab, stats, _ = cv2.connectedComponentsWithStats(near, connectivity=8)
        lab = np.where(cls, lab, 0)
        areas = np.bincount(lab.ravel(), minlength=n)
        boxes = {k: (int(stats[k, 0]), int(stats[k, 1]), int(stats[k, 0] + stats[k, 2]), int(stats[k, 1] + stats[k, 3]))
                 for k in range(1, n) if areas[k] > 0}
        joins = _merge_small_pieces(boxes, areas, gap=max(2, round(0.05 * max(h, w))))
        groups: dict[int, list[int]] = {}
        for k in boxes:
            root = k
            while root in joins:  # ends: every join goes to a bigger piece
                root = joins[root]
            groups.setdefault(root, []).append(k)
        for members in groups.values():
            area = int(sum(areas[m] for m in members))
            if area < area_min or area > MAX_OBJECT_FRACTION * h * w:
                continue
            x = min(boxes[m][0] for m in members)
            y = min(boxes[m][1] for m in members)
            x1 = max(boxes[m][2] for m in members)
            y1 = max(boxes[m][3] for m in members)
            sub = lab[y:y1, x:x1]
            comp = np.zeros((h, w), bool)
            comp[y:y1, x:x1] = np.isin(sub, members)
            bw, bh = x1 - x, y1 - y
            score = float(seg.scores[comp].mean()) if seg.scores is not None else 1.0
            selected = category == FURNITURE
            note = ""
            if selected and is_named(label, MAYBE_BUILT_IN) and fixture_near is not None:
                if (fixture_near & comp).sum() > 0.02 * area or _touches(comp, fixture_near):
                    selected, note = False, "fitted?"
            obj = _object_from_small(label, score, comp, (x, y, x + bw, y + bh), shape, category=category,
                                     source="semantic", selected=selected, note=note)
            if obj is not None:
                out.append(obj)
    return out


def _merge_small_pieces(boxes: dict[int, tuple], areas, gap: int) -> dict[int, int]:
    """Piece id -> the piece it joins: a piece under a quarter of the area of a same-class piece
    whose box lies within `gap` px of its own (the biggest such piece)."""
    out = {}
    for k, (x0, y0, x1, y1) in boxes.items():
        best = None
        for j, (a0, b0, a1, b1) in boxes.items():
            if j == k or areas[k] >= 0.25 * areas[j]:
                continue
            dx = max(0, max(a0, x0) - min(a1, x1))
            dy = max(0, max(b0, y0) - min(b1, y1))
            if max(dx, dy) <= gap and (best is None or areas[j] > areas[best]):
                best = j
        if best is not None:
            out[k] = best
    return out  # a joined-to piece is always bigger, so it never joins one of its joiners


def _touches(comp: np.ndarray, near: np.ndarray) -> bool:
    return bool((near & comp).any())


def _is_wall_to_wall(cls: np.ndarray, floor: np.ndarray) -> bool:
    """A floor covering that spans the room: >= 85 % of the width at the bottom and more than the bare floor."""
    h, w = cls.shape
    bottom = cls[int(h * 0.8):]
    span = bottom.any(axis=0).mean() if bottom.size else 0.0
    return span >= 0.85 and cls.sum() > 2 * floor.sum()


def structure_mask(seg: SegMap, shape: tuple[int, int], hard_only: bool = False) -> np.ndarray:
    """Structure pixels at photo size: every structure class, or only the hard ones."""
    return seg.mask(seg.ids["hard"] if hard_only else seg.ids[STRUCTURE], shape)


def structure_objects(seg: SegMap, shape: tuple[int, int]) -> list[MaskObject]:
    """One object per structure class present (all selected): the 'structure' target."""
    out = []
    total = seg.labels.size
    for cid in sorted(seg.ids[STRUCTURE]):
        cls = seg.labels == cid
        area = int(cls.sum())
        if area < max(4, MIN_OBJECT_FRACTION * total):
            continue
        label = display_label(seg.id2label.get(cid, str(cid)))
        score = float(seg.scores[cls].mean()) if seg.scores is not None else 1.0
        full = upscale_mask(cls, shape)
        obj = MaskObject.from_mask(label, score, full, category=STRUCTURE, source="semantic")
        if obj is not None:
            out.append(obj)
    return out


# ---- detections ------------------------------------------------------------------


def filter_detections(dets: list[Detection], shape: tuple[int, int], iou: float = 0.7,
                      keep_structure: bool = False, limit: int = MAX_OBJECTS) -> list[Detection]:
    """Drop structure labels (unless asked for), whole-room boxes and duplicates (class-agnostic NMS)."""
    H, W = shape
    kept: list[Detection] = []
    for d in sorted(dets, key=lambda d: -d.score):
        x0, y0, x1, y1 = (float(v) for v in d.box)
        x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(float(W), x1), min(float(H), y1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        cat = classify_label(d.label)
        if (cat == STRUCTURE) != keep_structure:
            continue
        if (x1 - x0) * (y1 - y0) > MAX_BOX_FRACTION * W * H:
            continue
        box = (x0, y0, x1, y1)
        if any(box_iou(box, k.box) > iou for k in kept):
            continue
        kept.append(Detection(d.label, float(d.score), box))
        if len(kept) >= limit:
            break
    return kept


def _iou_objects(a: MaskObject, b: MaskObject) -> tuple[float, float, float]:
    """(IoU, intersection / area a, intersection / area b) of two objects' masks."""
    x0, y0 = max(a.box[0], b.box[0]), max(a.box[1], b.box[1])
    x1, y1 = min(a.box[2], b.box[2]), min(a.box[3], b.box[3])
    if x1 <= x0 or y1 <= y0:
        return 0.0, 0.0, 0.0
    pa = a.crop[y0 - a.box[1]:y1 - a.box[1], x0 - a.box[0]:x1 - a.box[0]]
    pb = b.crop[y0 - b.box[1]:y1 - b.box[1], x0 - b.box[0]:x1 - b.box[0]]
    inter = float((pa & pb).sum())
    aa, ab = float(a.area), float(b.area)
    union = aa + ab - inter
    return (inter / union if union else 0.0), (inter / aa if aa else 0.0), (inter / ab if ab else 0.0)


def finalize_objects(objects: list[MaskObject], shape: tuple[int, int], seg: SegMap | None = None,
                     min_fraction: float = MIN_OBJECT_FRACTION, limit: int = MAX_OBJECTS) -> list[MaskObject]:
    """Clean a list of candidate objects for a photo of `shape` (h, w):

    - objects with a structure label are dropped (structure is never selected);
    - with a label map: hard structure (windows, doors, radiators, fixtures, lights)
      is cut out of every object, and an object lying mostly on structure pixels is
      dropped (a detector calling a wall panel a 'cabinet');
    - specks and whole-room blobs are dropped;
    - duplicates (IoU > 0.5, or one mostly inside a same-category other) merge,
      keeping the better-scored label and the detector's finer mask."""
    H, W = shape
    hard = structure_mask(seg, shape, hard_only=True) if seg is not None else None
    struct = structure_mask(seg, shape) if seg is not None else None
    min_area = max(4, int(min_fraction * H * W))
    cleaned: list[MaskObject] = []
    for obj in objects:
        if obj.category == STRUCTURE or classify_label(obj.label) == STRUCTURE:
            continue
        if hard is not None:
            x0, y0, x1, y1 = obj.box
            if obj.source != "semantic":
                on_struct = (obj.crop & struct[y0:y1, x0:x1]).sum() / max(1, obj.area)
                if on_struct > STRUCTURE_OVERLAP:
                    continue
            crop = obj.crop & ~hard[y0:y1, x0:x1]
            obj = MaskObject.from_crop(obj.label, obj.score, obj.box, crop, shape, category=obj.category,
                                       source=obj.source, selected=obj.selected, note=obj.note)
            if obj is None:
                continue
        if obj.area < min_area or obj.area > MAX_OBJECT_FRACTION * H * W:
            continue
        cleaned.append(obj)
    # Detector objects first (SAM masks are finer), then by score.
    cleaned.sort(key=lambda o: (o.source == "semantic", -o.score))
    kept: list[MaskObject] = []
    for obj in cleaned:
        dup = None
        for i, k in enumerate(kept):
            iou, in_obj, in_k = _iou_objects(obj, k)
            if iou > DEDUPE_IOU or (in_obj > 0.8 and obj.category == k.category and obj.source != k.source):
                dup = i
                break
        if dup is None:
            kept.append(obj)
        else:
            k = kept[dup]
            if obj.source != k.source:
                k.source = "both"
            k.score = max(k.score, obj.score)
            k.selected = k.selected or obj.selected
    kept.sort(key=lambda o: -o.score)
    return kept[:limit]


# ---- the selection ---------------------------------------------------------------


def combine(objects: list[MaskObject], shape: tuple[int, int], margin_px: int | None = None,
            protected: np.ndarray | None = None, selected: list[bool] | None = None) -> np.ndarray:
    """The removal mask: the union of the selected objects plus a margin ring.

    `margin_px` None scales 20 px at 1024; the ring (not the objects) is clipped
    by `protected` (hard structure), so it never eats into a window or a door."""
    H, W = shape
    out = np.zeros((H, W), bool)
    flags = selected if selected is not None else [o.selected for o in objects]
    for obj, on in zip(objects, flags, strict=True):
        if on:
            x0, y0, x1, y1 = obj.box
            out[y0:y1, x0:x1] |= obj.crop
    if not out.any():
        return out
    margin = default_margin((W, H)) if margin_px is None else int(margin_px)
    if margin > 0:
        ring = masks.margin_ring(out, margin)
        if protected is not None:
            ring &= ~protected
        out |= ring
    # pinholes between touching objects are never worth keeping
    return masks.fill_holes(out, max_area=max(16, (margin or 4) ** 2))


def nothing_found_message(target: str, models: list[str]) -> str:
    used = " and ".join(models) if models else "the automatic selection"
    if target == "furniture":
        return (f"No furniture was found in this photo ({used}). Nothing is selected: click the objects to remove "
                f"or paint them with the brush.")
    if target == "floor":
        return "No floor was found in this photo. Nothing is selected: paint the area to furnish with the brush."
    return f"No {target} was found in this photo ({used}). Nothing is selected."
