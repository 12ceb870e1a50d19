"""Device choice and the out-of-memory policy."""

from __future__ import annotations

import pytest
import torch

from app.engine import Progress, StageRequest
from app.engine.runtime import device as dev
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
    from app.engine.diffusion import inpaint

    real = inpaint._sample
    calls = []

    def flaky(ctx, models, device, *args, **kw):
        calls.append(device.tier)
        if len(calls) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(ctx, models, device, *args, **kw)

    monkeypatch.setattr(inpaint, "_sample", flaky)
    events = []
    result = engine.run(StageRequest(photo=room, mask=room_mask, models="tiny", model_set="tiny", steps=1,
                                        seed=1), sink=events.append)
    assert calls == ["full", "low"]
    assert any(isinstance(e, Progress) and "out of GPU memory" in e.message for e in events)
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


def test_vae_decodes_upcast_and_keeps_its_dtype_for_the_next_encode(tiny_models):
    """SDXL's VAE overflows in fp16: decode in fp32, then hand the pipeline back an fp16 VAE."""
    from types import SimpleNamespace

    from diffusers import AutoencoderKL

    from app.engine.diffusion.inpaint import decode_latents

    vae = AutoencoderKL.from_pretrained(tiny_models / "inpaint" / "tiny-sd15-inpainting" / "vae").to(torch.float16)
    assert vae.config.force_upcast
    seen = []
    real_decode = vae.decode

    def spy(z, **kw):
        seen.append((z.dtype, vae.dtype))
        return real_decode(z, **kw)

    vae.decode = spy
    latents = torch.randn(1, 4, 8, 12, dtype=torch.float16)
    image = decode_latents(SimpleNamespace(vae=vae), latents)
    assert image.shape == (64, 96, 3) and image.dtype.name == "uint8"
    assert seen == [(torch.float32, torch.float32)], "decoded once, in fp32"
    assert vae.dtype == torch.float16, "back to the pipeline's dtype"
