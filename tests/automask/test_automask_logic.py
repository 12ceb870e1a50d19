"""The room logic of automatic masks, on hand-made label maps and detections (no models)."""

from __future__ import annotations

import numpy as np
from automask_rooms import ID, ID2LABEL, draw_room

from app.engine import MaskObject
from app.engine.automask import floor as amf
from app.engine.automask import objects as amo
from app.engine.vision import labels as aml
from app.imaging import masks

# A slice of ADE20K's real label names (HF configs), structure and furniture mixed.
ADE_NAMES = [
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed ", "windowpane", "grass", "cabinet",
    "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair", "car", "painting",
    "sofa", "shelf", "house", "mirror", "rug", "armchair", "seat", "fence", "desk", "wardrobe", "lamp", "bathtub",
    "railing", "cushion", "column", "chest of drawers", "counter", "sink", "fireplace", "refrigerator", "stairs",
    "pillow", "screen door", "stairway", "bookcase", "blind", "coffee table", "toilet", "flower", "book",
    "bench", "countertop", "stove", "kitchen island", "swivel chair", "light", "chandelier", "ottoman", "vase",
    "sconce", "hood", "radiator", "clock", "television receiver", "step", "stool", "basket", "towel",
]
MUST_BE_STRUCTURE = ["wall", "floor", "ceiling", "windowpane", "door", "screen door", "radiator", "stairs",
                     "stairway", "step", "column", "railing", "fireplace", "light", "chandelier", "sconce",
                     "curtain", "blind", "sky", "tree", "building", "countertop", "sink", "bathtub", "toilet",
                     "stove", "hood", "kitchen island", "counter"]
MUST_BE_FURNITURE = ["bed ", "cabinet", "table", "plant", "chair", "painting", "sofa", "shelf", "mirror", "rug",
                     "armchair", "desk", "wardrobe", "lamp", "cushion", "chest of drawers", "pillow", "bookcase",
                     "coffee table", "vase", "ottoman", "swivel chair", "television receiver", "stool", "clock"]


def test_labels_are_classified_by_name():
    for name in MUST_BE_STRUCTURE:
        assert aml.classify_label(name) == aml.STRUCTURE, name
    for name in MUST_BE_FURNITURE:
        assert aml.classify_label(name) == aml.FURNITURE, name
    assert aml.classify_label("person") == aml.OTHER
    assert aml.classify_label("") == aml.OTHER
    # synonyms and formatting of other models' label maps
    assert aml.classify_label("windowpane;window") == aml.STRUCTURE
    assert aml.classify_label("plant;flora;plant;life") == aml.FURNITURE  # not "flora" (outdoors)
    assert aml.classify_label("Swivel_Chair") == aml.FURNITURE
    assert aml.classify_label("wall clock") == aml.FURNITURE  # head noun
    assert aml.classify_label("ceiling light") == aml.STRUCTURE
    assert aml.display_label("bed ") == "bed" and aml.display_label("sofa;couch;lounge") == "sofa"


def test_class_ids_come_from_the_models_own_id2label_whatever_the_indices():
    names = {i: n for i, n in enumerate(ADE_NAMES)}
    ids = aml.resolve_label_ids(names)
    by_name = {n: i for i, n in names.items()}
    assert all(by_name[n] in ids[aml.STRUCTURE] for n in MUST_BE_STRUCTURE if n in by_name)
    assert all(by_name[n] in ids[aml.FURNITURE] for n in MUST_BE_FURNITURE if n in by_name)
    # the same names, 1-based, shuffled, string keys (as JSON configs have them): the same answer by name
    rng = np.random.default_rng(3)
    perm = rng.permutation(len(ADE_NAMES))
    shuffled = {str(int(p) + 1): ADE_NAMES[k] for k, p in enumerate(perm)}
    ids2 = aml.resolve_label_ids(shuffled)
    for cat in (aml.STRUCTURE, aml.FURNITURE, "hard", "floor"):
        assert {ADE_NAMES[k] for k in range(len(ADE_NAMES)) if int(perm[k]) + 1 in ids2[cat]} == \
            {ADE_NAMES[i] for i in ids[cat]}, cat
    assert by_name["wall"] not in ids["hard"] and by_name["windowpane"] in ids["hard"]
    assert by_name["radiator"] in ids["hard"] and by_name["light"] in ids["hard"]
    assert ids["floor"] == {by_name["floor"]} and by_name["rug"] in ids["floor_cover"]


