"""SAM 3 text-prompted masks: the tiny SAM 3 written in the hub's layout and loaded by the real loader,
the text-segment job through the engine, and the geometry and scoring checked with scripted model
outputs (random tiny weights find random things, so what is asserted about logic is fed known answers)."""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from app.engine import Progress, TextSegmentRequest, TextSegmentResult
from app.engine.automask.text_masks import load_text_segmenter
from app.engine.requests import split_phrases
from app.engine.vision.sam3 import Instance, Sam3Segmenter, dedupe, load_sam3
from app.errors import JobCancelled, UserError
from tests.conftest import draw_room


@pytest.fixture(scope="module")
def sam3_path(tiny_models):
    return tiny_models / "segmenter" / "tiny-sam3"


@pytest.fixture
def segmenter(sam3_path):
    model, processor = load_sam3(sam3_path)
    return Sam3Segmenter(model, processor, "cpu")


def fresh_photo(w=300, h=200, seed=0):
    """A photo no earlier test has embedded (the embedding cache is keyed by content)."""
    rng = np.random.default_rng(seed)
    return np.ascontiguousarray(draw_room(w, h) ^ rng.integers(0, 8, (h, w, 3), dtype=np.uint8))


def test_tiny_sam3_is_in_the_catalog_in_the_hub_layout_and_loads(engine, sam3_path):
    from transformers import Sam3Model, Sam3Processor

    from app.engine.models.optional import find_optional as find_model

    catalog = engine.models.catalog("tiny")
    assert find_model(catalog, "tiny-sam3", "text") == ("tiny-sam3", sam3_path.resolve())
    assert find_model(catalog, "tiny", "text")[0] == "tiny-sam3", "a set without one falls back to any installed"
    entry = catalog.entry("tiny-sam3")
    assert entry.role == "text-segmenter"
    names = {p.name for p in sam3_path.iterdir()}
    assert {"config.json", "model.safetensors", "processor_config.json", "tokenizer.json"} <= names
    assert not any(n.endswith((".bin", ".pt", ".pth", ".pkl")) for n in names), "weights are safetensors only"
    model, processor = load_sam3(sam3_path)
    assert isinstance(model, Sam3Model) and isinstance(processor, Sam3Processor)
    assert not model.training and next(model.parameters()).dtype.is_floating_point


def test_the_hubs_video_checkpoint_layout_loads_the_same_detector(tmp_path, sam3_path):
    """facebook/sam3 ships a `sam3_video` config (detector + tracker) with the image model's weights under
    `detector_model.` beside the tracker's: Sam3Model takes the detector and leaves the tracker."""
    import json
    import shutil

    import torch
    from safetensors.torch import load_file, save_file
    from transformers import Sam3VideoConfig

    video = tmp_path / "sam3-video"
    shutil.copytree(sam3_path, video)
    detector = json.loads((sam3_path / "config.json").read_text())
    (video / "config.json").write_text(json.dumps(Sam3VideoConfig(detector_config=detector).to_dict()))
    weights = {f"detector_model.{k}": v for k, v in load_file(sam3_path / "model.safetensors").items()}
    weights["tracker_model.mask_decoder.iou_token.weight"] = torch.zeros(1, 4)
    save_file(weights, video / "model.safetensors", metadata={"format": "pt"})
    model, _ = load_sam3(video)
    plain, _ = load_sam3(sam3_path)
    assert model.config.model_type == "sam3"
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), plain.state_dict().values(), strict=True))


def test_the_loader_refuses_what_is_not_a_whole_sam3(tmp_path, tiny_models, sam3_path):
    with pytest.raises(UserError, match="no config.json"):
        load_sam3(tmp_path)
    with pytest.raises(UserError, match="not SAM 3"):
        load_sam3(tiny_models / "depth" / "tiny-depth")
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in sam3_path.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(UserError, match="not a loadable SAM 3 model"):
        load_sam3(broken)


