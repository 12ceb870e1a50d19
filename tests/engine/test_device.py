"""Device choice and the out-of-memory policy."""

from __future__ import annotations

import pytest
import torch

from app.engine import device as dev
from app.engine import requests as rq
from app.errors import UserError


def test_cpu_is_chosen_here_and_cuda_request_explains_itself():
    info = dev.pick_device(None)
    assert info.device in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        assert info.device == "cpu" and info.dtype_name in ("float32", "bfloat16")
        with pytest.raises(UserError, match="CUDA"):
            dev.pick_device("cuda")
    with pytest.raises(UserError, match="unknown device"):
        dev.pick_device("tpu")


@pytest.mark.parametrize("vram, tier", [(4, "sequential"), (6, "offload"), (8, "offload"), (10, "low"),
                                        (12, "low"), (16, "full"), (24, "full"), (None, "full")])
def test_memory_tiers_follow_vram(vram, tier):
    assert dev.tier_for_vram(vram) == tier


def test_tiers_step_down_to_the_bottom():
    info = dev.DeviceInfo("cuda", "float16", "test", 24.0, "full")
    seen = []
    while info is not None:
        seen.append(info.tier)
        info = info.lower_tier()
    assert seen == ["full", "low", "offload", "sequential"]


def test_out_of_memory_retries_a_tier_lower(engine, room, room_mask, monkeypatch):
    from app.engine import inpaint

    real = inpaint._sample
    calls = []

    def flaky(ctx, models, device, *args, **kw):
        calls.append(device.tier)
        if len(calls) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(ctx, models, device, *args, **kw)

    monkeypatch.setattr(inpaint, "_sample", flaky)
    events = []
    result = engine.run(rq.StageRequest(photo=room, mask=room_mask, models="tiny", model_set="tiny", steps=1,
                                        seed=1), sink=events.append)
    assert calls == ["full", "low"]
    assert any(isinstance(e, rq.Progress) and "out of GPU memory" in e.message for e in events)
    assert result.images[0].shape == room.shape
    # later jobs keep the lower tier instead of failing again
    assert engine.models.device("cpu").tier == "low"
    engine.models._devices.clear()


def test_oom_message_is_plain_words(engine):
    msg = engine.models.explain_failure(torch.cuda.OutOfMemoryError("CUDA out of memory"))
    assert "ran out of memory" in msg and "Standard" in msg


def test_memory_modes_map_to_tiers():
    assert [dev.tier_for_mode(m) for m in ("auto", "lowest", "low", "balanced", "high")] == [
        None, "sequential", "offload", "low", "full"]
    with pytest.raises(UserError, match="memory mode"):
        dev.tier_for_mode("huge")