def test_objects_from_segmentation_are_the_furniture_and_never_structure():
    room = draw_room(320, 240)
    seg = amo.SegMap(room.labels, dict(ID2LABEL))
    objects = amo.objects_from_segmentation(seg, room.labels.shape)
    labels = sorted(o.label for o in objects)
    assert labels == sorted(["rug", "sofa", "coffee table", "chair", "chair", "lamp", "plant"])
    assert all(o.category == aml.FURNITURE and o.selected for o in objects)
    structure = room.mask(*[n for n in ("wall", "floor", "ceiling", "window", "door", "radiator", "light")])
    for o in objects:
        assert not (o.mask & structure).any(), o.label
    chairs = [o for o in objects if o.label == "chair"]
    assert len(chairs) == 2 and not (chairs[0].mask & chairs[1].mask).any(), "instances are split"


def test_objects_from_a_smaller_label_map_land_in_photo_pixels():
    room = draw_room(320, 240)
    small = room.labels[::2, ::2]
    seg = amo.SegMap(small, dict(ID2LABEL))
    objects = amo.objects_from_segmentation(seg, (240, 320))
    sofa = next(o for o in objects if o.label == "sofa")
    truth = room.mask("sofa")
    inter = (sofa.mask & truth).sum()
    assert inter / (sofa.mask | truth).sum() > 0.9


def test_wall_to_wall_carpet_is_flooring_and_a_fitted_cabinet_is_not_selected():
    room = draw_room(320, 240, rug="wall-to-wall", kitchen=True)
    seg = amo.SegMap(room.labels, dict(ID2LABEL))
    objects = amo.objects_from_segmentation(seg, room.labels.shape)
    assert "rug" not in [o.label for o in objects]
    cabinet = next(o for o in objects if o.label == "cabinet")
    assert not cabinet.selected and cabinet.note
    assert amo.combine(objects, room.labels.shape, 0)[room.mask("cabinet")].sum() == 0


def test_specks_are_dropped():
    labels = np.full((100, 100), ID["wall"], np.int32)
    labels[10:11, 10:13] = ID["chair"]  # 3 px: a speck
    labels[50:80, 50:80] = ID["chair"]
    objects = amo.objects_from_segmentation(amo.SegMap(labels, dict(ID2LABEL)), (100, 100))
    assert len(objects) == 1 and objects[0].box == (50, 50, 80, 80)


def test_detections_lose_structure_whole_room_boxes_and_duplicates():
    dets = [amo.Detection("sofa", 0.9, (10, 50, 60, 90)), amo.Detection("couch", 0.7, (11, 51, 60, 90)),
            amo.Detection("window", 0.95, (20, 5, 40, 30)), amo.Detection("furniture", 0.8, (0, 0, 100, 100)),
            amo.Detection("lamp", 0.4, (80, 20, 90, 80)), amo.Detection("chair", 0.5, (-5, 60, 1, 70))]
    kept = amo.filter_detections(dets, (100, 100))
    assert [d.label for d in kept] == ["sofa", "lamp"]
    assert [d.label for d in amo.filter_detections(dets, (100, 100), keep_structure=True)] == ["window"]


def _obj(label, mask, source="detector", **kw):
    return MaskObject.from_mask(label, kw.pop("score", 0.8), mask, source=source, category=aml.classify_label(label),
                                **kw)


def test_finalize_protects_structure_and_merges_duplicates():
    room = draw_room(320, 240)
    seg = amo.SegMap(room.labels, dict(ID2LABEL))
    shape = room.labels.shape
    sofa = room.mask("sofa")
    grown_sofa = masks.grow(sofa, 3)
    window = room.mask("window")
    over_window = room.parts["window"].copy()
    over_window[:, : int(0.4 * 320)] = False  # a 'cabinet' the detector saw on the window
    plant = room.mask("plant") | masks.grow(room.mask("radiator"), 2)  # a SAM mask bleeding onto the radiator
    wall_panel = room.parts["wall"] & ~masks.grow(room.mask("window", "radiator", "door"), 4)
    wall_panel[: int(0.3 * 240)] = False
    wall_panel[int(0.5 * 240):] = False
    candidates = [
        _obj("sofa", grown_sofa, score=0.9), _obj("window", window, score=0.99), _obj("cabinet", over_window),
        _obj("plant", plant), _obj("cabinet", wall_panel, score=0.6),
        *amo.objects_from_segmentation(seg, shape),
    ]
    objects = amo.finalize_objects(candidates, shape, seg)
    labels = [o.label for o in objects]
    assert "window" not in labels
    hard = amo.structure_mask(seg, shape, hard_only=True)
    for o in objects:
        assert not (o.mask & hard).any(), f"{o.label} eats into hard structure"
    assert labels.count("sofa") == 1
    sofa_obj = next(o for o in objects if o.label == "sofa")
    assert sofa_obj.source == "both" and sofa_obj.score >= 0.9
    assert not any(o.label == "cabinet" for o in objects), "detections on the window or the wall are dropped"
    plant_obj = next(o for o in objects if o.label == "plant")
    assert not (plant_obj.mask & room.mask("radiator")).any()