def test_text_request_returns_instance_masks_at_photo_size(engine):
    photo = fresh_photo(300, 200, seed=1)
    events = []
    loads = engine.models.loads
    request = TextSegmentRequest(photo=photo, text="Sofa, floor lamp", threshold=0.0, models="tiny",
                                    device="cpu")
    result = engine.submit(request, events.append).future.result(timeout=120)
    assert isinstance(result, TextSegmentResult) and result.model == "tiny-sam3"
    assert result.found and result.message == ""
    assert result.mask.shape == (200, 300) and result.mask.dtype == bool
    union = np.zeros((200, 300), bool)
    for obj in result.objects:
        assert obj.mask.shape == (200, 300) and obj.area > 0
        assert obj.label in ("sofa", "floor lamp") and obj.source == "sam3" and obj.selected
        union |= obj.mask
    assert np.array_equal(result.mask, union)
    scores = [o.score for o in result.objects]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
    messages = [e.message for e in events if isinstance(e, Progress)]
    assert "looking for sofa, floor lamp" in messages, messages
    layers = [e for e in events if isinstance(e, Progress) and e.message.startswith("analysing the photo")]
    assert [(e.step, e.total) for e in layers] == [(0, 2), (1, 2)], "the image encoder reports each layer"
    assert engine.models.loads - loads <= 1, "SAM 3 loads once"

    # a second text on the same photo reuses the model and the photo's embedding
    path = engine.models.catalog("tiny").require(result.model)
    sam3 = load_text_segmenter(engine.models, path, engine.models.device("cpu"))  # the loaded one, not a new one
    encodes, loads = sam3.encodes, engine.models.loads
    again = engine.run(TextSegmentRequest(photo=photo, text="rug", threshold=0.0, models="tiny"))
    assert sam3.encodes == encodes and engine.models.loads == loads
    assert all(o.label == "rug" for o in again.objects)


def test_nothing_above_the_threshold_says_so_with_an_empty_mask(engine):
    photo = fresh_photo(160, 120, seed=2)
    result = engine.run(TextSegmentRequest(photo=photo, text="chairs", threshold=1.0, models="tiny"))
    assert not result.found and not result.mask.any() and result.mask.shape == (120, 160)
    assert "Nothing matching 'chairs'" in result.message


@pytest.mark.parametrize("fields, message", [
    ({"text": "  ,  . "}, "name what to select"),
    ({"text": "x" * 61}, "too long"),
    ({"text": ", ".join(f"thing {i}" for i in range(21))}, "at most 20"),
    ({"threshold": 1.5}, r"threshold must be in \[0, 1\]"),
    ({"threshold": float("nan")}, "threshold must be a finite number"),
    ({"max_instances": 0}, "max_instances"),
    ({"photo": np.zeros((20, 20), np.uint8)}, "photo must be an H x W x 3 RGB array"),
])
def test_bad_requests_are_refused_with_the_option_named(engine, fields, message):
    spec = {"photo": fresh_photo(40, 30), "text": "sofa", "models": "tiny", **fields}
    request = TextSegmentRequest(**spec)
    with pytest.raises(UserError, match=message):
        request.validate()
    with pytest.raises(UserError, match=message):  # refused before it is queued
        engine.run(request)


def test_phrases_are_split_and_normalised():
    assert split_phrases("Chairs, floor  lamp . rug;chairs\nTV") == ["chairs", "floor lamp", "rug", "tv"]
    assert TextSegmentRequest(photo=fresh_photo(8, 8), text="A . b").phrases == ["a", "b"]


# ---- scripted outputs: the logic around the model ---------------------------------------------


def logits_of(mask: np.ndarray, side: int = 32) -> np.ndarray:
    """Low-res mask logits covering the whole photo (stretched like SAM 3's input): +5 inside, -5 outside."""
    small = cv2.resize(mask.astype(np.float32), (side, side), interpolation=cv2.INTER_AREA)
    return ((small - 0.5) * 10).astype(np.float32)


