"""Room regions to repaint, from a semantic label map: the view through the windows, walls,
floor, ceiling, sky (moves to app.engine.automask.regions with the re-organisation).

Pure numpy on a SegMap (class names resolved from the model's own id2label, as for
every automatic mask), so the rules are tested with hand-made label maps; `find_region`
is the engine side that runs the installed semantic segmenter.
"""

from __future__ import annotations

import cv2
import numpy as np

from app.engine.models.optional import find_optional, missing_optional_message
from app.engine.requests import array_digest
from app.engine.vision.detections import SegMap, upscale_mask
from app.engine.vision.labels import OUTSIDE_NAMES, canonical_name
from app.engine.vision.semantic import load_semantic
from app.errors import ModelMissing, UserError
from app.imaging import masks

REGIONS = ("window-view", "walls", "floor", "ceiling", "sky")
SURFACES = ("walls", "floor", "ceiling")  # repainted along the room's lines (Canny + depth guides)

_NAMES = {
    "walls": frozenset({"wall", "walls"}),
    "floor": frozenset({"floor", "flooring", "parquet", "tile", "tiles"}),  # rugs lie on it: they stay
    "ceiling": frozenset({"ceiling"}),
    "sky": frozenset({"sky"}),
}
WINDOW_NAMES = frozenset({"window", "windowpane", "window pane", "skylight"})
OPENING_NAMES = WINDOW_NAMES | {"door", "doors", "double door", "screen door", "sliding door", "french door"}
FRAME_AT_1024 = 4  # px of window frame left alone around the glass, at a 1024 px long side
MIN_FRACTION = 0.0005  # smaller pieces of a region are specks of a wrong label


def class_ids(seg: SegMap, names: frozenset) -> set[int]:
    """Ids whose label means one of `names`, judged by its first synonym RoomStager knows
    ("plant;flora;plant;life" is a plant, not the flora seen through a window)."""
    return {int(key) for key, label in seg.id2label.items() if canonical_name(label) in names}


def region_mask(seg: SegMap, region: str, shape: tuple[int, int]) -> np.ndarray:
    """The region at photo size (h, w), bool; empty when the photo has none of it."""
    if region not in REGIONS:
        raise ValueError(f"unknown region {region!r}")
    h, w = shape
    if region == "window-view":
        small = _window_view(seg)
    else:
        small = seg.small_mask(class_ids(seg, _NAMES[region]))
    small = masks.remove_specks(small, max(2, int(MIN_FRACTION * small.size)))
    out = upscale_mask(small, (h, w))
    if region == "window-view" and out.any():
        # the glass, not the frame: a little off the window's edge (at photo scale)
        out = masks.shrink(out, masks.scale_px(FRAME_AT_1024, (w, h)))
    return out


def _window_view(seg: SegMap) -> np.ndarray:
    """What is seen through the windows: the window panes (the glass the model labels window) and
    outside classes (sky, trees, buildings ...) that lie in or against a window or a glazed door.
    Outside labels far from any opening (a picture of a tree) are not a view."""
    windows = seg.small_mask(class_ids(seg, WINDOW_NAMES))
    openings = seg.small_mask(class_ids(seg, OPENING_NAMES))
    outside = seg.small_mask(class_ids(seg, OUTSIDE_NAMES))
    if not openings.any():
        return np.zeros(seg.labels.shape, bool)
    near = masks.grow(openings, max(2, round(0.01 * max(seg.labels.shape))))
    view = windows.copy()
    if outside.any():
        n, comp = cv2.connectedComponents(outside.view(np.uint8), connectivity=8)
        touching = np.unique(comp[outside & near])
        view |= np.isin(comp, touching[touching > 0])
    return masks.fill_holes(view, max_area=max(4, view.size // 400))  # mullions' speckle, not whole walls


def find_region(request, ctx) -> tuple[np.ndarray, str]:
    """(region mask at photo size, the semantic model's name) for a RepaintRequest in region mode."""
    device = ctx.models.device(request.device)
    models = ctx.models.model_set(request)
    catalog = ctx.models.catalog(request.models)
    found = find_optional(catalog, models.name, "semantic")
    if found is None:
        raise ModelMissing(missing_optional_message(catalog, "semantic") + " Or paint the region and use --mask.")
    name, path = found
    ctx.progress(0, 0, f"finding the {request.region.replace('-', ' ')} (semantic segmentation)")
    photo = request.photo
    seg = load_semantic(ctx.models, path, device).predict(photo, key=array_digest(photo))
    mask = region_mask(seg, request.region, photo.shape[:2])
    if not mask.any():
        where = request.photo_path or "the photo"
        what = {"window-view": "no window view", "walls": "no walls", "floor": "no floor",
                "ceiling": "no ceiling", "sky": "no sky"}[request.region]
        raise UserError(f"{where}: {what} was found ({name}). Paint the area and repaint it with a mask instead.")
    return mask, name
