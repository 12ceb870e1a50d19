"""SAM 2.1 backend: a tiny random Sam2Model saved like the hub's, loaded through the app's own code;
transformers' Sam2Processor / post_process_masks are the reference for every piece of geometry."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from app.engine.tiny.sam2 import sam2_config, write_tiny_sam2
from app.engine.vision.sam2_backend import Sam2Backend, load_sam2, sam2_model_id
from app.engine.vision.sam_loader import load_segmenter_backend, segmenter_for
from app.engine.vision.segmenter import Embedding, Segmenter
from app.errors import UserError

SIDE = 256  # the tiny model's input square (the real one: 1024); low-res masks are 4 x SIDE/16


@pytest.fixture(scope="module")
def sam2_dir(tmp_path_factory):
    return write_tiny_sam2(tmp_path_factory.mktemp("sam2") / "tiny-sam2", image_size=SIDE)


@pytest.fixture(scope="module")
def backend(sam2_dir):
    model, processor = load_sam2(sam2_dir)
    return Sam2Backend(model, processor, "cpu")


@pytest.fixture
def segmenter(backend, sam2_dir, tmp_path):
    return Segmenter(backend, "cpu", sam2_model_id(sam2_dir), tmp_path / "cache")


def post_process(processor, low: np.ndarray, original) -> np.ndarray:
    """transformers' own upscale of low-res logits to the photo (the reference)."""
    out = processor.post_process_masks([torch.from_numpy(low)[None, None]], [list(original)])
    return out[0][0, 0].numpy()


# ---- loading ---------------------------------------------------------------------------------


def test_loads_through_the_manager_with_the_catalog_sam_type(tmp_path, room):
    """A models folder whose set names a SAM 2 folder: catalog -> ModelSet.sam_type -> the SAM 2 backend."""
    from app.engine import SegmentRequest
    from app.engine.runtime.manager import ModelManager

    root = tmp_path / "models"
    (root / "inpaint" / "x").mkdir(parents=True)
    write_tiny_sam2(root / "sam2-folder", image_size=SIDE)
    (root / "catalog.toml").write_text(
        '[models.t-inpaint]\nrole = "inpaint"\narch = "sd15"\npath = "inpaint/x"\n'
        '[models.t-sam2]\nrole = "sam"\npath = "sam2-folder"\nsam_type = "sam2"\n'
        '[models.t-sam2-untyped]\nrole = "sam"\npath = "sam2-folder"\n'
        '[sets.t]\narch = "sd15"\ninpaint = "t-inpaint"\nsam = "t-sam2"\nrecommend = false\n'
        '[sets.u]\narch = "sd15"\ninpaint = "t-inpaint"\nsam = "t-sam2-untyped"\nrecommend = false\n',
        encoding="utf-8")
    manager = ModelManager(models=str(root), device="cpu")
    models = manager.model_set(SegmentRequest(photo=room, models=str(root), model_set="t"))
    assert models.sam_type == "sam2"
    assert manager.catalog().resolve_set("u").sam_type == "sam2", "a folder with no sam_type is a SAM 2 folder"
    seg = segmenter_for(manager, models, manager.device("cpu"))
    assert isinstance(seg.backend, Sam2Backend) and type(seg.sam).__name__ == "Sam2Model"
    assert segmenter_for(manager, models, manager.device("cpu")) is seg and manager.loads == 1
    result = seg.segment(room, [(480, 380, True)])
    assert result.mask.shape == room.shape[:2] and len(result.scores) == 3


def test_model_ids_differ_between_backends(sam2_dir, tmp_path):
    from app.engine.tiny.models import TINY_SAM_CONFIG
    from app.engine.vision.sam_model import build_sam
    pth = tmp_path / "tiny-sam.pth"
    torch.save(build_sam(TINY_SAM_CONFIG).state_dict(), pth)
    pth.with_suffix(".json").write_text(json.dumps(TINY_SAM_CONFIG), encoding="utf-8")
    sam1, id1 = load_segmenter_backend(pth, "config", "cpu")
    sam2, id2 = load_segmenter_backend(sam2_dir, "sam2", "cpu")
    assert sam1.kind == "sam" and sam2.kind == "sam2" and id1 != id2 and id2.startswith("sam2:")
    a = Segmenter(sam1, "cpu", id1, tmp_path / "c")
    b = Segmenter(sam2, "cpu", id2, tmp_path / "c")
    assert a.cache_dir != b.cache_dir
    with pytest.raises(UserError, match="SAM 2 model folder"):
        load_segmenter_backend(sam2_dir, "vit_b", "cpu")


