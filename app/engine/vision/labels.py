"""The label vocabulary of automatic masks: what a model's label *name* means in a room.

Class lists are resolved by label name from the model's own `id2label` (any index
base, synonyms "windowpane;window", stray spaces "bed "), never by a hard-coded
index. Pure Python: used by engine.automask_objects, engine.detector and the job in
engine.automask.
"""

from __future__ import annotations

import re

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
OUTSIDE_NAMES = frozenset(_OUTSIDE)  # what a window shows (repaint's window view)
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
