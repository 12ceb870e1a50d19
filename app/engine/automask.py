"""Automatic masks that understand a room: furniture objects, protected structure, floor.

Pure logic on numpy arrays (no torch, no models): the detector and the semantic
segmenter turn a photo into detections and a label map; everything here decides
what those mean for a room photo. So it is tested with hand-made label maps and
detections, and the UI can re-combine a selection (toggle an object, change the
margin) without a round trip to the engine.

Rules
- Class lists are resolved by label *name* from the model's own `id2label`
  (any index base, synonyms "windowpane;window", stray spaces "bed "), never by
  a hard-coded index.
- Structure (walls, floor, ceiling, windows, doors, radiators, stairs, columns,
  built-in fixtures, light fixtures, curtains and what is seen through windows)
  is never selected for removal; the user can still add it by hand.
- Each removed object gets a margin ring (default 20 px at a 1024 px long side,
  scaled with the photo) so its shadow and contact marks go too; the ring never
  eats into windows, doors and other hard structure.
- When nothing is found the selection is empty and a message says so: there is
  never a whole-photo fallback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import cv2
import numpy as np

from app.engine.requests import MaskObject
from app.imaging import masks

MARGIN_AT_1024 = 20  # px of ring at a 1024 px long side (the de-furnishing research used ~20 px)
MAX_OBJECT_FRACTION = 0.6  # an "object" covering more of the photo than this is not one piece of furniture
MAX_BOX_FRACTION = 0.9  # detector boxes this large are the whole room ("furniture" on everything)
MIN_OBJECT_FRACTION = 0.0004  # smaller components are specks (0.04 % of the photo)
STRUCTURE_OVERLAP = 0.7  # a detection mostly on wall/floor/window pixels is structure, not furniture
DEDUPE_IOU = 0.5
MAX_OBJECTS = 40

FURNITURE, OTHER, STRUCTURE = "furniture", "other", "structure"

# ---- label vocabulary ------------------------------------------------------------
# Category by name: a label is judged by its first synonym we know; unknown names are
# OTHER (listed, but not selected by default).

_ARCHITECTURE = {
    "wall", "walls", "floor", "flooring", "ceiling", "roof", "window", "windowpane", "window pane", "skylight",
    "window frame", "windowsill", "window sill", "door", "doors", "doorway", "double door", "screen door",
    "door frame", "doorframe", "sliding door", "french door", "garage door", "radiator", "heater", "stairs",
    "stair", "stairway", "staircase", "step", "steps", "column", "pillar", "post", "beam", "railing", "rail",
    "bannister", "banister", "balustrade", "handrail", "fireplace", "mantel", "mantelpiece", "chimney", "arch",
    "archway", "niche", "alcove", "baseboard", "skirting", "skirting board", "molding", "moulding", "wainscoting",
    "parquet", "tile", "tiles", "window seat", "elevator", "escalator", "vent", "air vent", "air conditioner",
    "outlet", "socket", "light switch", "switch", "thermostat", "smoke detector", "intercom", "pipe",
}
_BUILT_IN = {
    "countertop", "counter", "counter top", "worktop", "kitchen island", "island", "sink", "washbasin",
    "basin", "bathtub", "tub", "bath", "shower", "shower stall", "toilet", "bidet", "urinal", "stove", "oven",
    "range", "cooktop", "hob", "hood", "exhaust hood", "range hood", "extractor hood", "dishwasher",
    "built-in", "built in", "kitchen cabinet", "built-in cabinet", "built-in wardrobe", "fitted wardrobe",
}
_LIGHTS = {
    "light", "lights", "light fixture", "lighting", "ceiling light", "ceiling lamp", "chandelier", "sconce",
    "wall light", "pendant", "pendant light", "pendant lamp", "spotlight", "spot", "recessed light",
    "downlight", "light bulb", "bulb", "track light",
}
_WINDOW_DRESSING = {  # the research masked curtains by mistake: they belong to the window
    "curtain", "curtains", "drape", "drapes", "drapery", "blind", "blinds", "window blind", "shade",
    "window shade", "shutter", "shutters", "valance",
}
_OUTSIDE = {  # seen through a window or a door: never furniture
    "sky", "tree", "trees", "grass", "building", "edifice", "house", "skyscraper", "mountain", "hill", "road",
    "street", "sidewalk", "pavement", "earth", "ground", "field", "sea", "water", "river", "lake", "sand",
    "rock", "stone", "palm", "palm tree", "fence", "awning", "path", "land", "car", "bridge", "pier", "tower",
    "bus", "truck", "van", "boat", "ship", "airplane", "streetlight", "street lamp", "traffic light", "pole",
    "hovel", "hut", "grandstand", "runway", "dirt track", "waterfall", "swimming pool", "pool", "fountain",
    "snow", "plant life", "flora", "shrub", "bush", "hedge", "terrace", "balcony", "patio", "deck", "porch",
}
STRUCTURE_NAMES = frozenset(_ARCHITECTURE | _BUILT_IN | _LIGHTS | _WINDOW_DRESSING | _OUTSIDE)

# Structure the margin ring and the object masks must never eat into. Walls, floor and
# ceiling are not in it: shadows and contact marks live there.
HARD_STRUCTURE_NAMES = frozenset(
    STRUCTURE_NAMES - {"wall", "walls", "floor", "flooring", "ceiling", "roof", "parquet", "tile", "tiles",
                       "baseboard", "skirting", "skirting board", "molding", "moulding", "wainscoting"}
)
FLOOR_NAMES = frozenset({"floor", "flooring", "parquet", "tile", "tiles"})
FLOOR_COVER_NAMES = frozenset({"rug", "carpet", "carpeting", "mat", "doormat"})  # lie on the floor
FIXTURE_NAMES = frozenset(_BUILT_IN)
# Never inside the staging area: furniture goes on the floor, not over these.
NOT_STAGING_NAMES = frozenset(
    {"ceiling", "roof"} | _LIGHTS | {"window", "windowpane", "window pane", "skylight", "door", "doors", "doorway",
                                     "double door", "screen door", "sliding door", "french door", "radiator",
                                     "fireplace", "stairs", "stair", "stairway", "staircase", "step", "steps"}
    | _WINDOW_DRESSING | _OUTSIDE | _BUILT_IN
)

FURNITURE_NAMES = frozenset({
    "furniture", "sofa", "couch", "settee", "sectional", "loveseat", "armchair", "chair", "chairs",
    "swivel chair", "office chair", "seat", "stool", "bar stool", "ottoman", "pouf", "footstool", "bench",
    "table", "coffee table", "side table", "end table", "dining table", "console table", "desk", "pool table",
    "bed", "beds", "bunk bed", "crib", "cradle", "headboard", "mattress", "cabinet", "cupboard", "wardrobe",
    "armoire", "chest", "chest of drawers", "dresser", "drawers", "nightstand", "bedside table", "sideboard",
    "buffet", "credenza", "shelf", "shelves", "shelving", "bookcase", "bookshelf", "case", "display case",
    "showcase", "vitrine", "tv stand", "media console", "entertainment center", "lamp", "floor lamp",
    "table lamp", "desk lamp", "plant", "plants", "potted plant", "houseplant", "flower", "flowers",
    "flowerpot", "flower pot", "pot", "vase", "rug", "carpet", "carpeting", "mat", "doormat", "cushion",
    "pillow", "pillows", "blanket", "throw", "towel", "painting", "picture", "picture frame", "frame",
    "poster", "wall art", "art", "artwork", "print", "mirror", "clock", "sculpture", "statue", "figurine",
    "decor", "decoration", "decorations", "ornament", "basket", "box", "boxes", "bag", "bottle", "book",
    "books", "tray", "plate", "bowl", "cup", "glass", "toy", "toys", "plaything", "ball", "television",
    "television receiver", "tv", "monitor", "computer", "laptop", "crt screen", "speaker", "fan", "ashcan",
    "trash can", "bin", "wastebasket", "apparel", "clothes", "clothing", "coat rack", "hat rack", "hanger",
    "piano", "bar", "arcade machine", "bulletin board", "flag", "candle", "candlestick", "lantern",
    "objects", "object", "clutter",
})
# Furniture that may be fitted (kitchen units, built-in shelving): when it touches a
# fixture (countertop, sink, stove ...) it is listed but not selected.
MAYBE_BUILT_IN = frozenset({"cabinet", "cupboard", "shelf", "shelves", "shelving", "bookcase", "bookshelf",
                            "wardrobe", "case", "drawers", "chest of drawers"})

_KNOWN = frozenset(STRUCTURE_NAMES | FURNITURE_NAMES)

DEFAULT_FURNITURE_QUERY = (
    "sofa", "armchair", "chair", "table", "coffee table", "desk", "bed", "cabinet", "dresser", "shelf",
    "bookcase", "lamp", "plant", "rug", "painting", "television", "cushion", "decor", "furniture",
)
DEFAULT_STRUCTURE_QUERY = (
    "window", "door", "radiator", "ceiling light", "chandelier", "fireplace", "stairs", "column",
)


def label_names(label: str) -> list[str]:
    """A model's label -> its normalised synonyms: "Windowpane;window" -> ["windowpane", "window"]."""
    text = str(label).lower().replace("_", " ").replace("-", " ") if label is not None else ""
    text = text.replace("built in", "built-in")
    parts = [p for p in re.split(r"[;,/|]", text)]
    out = []
    for p in [text, *parts]:
        p = re.sub(r"\s+", " ", p).strip(" .")
        if p and p not in out:
            out.append(p)
    return out


