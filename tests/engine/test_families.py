"""The new families (FLUX.1 Fill + ControlNet, Z-Image Turbo + union ControlNet) through the real engine.

Each runs with its tiny twin, written in the real on-disk layout and loaded by the real
loading code (the FLUX transformer from a GGUF file), with the guarantees the SD sets have."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine import Cancelled, DefurnishRequest, Progress, StageRequest
from app.engine.diffusion.pipelines import pipelines_for
from app.errors import JobCancelled

SETS = ["best", "best-commercial"]


def run(engine, kind, photo, mask, model_set, **kw):
    kw.setdefault("steps", 3)
    kw.setdefault("seed", 7)
    cls = StageRequest if kind == "stage" else DefurnishRequest
    return engine.run(cls(photo=photo, mask=mask, models="tiny", model_set=model_set, **kw))


@pytest.mark.parametrize("model_set", SETS)
@pytest.mark.parametrize("kind", ["stage", "defurnish"])
def test_jobs_repaint_the_mask_and_keep_every_other_pixel(engine, room, room_mask, model_set, kind):
    result = run(engine, kind, room, room_mask, model_set)
    (out,) = result.images
    assert out.shape == room.shape and out.dtype == np.uint8
    assert result.mask[room_mask].all()
    assert np.array_equal(out[~result.mask], room[~result.mask]), "outside the mask: the original, bit for bit"
    assert (out[room_mask] != room[room_mask]).any(axis=-1).mean() > 0.5, "the masked region was repainted"
    assert result.timings["model_set"] == model_set
    assert result.timings["model_size"][0] % 16 == 0 and result.timings["model_size"][1] % 16 == 0


@pytest.mark.parametrize("model_set", SETS)
def test_seeds_reproduce(engine, room, room_mask, model_set):
    a = run(engine, "stage", room, room_mask, model_set, seed=11, steps=2).images[0]
    b = run(engine, "stage", room, room_mask, model_set, seed=11, steps=2).images[0]
    c = run(engine, "stage", room, room_mask, model_set, seed=12, steps=2).images[0]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("model_set", SETS)
def test_progress_has_a_preview_of_the_unpacked_latents(engine, room, room_mask, model_set):
    events = []
    result = engine.run(StageRequest(photo=room, mask=room_mask, models="tiny", model_set=model_set, steps=3,
                                        seed=3), sink=events.append)
    steps = [e for e in events if isinstance(e, Progress) and e.total]
    assert [e.step for e in steps] == [1, 2, 3]
    w, h = result.timings["model_size"]
    assert all(e.preview is not None and e.preview.shape == (h // 8, w // 8, 3) for e in steps)
    assert len({e.preview.tobytes() for e in steps}) > 1, "the preview follows the sampler"


@pytest.mark.parametrize("model_set", SETS)
def test_cancel_lands_within_a_step(engine, room, room_mask, model_set):
    seen, box = [], {}

    def sink(event):
        seen.append(event)
        if isinstance(event, Progress) and event.step == 2:
            box["job"].cancel()

    box["job"] = job = engine.submit(StageRequest(photo=room, mask=room_mask, models="tiny", model_set=model_set,
                                                     steps=30, seed=1), sink)
    with pytest.raises(JobCancelled):
        job.future.result(timeout=300)
    assert max(e.step for e in seen if isinstance(e, Progress) and e.total) <= 3
    assert isinstance(seen[-1], Cancelled)


@pytest.mark.parametrize("model_set", SETS)
def test_one_load_per_session(engine, room, room_mask, model_set):
    run(engine, "stage", room, room_mask, model_set, steps=1)
    before = engine.models.loads
    run(engine, "stage", room, room_mask, model_set, steps=1, style="industrial")
    run(engine, "defurnish", room, room_mask, model_set, steps=1)
    assert engine.models.loads == before


@pytest.mark.parametrize("model_set", SETS)
def test_out_of_memory_retries_a_tier_lower(room, room_mask, model_set, monkeypatch):
    import torch

    from app.engine import Engine
    from app.engine.diffusion.families import family_for
    family = type(family_for("flux" if model_set == "best" else "zimage"))
    real, calls = family.sample, []

    def flaky(self, cache, pipe, args):
        calls.append(cache.device.tier)
        if len(calls) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, cache, pipe, args)

    monkeypatch.setattr(family, "sample", flaky)
    engine = Engine(models="tiny", device="cpu")
    try:
        events = []
        result = engine.run(StageRequest(photo=room, mask=room_mask, models="tiny", model_set=model_set, steps=1,
                                            seed=1), sink=events.append)
    finally:
        engine.shutdown()
    assert calls == ["full", "low"], "the second try runs one memory tier lower"
    assert any("retrying in the 'low' memory mode" in getattr(e, "message", "") for e in events)
    assert np.array_equal(result.images[0][~result.mask], room[~result.mask])


def test_flux_transformer_is_the_quantized_gguf_file(engine, room, room_mask):
    run(engine, "stage", room, room_mask, "best", steps=1)
    models = engine.models.model_set(StageRequest(photo=room, models="tiny", model_set="best"))
    assert models.transformer.suffix == ".gguf"
    pipe = pipelines_for(engine.models, engine.models.device("cpu")).get(models)
    weight = pipe.transformer.transformer_blocks[0].attn.to_q.weight
    assert type(weight).__name__ == "GGUFParameter" and weight.dtype == torch_uint8()
    assert pipe.controlnet is not None and type(pipe).__name__ == "FluxFillControlPipeline"


def torch_uint8():
    import torch

    return torch.uint8


def test_the_controlnet_steers_the_flux_result(engine, room, room_mask):
    """With its weight at 0 the ControlNet adds nothing; at 1 the guides change the picture."""
    off = run(engine, "stage", room, room_mask, "best", steps=2, depth_scale=0.0, canny_scale=0.0).images[0]
    on = run(engine, "stage", room, room_mask, "best", steps=2, depth_scale=1.0, canny_scale=1.0).images[0]
    assert not np.array_equal(off, on)


def test_zimage_takes_the_stronger_guide():
    from PIL import Image

    from app.engine.diffusion.families.zimage import pick_guide

    depth, canny = Image.new("RGB", (8, 8), 1), Image.new("RGB", (8, 8), 2)
    assert pick_guide([depth, canny], [0.5, 0.5], np.zeros((8, 8, 3), np.uint8)) == (depth, 0.5)
    assert pick_guide([depth, canny], [0.3, 0.6], np.zeros((8, 8, 3), np.uint8)) == (canny, 0.6)
    blank, weight = pick_guide([], [], np.zeros((8, 8, 3), np.uint8))
    assert weight == 0.0 and blank.size == (8, 8)


def test_zimage_controlnet_config_is_read_off_the_file(tiny_models):
    import json

    from app.engine.diffusion.quant import zimage_controlnet_config

    base = json.loads((tiny_models / "inpaint" / "tiny-zimage-turbo" / "transformer" / "config.json").read_text())
    config = zimage_controlnet_config(tiny_models / "controlnet" / "tiny-zimage-controlnet-union.safetensors", base)
    assert config["control_layers_places"] == [0] and config["control_refiner_layers_places"] == [0]
    assert config["control_in_dim"] == 33, "inpaint mode: guide (16) + mask (1) + masked photo (16)"
    assert config["add_control_noise_refiner"] == "control_noise_refiner" and config["dim"] == base["dim"]


def test_licences_travel_with_the_result(engine, room, room_mask):
    result = run(engine, "stage", room, room_mask, "best", steps=1)
    names = {m["model"] for m in result.timings["licenses"]}
    assert {"tiny-flux-fill", "tiny-flux-fill-q8", "tiny-flux-controlnet-union"} <= names
