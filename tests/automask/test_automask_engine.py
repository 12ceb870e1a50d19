"""Automatic masks through the real engine: tiny detector and segmenter models built in code,
saved in the real layout and loaded through the catalog and the real loading code."""

from __future__ import annotations

import numpy as np
import pytest
from automask_rooms import ID, draw_room

from app.engine import AutoMaskRequest, AutoMaskResult
from app.engine.automask import objects as amo
from app.engine.vision import labels as aml
from app.errors import UserError


def automask(engine, photo, **kw):
    kw.setdefault("models", "tiny")
    kw.setdefault("model_set", "tiny")
    return engine.run(AutoMaskRequest(photo=photo, **kw))


def test_tiny_models_are_found_in_the_catalog_and_load(engine):
    from app.engine.models.optional import find_optional as find_model
    from app.engine.vision.detector import load_detector
    from app.engine.vision.semantic import SemanticSegmenter, load_semantic

    catalog = engine.models.catalog("tiny")
    assert find_model(catalog, "tiny", "detector")[0] == "tiny-grounding-dino"
    assert find_model(catalog, "tiny", "semantic")[0] == "tiny-oneformer-ade"
    assert find_model(catalog, "tiny", "erase")[0] == "tiny-erase"
    device = engine.models.device("cpu")
    room = draw_room(200, 150)
    det = load_detector(engine.models, find_model(catalog, "tiny", "detector")[1], device)
    phrases = ["sofa", "coffee table", "lamp"]
    found = det.detect(room.photo, phrases, 0.0, 0.0)
    assert found and {d.label for d in found} <= set(phrases), "labels are the phrases asked for"
    for d in found:
        x0, y0, x1, y1 = d.box
        assert 0 <= x0 <= x1 <= 200 and 0 <= y0 <= y1 <= 150
    ids = det.processor(images=room.photo, text="sofa . coffee table . lamp .", return_tensors="pt")["input_ids"][0]
    spans = det._phrase_spans(ids.tolist(), phrases)
    assert [p for p, _ in spans] == phrases and len(spans[1][1]) == 2, "a two-word phrase spans two tokens"
    # OneFormer as the hub lays it out (metadata named on the hub, CLIP vocab files): loads offline
    seg = load_semantic(engine.models, find_model(catalog, "tiny", "semantic")[1], device).predict(room.photo)
    assert seg.labels.ndim == 2 and set(np.unique(seg.labels)) <= set(seg.id2label)
    assert "bed " in seg.id2label.values(), "label names come from the model's own config"
    m2f = SemanticSegmenter(catalog.require("tiny-mask2former-ade"), "cpu").predict(room.photo)
    assert m2f.labels.ndim == 2 and m2f.scores.shape == m2f.labels.shape
    assert abs(m2f.labels.shape[1] / m2f.labels.shape[0] - 200 / 150) < 0.1


def test_furniture_with_the_tiny_models_end_to_end(engine):
    room = draw_room(240, 180, seed=2)
    result = automask(engine, room.photo, box_threshold=0.0, text_threshold=0.0)
    assert isinstance(result, AutoMaskResult) and result.target == "furniture"
    assert set(result.models) == {"tiny-oneformer-ade", "tiny-grounding-dino"}
    assert result.mask.shape == (180, 240) and result.mask.dtype == bool
    for obj in result.objects:
        assert obj.shape == (180, 240) and obj.mask.shape == (180, 240)
        assert obj.category != aml.STRUCTURE and aml.classify_label(obj.label) != aml.STRUCTURE
    assert result.margin_px == amo.default_margin((240, 180))
    expected = amo.combine(result.objects, (180, 240), result.margin_px, result.protected)
    assert np.array_equal(result.mask, expected)
    if not result.mask.any():
        assert result.message
    assert not result.mask.all(), "never the whole photo"
    assert result.timings["automask_s"] > 0


def test_nothing_detected_says_so_and_selects_nothing(engine, seeing_semantic):
    room = draw_room(200, 150, with_furniture=False)
    result = automask(engine, room.photo, method="detector", box_threshold=1.0, text_threshold=1.0)
    assert result.objects == [] and not result.mask.any()
    assert result.message.startswith("No furniture was found") and "tiny-grounding-dino" in result.message
    seeing_semantic(room.photo, room.labels)  # an empty room: walls, floor, window ... no furniture
    result = automask(engine, room.photo, method="semantic")
    assert result.objects == [] and not result.mask.any() and "No furniture" in result.message