def canonical_name(label: str) -> str:
    """The name a label is judged by: its first synonym RoomStager knows ("plant;flora;plant;life"
    -> "plant", not "flora"), else a known head noun ("wall clock" -> "clock"), else its first name."""
    names = label_names(label)
    for n in names:
        if n in _KNOWN:
            return n
    for n in names:
        words = n.split()
        if len(words) > 1 and words[-1] in _KNOWN:
            return words[-1]
    return names[1] if len(names) > 1 else (names[0] if names else "")


def classify_label(label: str) -> str:
    """FURNITURE, STRUCTURE or OTHER for a label name, whatever model it came from."""
    name = canonical_name(label)
    if name in STRUCTURE_NAMES:
        return STRUCTURE
    if name in FURNITURE_NAMES:
        return FURNITURE
    return OTHER


def is_named(label: str, vocabulary: frozenset) -> bool:
    return canonical_name(label) in vocabulary


def display_label(label: str) -> str:
    """The first synonym, tidy: "bed " -> "bed", "windowpane;window" -> "windowpane"."""
    names = label_names(label)
    return names[1] if len(names) > 1 else (names[0] if names else "object")


def resolve_label_ids(id2label: dict) -> dict[str, set[int]]:
    """Class ids by category, resolved by name from the model's own id2label.

    Keys: "furniture", "other", "structure", "hard" (hard structure), "floor",
    "floor_cover", "fixture", "not_staging". Ids are taken as the model gives them
    (0- or 1-based, sparse, strings or ints)."""
    out: dict[str, set[int]] = {k: set() for k in
                                (FURNITURE, OTHER, STRUCTURE, "hard", "floor", "floor_cover", "fixture", "not_staging")}
    for key, label in id2label.items():
        i = int(key)
        out[classify_label(label)].add(i)
        if is_named(label, HARD_STRUCTURE_NAMES):
            out["hard"].add(i)
        if is_named(label, FLOOR_NAMES):
            out["floor"].add(i)
        if is_named(label, FLOOR_COVER_NAMES):
            out["floor_cover"].add(i)
        if is_named(label, FIXTURE_NAMES):
            out["fixture"].add(i)
        if is_named(label, NOT_STAGING_NAMES):
            out["not_staging"].add(i)
    return out


