"""Automatic furniture masks with SAM 3: one model instead of Grounding DINO + SAM when the model set
has it, the old detector path when it does not, and the same MaskObjects (labels, scores, categories)
either way. The tiny SAM 3 is random, so the rules are checked with scripted instances."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from automask_rooms import draw_room

from app.engine import AutoMaskRequest
from app.engine.automask import objects as amo
from app.engine.vision.sam3 import Instance, Sam3Segmenter
from app.errors import ModelMissing


def automask(engine, photo, **kw):
    kw.setdefault("models", "tiny")
    return engine.run(AutoMaskRequest(photo=photo, **kw))


def low_res(mask: np.ndarray, side: int = 32) -> np.ndarray:
    small = cv2.resize(mask.astype(np.float32), (side, side), interpolation=cv2.INTER_AREA)
    return ((small - 0.5) * 10).astype(np.float32)


def instance(name: str, score: float, mask: np.ndarray) -> Instance:
    ys, xs = np.nonzero(mask)
    return Instance(name, score, (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)),
                    low_res(mask))


@pytest.fixture
def scripted_sam3(monkeypatch):
    """SAM 3 answers with the instances given for each phrase (the phrases it was asked are recorded)."""
    asked: list[list[str]] = []
    answers: dict[str, list[Instance]] = {}

    def find(self, photo, phrases, threshold=0.5, limit=100, progress=None, check_cancel=None):
        asked.append(list(phrases))
        if check_cancel is not None:
            check_cancel()
        return [i for p in phrases for i in answers.get(p, []) if i.score >= threshold][:limit]

    monkeypatch.setattr(Sam3Segmenter, "find", find)
    return answers, asked


def test_the_set_with_sam3_uses_it_instead_of_detector_and_sam(engine):
    room = draw_room(240, 180, seed=2)
    sam3 = automask(engine, room.photo, model_set="tiny-sam3", box_threshold=0.0)
    assert "tiny-sam3" in sam3.models and "tiny-grounding-dino" not in sam3.models
    assert "sam3_s" in sam3.timings and "detect_s" not in sam3.timings and "sam_s" not in sam3.timings
    assert all(o.source in ("sam3", "semantic", "both") for o in sam3.objects)
    assert np.array_equal(sam3.mask, amo.combine(sam3.objects, (180, 240), sam3.margin_px, sam3.protected))
    old = automask(engine, room.photo, model_set="tiny", box_threshold=0.0, text_threshold=0.0)
    assert "tiny-grounding-dino" in old.models and "tiny-sam3" not in old.models, "no SAM 3 in the set: old path"
    forced = automask(engine, room.photo, model_set="tiny", method="sam3", box_threshold=0.0)
    assert forced.models == ["tiny-sam3"], "method sam3 takes any installed one"


def test_a_big_sam3_stays_out_of_the_automatic_masks_on_a_cpu(engine, monkeypatch):
    from app.engine.automask import text_masks

    monkeypatch.setattr(text_masks, "CPU_MAX_WEIGHT_BYTES", 0)  # as if the tiny SAM 3 were the real 3.4 GB
    room = draw_room(160, 120, seed=5)
    auto = automask(engine, room.photo, model_set="tiny-sam3", device="cpu", box_threshold=0.0, text_threshold=0.0)
    assert "tiny-grounding-dino" in auto.models and "tiny-sam3" not in auto.models
    named = automask(engine, room.photo, model_set="tiny-sam3", device="cpu", method="sam3", box_threshold=0.0)
    assert named.models == ["tiny-sam3"], "asked for by name, it runs anyway"


def test_sam3_instances_become_room_objects_by_the_detector_rules(engine, scripted_sam3):
    answers, asked = scripted_sam3
    room = draw_room(320, 240, seed=1)
    h, w = room.labels.shape
    whole = np.ones((h, w), bool)
    answers.update({
        "sofa": [instance("sofa", 0.93, room.mask("sofa"))],
        "lamp": [instance("lamp", 0.61, room.mask("lamp")), instance("lamp", 0.2, room.mask("plant"))],
        "furniture": [instance("furniture", 0.8, whole)],  # the whole room: not one piece of furniture
        "rug": [instance("rug", 0.55, room.mask("rug"))],
        "window": [instance("window", 0.9, room.mask("window"))],  # structure: never an object to remove
    })
    result = automask(engine, room.photo, model_set="tiny-sam3", method="sam3", box_threshold=0.5, margin_px=4,
                      exclude=["rug"], prompt="sofa . lamp . furniture . rug . window")
    assert asked[-1] == ["sofa", "lamp", "furniture", "rug", "window"]
    assert result.models == ["tiny-sam3"]
    got = {(o.label, round(o.score, 2), o.source, o.category, o.selected) for o in result.objects}
    assert got == {("sofa", 0.93, "sam3", "furniture", True), ("lamp", 0.61, "sam3", "furniture", True),
                   ("rug", 0.55, "sam3", "furniture", False)}, got
    sofa = next(o for o in result.objects if o.label == "sofa")
    iou = (sofa.mask & room.mask("sofa")).sum() / (sofa.mask | room.mask("sofa")).sum()
    assert iou > 0.8, iou
    assert result.mask[room.mask("sofa")].mean() > 0.95
    assert not result.mask[room.mask("window")].any()
    assert np.array_equal(result.mask, amo.combine(result.objects, (h, w), 4, result.protected))


def test_default_furniture_phrases_go_to_sam3_and_nothing_found_says_so(engine, scripted_sam3):
    from app.engine.vision.labels import DEFAULT_FURNITURE_QUERY

    _, asked = scripted_sam3
    room = draw_room(200, 150, with_furniture=False)
    result = automask(engine, room.photo, model_set="tiny-sam3", method="sam3")
    assert asked[-1] == list(DEFAULT_FURNITURE_QUERY)
    assert result.objects == [] and not result.mask.any()
    assert result.message.startswith("No furniture was found") and "tiny-sam3" in result.message


def test_without_any_text_segmenter_the_message_says_how_to_get_sam3(tmp_path):
    from app.engine import Catalog
    from app.engine.automask.text_masks import require_text_model, set_text_model
    catalog = Catalog.load(tmp_path)  # the app's catalog, nothing installed
    assert catalog.entry("sam3").role == "text-segmenter"
    assert set_text_model(catalog, "standard") is None, "named by the set but not installed: the old path"
    with pytest.raises(ModelMissing, match="models download sam3"):
        require_text_model(catalog, "standard")
    with pytest.raises(ModelMissing, match=r"SAM 3"):
        require_text_model(catalog, None)
