"""Fast mode (step-distillation LoRAs and their schedulers) and the memory plans of the big families."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine import Progress, StageRequest
from app.engine.diffusion.pipelines import pipelines_for
from app.errors import ModelMissing


def stage(engine, photo, mask, model_set="tiny", **kw):
    kw.setdefault("seed", 5)
    return engine.run(StageRequest(photo=photo, mask=mask, models="tiny", model_set=model_set, **kw))


def test_fast_mode_runs_the_lcm_preset_with_its_lora(engine, room, room_mask):
    normal = stage(engine, room, room_mask, steps=None, guidance=None)
    events = []
    fast = engine.run(StageRequest(photo=room, mask=room_mask, models="tiny", model_set="tiny", steps=None,
                                      guidance=None, fast=True, seed=5), sink=events.append)
    assert (normal.timings["steps"], normal.timings["guidance"]) == (30, 7.5)
    assert (fast.timings["steps"], fast.timings["guidance"], fast.timings["scheduler"]) == (4, 1.0, "lcm")
    assert [e.step for e in events if isinstance(e, Progress) and e.total] == [1, 2, 3, 4]
    assert not np.array_equal(normal.images[0], fast.images[0])
    assert np.array_equal(fast.images[0][~fast.mask], room[~fast.mask])
    assert any(m["model"] == "tiny-lcm-lora-sd15" for m in fast.timings["licenses"])
    cache = pipelines_for(engine.models, engine.models.device("cpu"))
    pipe = cache.get(engine.models.model_set(StageRequest(photo=room, models="tiny", model_set="tiny")))
    assert type(pipe.scheduler).__name__ == "LCMScheduler"
    # and back: a normal job after a fast one is the normal job again (scheduler and LoRA switched off)
    again = stage(engine, room, room_mask, steps=None, guidance=None)
    assert np.array_equal(again.images[0], normal.images[0])
    assert type(pipe.scheduler).__name__ == "DPMSolverMultistepScheduler"


def test_fast_mode_is_reproducible_and_loads_its_lora_once(engine, room, room_mask):
    a = stage(engine, room, room_mask, fast=True, seed=3).images[0]
    loads = engine.models.loads
    b = stage(engine, room, room_mask, fast=True, seed=3).images[0]
    assert np.array_equal(a, b) and engine.models.loads == loads


@pytest.mark.parametrize("model_set", ["tiny-sdxl", "best"])
def test_fast_mode_of_the_other_sets(engine, room, room_mask, model_set):
    result = stage(engine, room, room_mask, model_set=model_set, steps=None, guidance=None, fast=True)
    expected = {"tiny-sdxl": (4, 1.0), "best": (8, 30.0)}[model_set]
    assert (result.timings["steps"], result.timings["guidance"]) == expected and result.timings["fast"]
    assert np.array_equal(result.images[0][~result.mask], room[~result.mask])


def test_a_few_step_model_says_its_normal_preset_is_fast(engine, room, room_mask):
    result = stage(engine, room, room_mask, model_set="best-commercial", steps=None, guidance=None, fast=True)
    assert result.timings["steps"] == 9 and "few-step model already" in result.timings["fast_note"]


def test_missing_fast_lora_is_named_with_the_way_to_get_it(tmp_path, tiny_models, room, room_mask):
    import shutil

    from app.engine import Engine
    root = tmp_path / "models"
    shutil.copytree(tiny_models, root)
    (root / "loras" / "tiny-lcm-lora-sd15.safetensors").unlink()
    engine = Engine(models=str(root), device="cpu")
    try:
        with pytest.raises(ModelMissing, match="needs the LoRA 'tiny-lcm-lora-sd15'.*models download"):
            engine.run(StageRequest(photo=room, mask=room_mask, models=str(root), model_set="tiny", fast=True,
                                       steps=1))
        # the set itself still works without it
        assert engine.run(StageRequest(photo=room, mask=room_mask, models=str(root), model_set="tiny",
                                          steps=1)).images
    finally:
        engine.shutdown()


def test_tiny_loras_have_the_real_key_layouts(tiny_models):
    from safetensors import safe_open

    with safe_open(str(tiny_models / "loras" / "tiny-lcm-lora-sd15.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert keys and all(k.startswith("lora_unet_") for k in keys)
    assert {k.rsplit(".", 2)[-2] if k.endswith(".weight") else "alpha" for k in keys} == {"lora_down", "lora_up",
                                                                                          "alpha"}
    with safe_open(str(tiny_models / "loras" / "tiny-flux-turbo.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert keys and all(k.startswith("transformer.") and (".lora_A." in k or ".lora_B." in k) for k in keys)


# ---- memory plans --------------------------------------------------------------------


class Big:
    big, resident_vram_gb, resident_vram_gb_bf16 = True, 22.0, 29.0


class Small:
    big, resident_vram_gb, resident_vram_gb_bf16 = False, 0.0, 0.0


def test_memory_plans():
    from app.engine.diffusion.quant import plan_for

    p = plan_for(Big, "cuda", "full", 24.0, has_gguf=True, bnb=True)
    assert (p.offload, p.text_encoder_4bit, p.transformer_8bit, p.vae_tiling) == ("none", True, False, False)
    p = plan_for(Big, "cuda", "full", 24.0, has_gguf=True, bnb=False)
    assert p.offload == "model" and not p.text_encoder_4bit and p.vae_tiling, "no bitsandbytes: move, don't shrink"
    assert plan_for(Big, "cuda", "full", 40.0, has_gguf=True, bnb=False).offload == "none"
    p = plan_for(Big, "cuda", "full", 16.0, has_gguf=False, bnb=True)
    assert p.offload == "none" and p.text_encoder_4bit and p.transformer_8bit
    p = plan_for(Big, "cuda", "offload", 24.0, bnb=True)
    assert p.offload == "model" and not p.text_encoder_4bit
    assert plan_for(Big, "cuda", "sequential", 8.0, bnb=True).offload == "sequential"
    assert plan_for(Big, "cpu", "full", None, bnb=True).offload == "none"
    p = plan_for(Small, "cuda", "low", 10.0, bnb=True)
    assert (p.offload, p.text_encoder_4bit, p.vae_tiling) == ("none", False, True)


def test_automatic_set_choice_skips_non_commercial_sets(tmp_path, monkeypatch):
    from app.engine import Catalog
    from app.engine.models.entries import ModelEntry

    entries = {n: ModelEntry(n, role, f"x/{n}", "sd15", {"commercial_use": ok}) for n, role, ok in (
        ("free", "inpaint", True), ("nc", "inpaint", False), ("sam", "sam", True))}
    sets = {"open": {"arch": "sd15", "inpaint": "free", "sam": "sam", "min_vram_gb": 6},
            "closed": {"arch": "flux", "inpaint": "nc", "sam": "sam", "min_vram_gb": 20}}
    catalog = Catalog(entries, sets, tmp_path)
    monkeypatch.setattr(catalog, "refresh", lambda: False)
    monkeypatch.setattr(catalog, "is_installed", lambda name: True)
    assert catalog.pick_set(24.0) == "open", "a non-commercial set is used only when asked for by name"
    assert catalog.set_commercial("open") and not catalog.set_commercial("closed")