def default_margin(size: tuple[int, int]) -> int:
    """The margin ring for a photo of size (w, h): 20 px at a 1024 px long side."""
    return masks.scale_px(MARGIN_AT_1024, size)


# ---- semantic label maps ---------------------------------------------------------


@dataclass
class SegMap:
    """A semantic label map, usually smaller than the photo, with its label names."""

    labels: np.ndarray  # h x w int32 class ids
    id2label: dict[int, str]
    scores: np.ndarray | None = None  # h x w float32 confidence of the chosen class
    _ids: dict | None = field(default=None, repr=False)

    @property
    def ids(self) -> dict[str, set[int]]:
        if self._ids is None:
            self._ids = resolve_label_ids(self.id2label)
        return self._ids

    def small_mask(self, ids) -> np.ndarray:
        ids = sorted(ids)
        if not ids:
            return np.zeros(self.labels.shape, bool)
        return np.isin(self.labels, ids)

    def mask(self, ids, shape: tuple[int, int]) -> np.ndarray:
        """Pixels of these classes at photo size (h, w)."""
        return upscale_mask(self.small_mask(ids), shape)


def upscale_mask(small: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    if small.shape == (h, w):
        return small.astype(bool, copy=True)
    if not small.any():
        return np.zeros((h, w), bool)
    return cv2.resize(small.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) >= 0.5


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


@dataclass
class Detection:
    label: str  # the query phrase it matched
    score: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in photo pixels


def box_iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


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


# ---- floor and staging area ------------------------------------------------------


def floor_band(floor: np.ndarray, band: float = 0.35, ceiling: float = 0.15) -> np.ndarray:
    """The floor plus a band above it, per column: rows from t(x) - band * (H - t(x)) down.

    t(x) is the floor's top row in column x. Furniture hides the floor behind it and
    pushes t(x) down; seen from inside a room the floor's far edge is a convex curve
    in the image, so t(x) is replaced by its convex hull from above, which bridges
    those notches. Never the top `ceiling` of the frame."""
    H, W = floor.shape
    if not floor.any():
        return np.zeros((H, W), bool)
    has = floor.any(axis=0)
    cols = np.flatnonzero(has).astype(np.float64)
    tops = floor.argmax(axis=0)[has].astype(np.float64)
    if len(tops) >= 5:  # single-column spikes must not drive the hull
        tops = _running_median(tops, 5)
    top = _hull_from_above(cols, tops, W)
    start = np.maximum(top - band * (H - top), np.ceil(ceiling * H))
    rows = np.arange(H, dtype=np.float32)[:, None]
    return (rows >= start[None, :]) | floor


def _hull_from_above(xs: np.ndarray, ys: np.ndarray, width: int) -> np.ndarray:
    """The convex hull of points (x, y) from above in the image (smallest y, y grows downwards),
    evaluated at every column 0..width-1 (Andrew's monotone chain, lower chain in y)."""
    hull: list[tuple[float, float]] = []
    for x, y in zip(xs.tolist(), ys.tolist(), strict=True):
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1) <= 0:
                hull.pop()
            else:
                break
        hull.append((x, y))
    hx, hy = zip(*hull, strict=True)
    return np.interp(np.arange(width), hx, hy).astype(np.float32)