class Scripted:
    """Sam3Model for the decoders: the real vision encoder, scripted detections per phrase.

    script: phrase -> (presence logit, [(query logit, box in [0, 1], low-res mask logits), ...])."""

    def __init__(self, real, tokenizer, script: dict):
        self.real, self.tokenizer, self.script = real, tokenizer, script
        self.vision_encoder = real.vision_encoder
        self.batches: list[list[str]] = []

    def get_vision_features(self, **kw):
        return self.real.get_vision_features(**kw)

    def __call__(self, vision_embeds, input_ids, attention_mask):
        import torch

        phrases = [self.tokenizer.decode(ids, skip_special_tokens=True).strip() for ids in input_ids]
        self.batches.append(phrases)
        assert all(t.shape[0] == len(phrases) for t in vision_embeds.fpn_hidden_states), "one embedding per phrase"
        q = max(len(self.script[p][1]) for p in phrases)
        logits = torch.full((len(phrases), q), -20.0)
        presence = torch.zeros(len(phrases), 1)
        boxes = torch.zeros(len(phrases), q, 4)
        masks = torch.full((len(phrases), q, 32, 32), -5.0)
        for i, p in enumerate(phrases):
            presence[i, 0] = self.script[p][0]
            for j, (lg, box, m) in enumerate(self.script[p][1]):
                logits[i, j], boxes[i, j], masks[i, j] = lg, torch.tensor(box), torch.from_numpy(m)
        return SimpleNamespace(pred_logits=logits, presence_logits=presence, pred_boxes=boxes, pred_masks=masks)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + np.exp(-x))


def test_scores_boxes_and_masks_map_to_the_photo(segmenter):
    h, w = 200, 300  # not square: the model's input is a stretched square
    sofa = np.zeros((h, w), bool)
    sofa[100:180, 30:150] = True
    lamp = np.zeros((h, w), bool)
    lamp[20:120, 240:260] = True
    box = (30 / w, 100 / h, 150 / w, 180 / h)
    script = {
        "sofa": (2.0, [(3.0, box, logits_of(sofa)), (1.0, box, logits_of(sofa)),  # the same sofa twice
                       (-3.0, box, logits_of(lamp))]),  # below the threshold
        "couch": (2.0, [(2.5, box, logits_of(sofa))]),  # the sofa again, by a synonym: one object
        "floor lamp": (-6.0, [(4.0, (0.8, 0.1, 0.87, 0.6), logits_of(lamp))]),  # presence says: no lamp here
    }
    segmenter.model = Scripted(segmenter.model, segmenter.processor.tokenizer, script)
    segmenter.chunk = 2
    found = segmenter.find(fresh_photo(w, h, seed=3), ["sofa", "couch", "floor lamp"], threshold=0.5)
    assert segmenter.model.batches == [["sofa", "couch"], ["floor lamp"]], "phrases batched by the chunk size"
    assert len(found) == 1
    inst = found[0]
    assert inst.phrase == "sofa"
    assert inst.score == pytest.approx(sigmoid(3.0) * sigmoid(2.0), rel=1e-5)
    assert inst.box == pytest.approx((30, 100, 150, 180), abs=1e-3)
    got = inst.mask((h, w))
    iou = (got & sofa).sum() / (got | sofa).sum()
    assert got.shape == (h, w) and iou > 0.85, iou


def test_dedupe_keeps_the_best_of_overlapping_masks_only():
    a = np.zeros((32, 32), np.float32) - 5
    a[4:20, 4:20] = 5
    b = np.zeros((32, 32), np.float32) - 5
    b[22:30, 22:30] = 5
    insts = [Instance("chair", 0.6, (0, 0, 20, 20), a), Instance("armchair", 0.9, (1, 1, 20, 20), a.copy()),
             Instance("chair", 0.7, (22, 22, 30, 30), b)]
    kept = dedupe(insts)
    assert [(i.phrase, i.score) for i in kept] == [("armchair", 0.9), ("chair", 0.7)]


def test_a_cancel_lands_inside_the_image_encoder_and_leaves_no_hooks(segmenter):
    layers = segmenter.model.vision_encoder.backbone.layers
    calls = []

    def check():
        calls.append(1)
        if len(calls) == 2:  # before the second ViT layer
            raise JobCancelled()

    photo = fresh_photo(120, 90, seed=4)
    with pytest.raises(JobCancelled):
        segmenter.find(photo, ["sofa"], check_cancel=check)
    assert len(calls) == 2 and segmenter.encodes == 0
    assert all(not layer._forward_pre_hooks for layer in layers)
    segmenter.find(photo, ["sofa"], threshold=0.0)  # and the next search runs normally
    assert segmenter.encodes == 1