def test_hub_layout_sam2_video_checkpoint_loads_every_weight(tmp_path):
    """The hub's facebook/sam2.1-* folders hold a `sam2_video` checkpoint, a preprocessor_config.json and a
    processor_config.json naming Sam2VideoProcessor: Sam2Model must take every one of its weights from it."""
    from transformers import Sam2ImageProcessor, Sam2VideoConfig, Sam2VideoModel

    d = sam2_config(SIDE, tiny=True).to_dict()
    cfg = Sam2VideoConfig(vision_config=d["vision_config"], prompt_encoder_config=d["prompt_encoder_config"],
                          mask_decoder_config=d["mask_decoder_config"], image_size=SIDE,
                          memory_attention_hidden_size=32, memory_encoder_hidden_size=32,
                          mask_downsampler_embed_dim=32, memory_fuser_embed_dim=32, memory_attention_num_layers=1,
                          memory_attention_feed_forward_hidden_size=32)
    torch.manual_seed(3)
    video = Sam2VideoModel(cfg).eval()
    folder = tmp_path / "sam2.1-hiera-tiny"
    video.save_pretrained(folder)
    Sam2ImageProcessor(size={"height": SIDE, "width": SIDE}).save_pretrained(folder)
    (folder / "processor_config.json").write_text(json.dumps(
        {"point_pad_value": -10, "processor_class": "Sam2VideoProcessor", "target_size": SIDE}))
    model, processor = load_sam2(folder)
    theirs = video.state_dict()
    assert all(torch.equal(theirs[k], v) for k, v in model.state_dict().items())
    assert processor.target_size == SIDE and processor.image_processor.size["height"] == SIDE

    # a checkpoint missing weights is refused, not run half random
    from safetensors.torch import load_file, save_file

    weights = load_file(folder / "model.safetensors")
    save_file({k: v for k, v in weights.items() if not k.startswith("mask_decoder.")},
              folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(UserError, match="lacks"):
        load_sam2(folder)
    with pytest.raises(UserError, match="not a SAM 2 model folder"):
        load_sam2(tmp_path)


# ---- Segmenter behaviour -------------------------------------------------------------------------


def test_click_gives_a_photo_sized_mask_and_three_scores(segmenter, room):
    result = segmenter.segment(room, [(480, 380, True), (100, 100, False)])
    assert result.mask.shape == room.shape[:2] and result.mask.dtype == bool
    assert len(result.scores) == 3 and result.chosen == int(np.argmax(result.scores))
    assert result.low_res_logits.shape == (4 * SIDE // 16, 4 * SIDE // 16)
    assert segmenter.segment(room, [(480, 380, True)], mask_index=2).chosen == 2
    single = segmenter.segment(room, [], box=(300, 250, 700, 500), multimask=False)
    assert single.mask.shape == room.shape[:2] and len(single.scores) == 1
    both = segmenter.segment(room, [(480, 380, True)], box=(300, 250, 700, 500))
    assert len(both.scores) == 3
    masks = segmenter.segment_boxes(room, [(300, 250, 700, 500), (10, 10, 100, 100), (0, 0, 959, 639)], chunk=2)
    assert len(masks) == 3 and all(m.shape == room.shape[:2] for m in masks)
    with pytest.raises(UserError, match="outside the 960x640 photo"):
        segmenter.segment(room, [(961, 10, True)])
    assert segmenter.encodes == 1


def test_content_cache_hits_for_the_same_pixels_in_another_array(segmenter, room):
    photo = room.copy()
    photo[0, 0] = (1, 2, 3)
    key, cached, emb = segmenter.embed(photo)
    assert not cached and segmenter.encodes == 1
    assert len(emb.high_res) == 2 and emb.features.shape[-2:] == (SIDE // 16, SIDE // 16)
    twin = photo.copy()
    key2, cached2, emb2 = segmenter.embed(twin)
    assert cached2 and key2 == key and emb2 is emb and segmenter.encodes == 1
    edited = photo.copy()
    edited[5, 5] = 0
    assert segmenter.embed(edited)[0] != key and segmenter.encodes == 2


def test_disk_cache_holds_all_three_tensors_and_survives_a_new_segmenter(backend, sam2_dir, tmp_path, room):
    photo = room.copy()
    photo[2, 2] = (7, 7, 7)
    first = Segmenter(backend, "cpu", sam2_model_id(sam2_dir), tmp_path / "cache")
    key, _, emb = first.embed(photo)
    stored = torch.load(first.cache_dir / f"{key}.pt", weights_only=True)
    assert len(stored["high_res"]) == 2 and stored["input_size"] == [SIDE, SIDE]
    clicked = first.segment(photo, [(480, 380, True)])

    second = Segmenter(backend, "cpu", sam2_model_id(sam2_dir), tmp_path / "cache")
    _, cached, again = second.embed(photo.copy())
    assert cached and second.encodes == 0
    assert torch.equal(again.features, emb.features)
    assert all(torch.equal(a, b) for a, b in zip(again.high_res, emb.high_res, strict=True))
    assert again.original_size == (640, 960)
    replay = second.segment(photo, [(480, 380, True)])
    assert np.array_equal(replay.low_res_logits, clicked.low_res_logits) and replay.scores == clicked.scores

    # a SAM 1 style entry (no high-res maps) or a damaged file is recomputed, never fatal
    torch.save({"features": emb.features, "input_size": [SIDE, SIDE], "original_size": [640, 960]},
               second.cache_dir / f"{key}.pt")
    third = Segmenter(backend, "cpu", sam2_model_id(sam2_dir), tmp_path / "cache")
    assert not third.embed(photo)[1] and third.encodes == 1


# ---- geometry against transformers' own processor ---------------------------------------------------


def test_preprocessing_matches_the_processor(backend, room):
    ours = backend.pixel_values(room)
    ref = backend.processor(images=room, return_tensors="pt")["pixel_values"]
    assert ours.shape == ref.shape == (1, 3, SIDE, SIDE)
    # OpenCV's area filter against torchvision's antialiased bilinear: about a grey level on average
    assert (ours - ref).abs().mean() < 0.02


@pytest.mark.parametrize("original", [(640, 960), (1200, 801), (3000, 4500), (333, 333)])
def test_prompt_mapping_matches_the_processor(backend, original):
    """Our decode == Sam2Model fed with Sam2Processor's own point / box normalisation (x*S/W, y*S/H)."""
    h, w = original
    rng = np.random.default_rng(h)
    photo = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    emb = backend.encode(photo)
    model, proc = backend.model, backend.processor
    pts = [(w * 0.61, h * 0.27, True), (w * 0.2, h * 0.8, False)]
    box = (w * 0.1, h * 0.2, w * 0.7, h * 0.9)

    def ref(multimask=True, **prompts):
        inputs = proc(original_sizes=[[h, w]], return_tensors="pt", **prompts)
        inputs.pop("original_sizes")
        with torch.inference_mode():
            out = model(image_embeddings=[*emb.high_res, emb.features], multimask_output=multimask, **inputs)
        return out.pred_masks[0].numpy(), out.iou_scores[0].numpy()

    def err(a, b):  # relative: random weights give small logits
        return np.abs(a - b).max() / np.abs(b).max()

    logits, scores = backend.decode(emb, pts, [], True)
    ref_logits, ref_scores = ref(input_points=[[[list(p[:2]) for p in pts]]], input_labels=[[[1, 0]]])
    assert logits.shape == ref_logits.shape == (1, 3, 4 * SIDE // 16, 4 * SIDE // 16)
    assert err(logits, ref_logits) < 1e-4 and err(scores, ref_scores) < 1e-5
    box_logits, _ = backend.decode(emb, [], [box], False)
    box_ref = ref(multimask=False, input_boxes=[[list(box)]])[0]
    assert box_logits.shape == box_ref.shape == (1, 1, 4 * SIDE // 16, 4 * SIDE // 16)
    assert err(box_logits, box_ref) < 1e-4
    # the comparison is sensitive: a point moved by 2% of the photo gives other logits
    moved, _ = backend.decode(emb, [(pts[0][0] + 0.02 * w, pts[0][1], True), pts[1]], [], True)
    assert err(moved, ref_logits) > 100 * err(logits, ref_logits) and err(moved, ref_logits) > 1e-3


@pytest.mark.parametrize("original", [(3000, 4500), (640, 960), (1200, 801), (4000, 3000), (200, 150)])
def test_upscale_matches_post_process_masks(backend, original):
    """Real SAM 2 geometry: 256x256 low-res logits over the whole (stretched) photo."""
    rng = np.random.default_rng(0)
    low = rng.normal(0, 4, (256, 256)).astype(np.float32)
    low[:, 200:] = -20  # no object there: the window logic must leave it empty
    emb = Embedding(None, (SIDE, SIDE), original)
    ours = backend.upscale(low, emb)
    ref = post_process(backend.processor, low, original)
    assert ours.shape == ref.shape == original and ours.dtype == bool
    assert (ours == ref).mean() > 0.999
    blob = np.full((256, 256), -10, np.float32)
    blob[40:60, 170:200] = 10
    assert (backend.upscale(blob, emb) == post_process(backend.processor, blob, original)).mean() > 0.9999


def test_a_low_res_blob_lands_where_sam2_puts_it(backend):
    """SAM 2 stretches the photo to the square (no padding): low-res row r covers photo rows r*H/256, not
    r*max(H,W)/256 as SAM 1's padded square would."""
    oh, ow = 3000, 4000
    low = np.full((256, 256), -10, np.float32)
    low[100:110, 50:60] = 10
    emb = Embedding(None, (SIDE, SIDE), (oh, ow))
    mask = backend.upscale(low, emb)
    ys, xs = np.nonzero(mask)
    fy, fx = oh / 256, ow / 256  # photo pixels per low-res pixel
    assert abs(ys.min() - 100 * fy) < fy and abs(ys.max() + 1 - 110 * fy) < fy
    assert abs(xs.min() - 50 * fx) < fx and abs(xs.max() + 1 - 60 * fx) < fx
    assert abs(ys.min() - 100 * max(oh, ow) / 256) > 200  # not SAM 1's padded geometry
    assert mask.sum() == pytest.approx(10 * fy * 10 * fx, rel=0.05)


def test_catalog_light_set_is_picked_without_a_gpu(tmp_path):
    """The app catalog's `light` set (SAM 2.1 Hiera-Tiny): chosen for CPU-only / 4 GB when installed,
    `standard` stays the choice for 6-8 GB cards."""
    from app.engine import Catalog
    root = tmp_path / "models"
    catalog = Catalog.load(root)
    entry = catalog.entry("sam2.1-hiera-tiny")
    assert entry.role == "sam" and entry.info["sam_type"] == "sam2" and entry.source == "hub"
    assert entry.license == "apache-2.0" and entry.commercial_use and entry.size_bytes
    assert catalog.set_models("light") == [m if m != "sam-vit-b" else "sam2.1-hiera-tiny"
                                           for m in catalog.set_models("standard")]
    for name in set(catalog.set_models("standard")) | set(catalog.set_models("light")):
        p = catalog.entry(name).local(root)
        if p.suffix == ".pth":
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b"x")
        else:
            p.mkdir(parents=True, exist_ok=True)
    assert {"standard", "light"} <= set(catalog.installed_sets())
    assert catalog.pick_set(None) == "light" and catalog.pick_set(4.0) == "light"
    assert catalog.pick_set(6.0) == "standard" and catalog.pick_set(8.0) == "standard"
    assert catalog.pick_set(24.0) == "standard"  # high is not installed
    assert catalog.resolve_set("light").sam_type == "sam2" and catalog.resolve_set("standard").sam_type == "vit_b"
    assert catalog.recommend_set(None) == "light" and catalog.recommend_set(8.0) == "standard"
    catalog.entry("sam2.1-hiera-tiny").local(root).rmdir()
    assert catalog.pick_set(None) == "standard"  # light not installed: the CPU still gets a set