def _running_median(v: np.ndarray, k: int) -> np.ndarray:
    pad = k // 2
    p = np.pad(v, pad, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(p, k)
    return np.median(windows, axis=1)


def floor_from_segmentation(seg: SegMap, shape: tuple[int, int]) -> np.ndarray:
    """Floor at photo size: floor classes plus rugs, with what stands on it (enclosed holes) filled in."""
    small = seg.small_mask(seg.ids["floor"] | seg.ids["floor_cover"])
    if not small.any():
        return np.zeros(shape, bool)
    small = masks.remove_specks(small, max(4, small.size // 400))
    small = masks.fill_holes(small)
    return upscale_mask(small, shape)


def staging_area_from(shape: tuple[int, int], seg: SegMap | None = None, depth_floor: np.ndarray | None = None,
                      depth_area: np.ndarray | None = None, band: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """(floor, staging area) at photo size from a label map, else from depth.

    With a label map that shows a floor (>= 1 % of the photo) the floor is its floor
    classes and rugs, the area the floor plus a band above it minus ceiling, windows,
    doors, radiators, stairs, fixtures and light fixtures, so furniture goes on the
    floor and the room's openings stay free. Otherwise the depth-based floor and area
    (imaging.guides.staging_area) are used. Both empty when no floor is found: there
    is no fallback."""
    H, W = shape
    if seg is not None:
        floor = floor_from_segmentation(seg, shape)
        if floor.sum() >= 0.01 * H * W:
            area = floor_band(floor, band) if band > 0 else floor.copy()
            blocked = seg.mask(seg.ids["not_staging"], shape)
            area &= ~masks.grow(blocked, masks.scale_px(4, (W, H)))  # a little air around openings
            return floor, area
    empty = np.zeros((H, W), bool)
    floor = depth_floor if depth_floor is not None and depth_floor.shape == (H, W) else empty
    area = depth_area if depth_area is not None and depth_area.shape == (H, W) else floor
    if band <= 0:
        area = floor
    return floor.copy(), area.copy()


# ---- the engine job ----------------------------------------------------------------
# Everything above is pure numpy; the job below loads models lazily (the UI imports
# this module for `combine` without pulling in torch).

TARGETS = ("furniture", "floor", "structure")
METHODS = ("auto", "detector", "semantic")
AREA_SIDE = 768  # the depth-based floor is a coarse region: estimate it on a small copy


def run_automask(request, ctx):
    """AutoMaskRequest -> AutoMaskResult (see the module docstring for the rules)."""
    import time

    from app.engine.requests import AutoMaskResult, array_digest
    from app.errors import UserError

    t0 = time.perf_counter()
    if request.target not in TARGETS:
        raise UserError(f"unknown automatic mask '{request.target}' (choose {', '.join(TARGETS)})")
    if request.method not in METHODS:
        raise UserError(f"unknown method '{request.method}' (choose {', '.join(METHODS)})")
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
        required (ModelMissing with how to get it) when the method names it."""
        from app.engine.detector import find_model, require
        from app.errors import ModelMissing

        method = self.request.method
        if method == "auto":
            try:
                return find_model(self.catalog, self.models.name, kind)
            except ModelMissing:  # named by the set but not installed: the other model may do
                return None
        if method == kind:
            return require(find_model(self.catalog, self.models.name, kind), self.catalog, kind)
        return None

    def semantic(self) -> SegMap | None:
        import time

        from app.engine.semantic import load_semantic

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
        """Detector boxes -> SAM masks (clipped to the box plus a little) -> candidate objects."""
        import time

        from app.engine.detector import load_detector, segment_boxes

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
        segmenter = self.ctx.models.segmenter(self.models, self.device)
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

    def _need_some(self, *kinds):
        from app.engine.detector import find_model, missing_message
        from app.errors import ModelMissing

        if self.request.method != "auto":
            return
        for k in kinds:
            try:
                if find_model(self.catalog, self.models.name, k) is not None:
                    return
            except ModelMissing:
                continue
        raise ModelMissing(missing_message(self.catalog, kinds[0]) + (
            f" Or install {' or '.join(kinds[1:])} model." if len(kinds) > 1 else ""))

    def furniture(self):
        from app.engine.detector import parse_phrases

        self._need_some("detector", "semantic")
        seg = self.semantic()
        objects = self.detections(parse_phrases(self.request.prompt, DEFAULT_FURNITURE_QUERY), keep_structure=False)
        if seg is not None:
            objects += objects_from_segmentation(seg, self.photo.shape[:2])
        return finalize_objects(objects, self.photo.shape[:2], seg), seg

    def structure(self):
        from app.engine.detector import parse_phrases

        self._need_some("semantic", "detector")
        seg = self.semantic()
        if seg is not None:
            return structure_objects(seg, self.photo.shape[:2]), seg
        objects = self.detections(parse_phrases(self.request.prompt, DEFAULT_STRUCTURE_QUERY), keep_structure=True)
        for o in objects:
            o.category, o.selected = STRUCTURE, True
        return objects, None

    def floor(self):
        import time

        from app.errors import UserError

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
        from app.imaging import guides

        H, W = self.photo.shape[:2]
        s = min(1.0, AREA_SIDE / max(H, W))
        small = cv2.resize(self.photo, (max(1, round(W * s)), max(1, round(H * s))), interpolation=cv2.INTER_AREA)
        depth = self.ctx.models.depth(self.models, self.device).predict(small, key=self.key + ":area")
        floor = guides.staging_area(depth, small, band=0.0)
        if _is_half_frame_fallback(floor):
            return np.zeros((H, W), bool), np.zeros((H, W), bool)
        area = guides.staging_area(depth, small, band=band) if band > 0 else floor
        return upscale_mask(floor, (H, W)), upscale_mask(area, (H, W))


def _is_half_frame_fallback(area: np.ndarray) -> bool:
    """guides.staging_area returns the lower half of the frame when it finds no floor: that is
    not a floor, and an automatic mask never falls back to a guess."""
    h = area.shape[0]
    rows = area.all(axis=1)
    if not (rows | ~area.any(axis=1)).all():
        return False  # not made of whole rows
    first = int(np.argmax(rows)) if rows.any() else h
    return abs(first - h / 2) <= max(1, 0.01 * h)