def test_margin_ring_geometry_and_scaling():
    shape = (400, 600)
    obj = np.zeros(shape, bool)
    obj[150:250, 200:300] = True
    objects = [MaskObject.from_mask("sofa", 0.9, obj)]
    for margin in (0, 5, 17):
        mask = amo.combine(objects, shape, margin)
        assert np.array_equal(mask, masks.grow(obj, margin) if margin else obj)
        row = mask[200]
        assert row.sum() == 100 + 2 * margin  # the ring is `margin` px wide on each side
    assert amo.default_margin((1024, 768)) == 20
    assert amo.default_margin((2048, 1536)) == 40
    assert amo.default_margin((4000, 3000)) == 78
    assert amo.default_margin((512, 384)) == 10
    default = amo.combine(objects, shape, None)
    assert np.array_equal(default, masks.grow(obj, amo.default_margin((600, 400))))


def test_the_ring_never_eats_into_protected_structure_and_toggling_works():
    shape = (200, 200)
    a = np.zeros(shape, bool)
    a[100:150, 20:80] = True
    b = np.zeros(shape, bool)
    b[100:150, 120:180] = True
    window = np.zeros(shape, bool)
    window[60:98, 30:70] = True  # just above object a, within its ring
    objects = [MaskObject.from_mask("sofa", 0.9, a), MaskObject.from_mask("chair", 0.7, b)]
    mask = amo.combine(objects, shape, 10, protected=window)
    assert not (mask & window).any()
    assert mask[a].all() and mask[b].all()
    only_b = amo.combine(objects, shape, 10, protected=window, selected=[False, True])
    assert not only_b[a].any() and only_b[b].all()
    none = amo.combine(objects, shape, 10, selected=[False, False])
    assert not none.any(), "nothing selected is an empty mask, never the whole photo"


def test_floor_and_staging_area_from_segmentation():
    room = draw_room(320, 240)
    seg = amo.SegMap(room.labels, dict(ID2LABEL))
    shape = room.labels.shape
    floor, area = amf.staging_area_from(shape, seg, band=0.35)
    assert floor[room.mask("floor", "rug")].all(), "the visible floor and what lies on it"
    assert not floor[room.parts["ceiling"]].any()
    assert area[floor].all() and area.sum() > floor.sum(), "a band above the floor"
    for name in ("sofa", "coffee table", "plant"):
        assert area[room.mask(name)].mean() > 0.95, f"the {name} stands inside the staging area"
    for name in ("ceiling", "window", "door", "radiator", "light"):
        assert not area[room.mask(name)].any(), f"the staging area covers the {name}"
    assert not area[: int(0.15 * 240)].any()
    floor0, area0 = amf.staging_area_from(shape, seg, band=0.0)
    assert np.array_equal(floor0, area0)
    empty_seg = amo.SegMap(np.full(shape, ID["wall"], np.int32), dict(ID2LABEL))
    f, a = amf.staging_area_from(shape, empty_seg)
    assert not f.any() and not a.any(), "no floor: nothing, never a guess"


def test_a_floor_label_in_the_ceiling_band_is_ignored():
    labels = np.full((200, 300), ID["wall"], np.int32)
    labels[140:] = ID["floor"]
    labels[:20, 100:200] = ID["floor"]  # a mislabelled patch up in the ceiling band
    floor, area = amf.staging_area_from(labels.shape, amo.SegMap(labels, dict(ID2LABEL)), band=0.35)
    assert floor[140:].all() and not floor[:30].any()
    assert not area[:30].any()


def test_depth_staging_fallback_is_not_taken_for_a_floor():
    from app.imaging import guides

    flat = np.ones((60, 80), np.float32)
    fallback = guides.staging_area(flat, np.zeros((60, 80, 3), np.uint8))
    assert not fallback.any(), "no floor in the depth: nothing, never a guessed half frame"
    ramp = np.tile(np.linspace(0, 1, 60, dtype=np.float32)[:, None] ** 2, (1, 80))
    ramp[:, 30:] *= 0.8
    real = guides.staging_area(ramp, np.zeros((60, 80, 3), np.uint8), band=0.0)
    assert real.any() and real[-1].all() and not real[:9].any(), "a floor rising to the bottom is found"


def test_nothing_found_message_says_so():
    text = amo.nothing_found_message("furniture", ["grounding-dino-tiny"])
    assert "No furniture" in text and "Nothing is selected" in text
    assert "No floor" in amo.nothing_found_message("floor", [])