def test_semantic_path_selects_furniture_and_protects_structure(engine, seeing_semantic, furnished_room):
    room = furnished_room
    seeing_semantic(room.photo, room.labels)
    result = automask(engine, room.photo, method="semantic", margin_px=6)
    labels = sorted(o.label for o in result.objects)
    assert labels == sorted(["sofa", "coffee table", "chair", "chair", "lamp", "plant", "rug"])
    for name in ("sofa", "coffee table", "plant"):
        assert result.mask[room.mask(name)].mean() > 0.9, name
    for name in ("window", "door", "radiator", "light"):
        assert not result.mask[room.mask(name)].any(), f"{name} is structure"
    assert result.protected is not None and result.protected[room.mask("window")].mean() > 0.95
    # the shadows on the floor just below the objects are in (the margin ring)
    assert result.mask[room.shadows].mean() > 0.5
    excluded = automask(engine, room.photo, method="semantic", exclude=["rug"])
    rug = next(o for o in excluded.objects if o.label == "rug")
    assert not rug.selected and not excluded.mask[room.mask("rug") & ~masks_grow(room, "coffee table", 20)].any()


def masks_grow(room, name, px):
    from app.imaging import masks

    return masks.grow(room.mask(name), px) | masks.grow(room.mask("sofa") | room.mask("plant"), px)


def test_detector_path_drops_structure_and_whole_room_boxes(engine, monkeypatch):
    from app.engine.automask import job
    from app.engine.vision import detector
    from app.engine.vision.detections import Detection

    room = draw_room(240, 180, seed=3)

    def detect(self, photo, phrases, box_threshold=0.3, text_threshold=0.25):
        found = [Detection("sofa", 0.9, (74, 95, 166, 132)), Detection("window", 0.95, (79, 46, 120, 83)),
                 Detection("furniture", 0.7, (0, 0, 240, 180)), Detection("lamp", 0.2, (8, 70, 20, 175))]
        return [d for d in found if d.score >= box_threshold]

    def boxes_to_masks(segmenter, photo, boxes, chunk=8, progress=None):
        out = []
        for x0, y0, x1, y1 in boxes:
            m = np.zeros(photo.shape[:2], bool)
            m[int(y0):int(y1), int(x0):int(x1)] = True
            out.append(m)
        return out

    monkeypatch.setattr(detector.TextDetector, "detect", detect)
    monkeypatch.setattr(job, "segment_boxes", boxes_to_masks)
    result = automask(engine, room.photo, method="detector", margin_px=0)
    assert [o.label for o in result.objects] == ["sofa"], "window (structure) and whole-room box dropped"
    assert result.mask[95:132, 74:166].all() and result.mask.sum() == 92 * 37
    excluded = automask(engine, room.photo, method="detector", exclude=["sofa"])
    assert excluded.objects and not excluded.mask.any() and "none" in excluded.message.lower()


def test_floor_and_structure_targets(engine, seeing_semantic, furnished_room):
    room = furnished_room
    seeing_semantic(room.photo, room.labels)
    floor = automask(engine, room.photo, target="floor")
    assert [o.label for o in floor.objects] == ["floor", "band above the floor"]
    assert floor.mask[room.mask("floor")].mean() > 0.97
    for name in ("window", "door", "ceiling", "light", "radiator"):
        assert not floor.mask[room.mask(name)].any(), name
    only = automask(engine, room.photo, target="floor", band=0.0)
    assert [o.label for o in only.objects] == ["floor"] and only.mask.sum() < floor.mask.sum()
    structure = automask(engine, room.photo, target="structure")
    names = {o.label for o in structure.objects}
    assert {"wall", "floor", "ceiling", "windowpane", "door", "radiator", "light"} <= names
    assert all(o.category == aml.STRUCTURE for o in structure.objects)
    assert structure.mask[room.mask("sofa")].mean() < 0.05, "only its edge pixels (the label map is half size)"


def test_no_floor_is_said_not_guessed(engine, seeing_semantic):
    photo = np.full((150, 200, 3), 200, np.uint8)
    seeing_semantic(photo, np.full((150, 200), ID["wall"], np.int32))
    result = automask(engine, photo, target="floor")
    assert not result.mask.any() and result.message.startswith("No floor")


def test_bad_target_is_a_user_error(engine):
    with pytest.raises(UserError, match="target must be one of furniture, floor, structure"):
        automask(engine, np.zeros((64, 64, 3), np.uint8), target="ceiling")
