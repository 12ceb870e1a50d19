"""`train-lora` with the tiny models: it learns, it resumes exactly, it runs data-parallel, its LoRA is used."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from safetensors import safe_open
from training_helpers import ROOMS, run_cli

from app.engine.training.config import ALL_LAYERS, TrainConfig
from app.engine.training.lora_file import read_metadata
from app.engine.training.manifest import manifest_hash
from app.engine.training.metrics_log import read_rows
from app.errors import UserError


def _config(dataset, models, out, **kw) -> TrainConfig:
    base = dict(dataset=str(dataset), output=str(out), models=str(models), base="tiny", device="cpu", rank=4,
                alpha=4.0, val_steps=2, register=False)
    return TrainConfig(**{**base, **kw}).validate()


def _val(rows, key="latent_mse_mask"):
    return {r["step"]: r[key] for r in rows if r["kind"] == "val"}


@pytest.mark.slow
def test_overfitting_one_picture_learns_it_and_the_lora_is_what_learns(small_dataset, lpips_models, tmp_path,
                                                                       one_thread):
    """Loss falls at least 10x and the sampled latents inside the mask come close to the picture's.

    Measured in latent space: the tiny VAE is random, so its decoded pixels say nothing, while the
    denoised latents are exactly what the UNet learnt. --vae-mean: that random VAE's posterior
    spread (std ~0.17) is larger than the picture's own latent signal (~0.04), so sampled targets
    would differ more from step to step than pictures differ; a trained VAE's spread is tiny. The
    random UNet is no denoiser at all, hence a LoRA on every layer (`all`), not only attention."""
    from app.engine.training.trainer import train

    common = dict(overfit=True, steps=300, targets=list(ALL_LAYERS), rank=16, alpha=16.0, lr=4e-3, batch=4,
                  dropout=0.0, warmup_steps=30, vae_mean=True, val_every=0, val_steps=4)
    on = train(_config(small_dataset, lpips_models, tmp_path / "on.safetensors", **common))
    off = train(_config(small_dataset, lpips_models, tmp_path / "off.safetensors", adapter_enabled=False, **common))
    assert on["loss_first"] / on["loss_last"] >= 10, on
    assert 0.7 < off["loss_first"] / off["loss_last"] < 1.4, off
    learnt, frozen = _val(read_rows(on["log"])), _val(read_rows(off["log"]))
    assert learnt[300] < 0.1 * learnt[0], learnt
    assert frozen[300] == pytest.approx(frozen[0], rel=1e-4), "without the LoRA nothing changes"
    assert learnt[0] == pytest.approx(frozen[0], rel=1e-4), "a new LoRA starts as no LoRA (zero B)"


def test_resume_repeats_the_uninterrupted_run(train_only_dataset, tiny_models, tmp_path, one_thread):
    """Stopped at step 3 and resumed, a run has the same loss at every later step and ends with the
    same LoRA, bit for bit (data order, noise, timesteps and dropout are seeded by the step)."""
    from app.engine.training.trainer import train

    whole = train(_config(train_only_dataset, tiny_models, tmp_path / "a.safetensors", steps=6, save_every=3))
    assert whole["state"] == "done" and whole["best"] is None
    resumed = train(_config(train_only_dataset, tiny_models, tmp_path / "b.safetensors", steps=6,
                            resume=str(tmp_path / "a.training" / "checkpoints" / "step-0000003")))
    a = {r["step"]: r["loss"] for r in read_rows(whole["log"])}
    b = {r["step"]: r["loss"] for r in read_rows(resumed["log"])}
    assert sorted(b) == [4, 5, 6] and all(b[s] == a[s] for s in b), (a, b)
    assert len(set(a.values())) == 6
    with safe_open(whole["lora"], "pt") as fa, safe_open(resumed["lora"], "pt") as fb:
        assert sorted(fa.keys()) == sorted(fb.keys())
        assert all(np.array_equal(fa.get_tensor(k).numpy(), fb.get_tensor(k).numpy()) for k in fa.keys())
    with pytest.raises(UserError, match="rank"):
        train(_config(train_only_dataset, tiny_models, tmp_path / "c.safetensors", steps=8, rank=8,
                      resume=str(tmp_path / "a.training")))


def test_a_resumed_run_continues_its_own_log(train_only_dataset, tiny_models, tmp_path, one_thread):
    from app.engine.training.trainer import train

    first = train(_config(train_only_dataset, tiny_models, tmp_path / "r.safetensors", steps=4, save_every=2))
    more = train(_config(train_only_dataset, tiny_models, tmp_path / "r.safetensors", steps=7,
                         resume=str(tmp_path / "r.training")))
    assert first["steps"] == 4 and more["steps"] == 7
    assert [r["step"] for r in read_rows(more["log"])] == list(range(1, 8))
    assert Image.open(more["plot"]).format == "PNG"
    assert open(more["csv"], encoding="utf-8").readline().startswith("step,kind,epoch,loss,lr")


@pytest.mark.slow
def test_two_cpu_processes_train_and_their_lora_is_used_by_name(small_dataset, lpips_models, tmp_path):
    out = tmp_path / "loras" / "two-proc.safetensors"
    args = ["train-lora", small_dataset, "--task", "defurnish", "-o", out, "--models", lpips_models, "--base", "tiny",
            "--device", "cpu", "--targets", "all", "--rank", 8, "--alpha", 8, "--lr", 4e-3, "--dropout", 0,
            "--vae-mean", "--val-every", 0, "--val-steps", 2, "--save-every", 10]
    result = json.loads(run_cli(*args, "--processes", 2, "--steps", 30, "--json").stdout)
    assert result["processes"] == 2 and result["state"] == "done" and result["steps"] == 30
    assert result["loss_last"] < 0.8 * result["loss_first"], result
    for key in ("psnr", "ssim", "lpips"):
        assert result["best"][key] is not None and np.isfinite(result["best"][key])
    assert result["lora"] == str(out) and result["name"] == "two-proc"
    meta = read_metadata(out)
    assert meta["task"] == "defurnish" and meta["base_set"] == "tiny" and meta["rank"] == 8
    assert meta["dataset_sha256"] == manifest_hash(small_dataset) and meta["best"]["step"] == 30

    # found by name: de-furnishing with it differs from without it inside the mask, never outside
    photo, mask = ROOMS / "empty_a.png", ROOMS / "empty_a_mask0.png"
    outputs = {}
    for tag, extra in (("lora", ["--lora", "two-proc", "--lora-scale", 1.0]), ("none", [])):
        target = tmp_path / f"{tag}.png"
        run_cli("defurnish", photo, "--mask", mask, "--models", lpips_models, "--model-set", "tiny", "--steps", 3,
                "--seed", 5, "-o", target, *extra)
        outputs[tag] = np.asarray(Image.open(target).convert("RGB")).astype(int)
    original = np.asarray(Image.open(photo).convert("RGB")).astype(int)
    changed = (outputs["lora"] != outputs["none"]).any(axis=-1)
    assert changed.mean() > 0.01
    untouched = (outputs["none"] == original).all(axis=-1)
    assert not changed[untouched].any()

    # a checkpoint of the 2-process run resumes in one process
    more = json.loads(run_cli(*args, "--steps", 34, "--resume", out.with_suffix(".training"), "--json").stdout)
    assert more["processes"] == 1 and more["steps"] == 34 and more["state"] == "done"


def test_bad_options_and_missing_lpips_name_the_problem(small_dataset, train_only_dataset, lpips_models, tmp_path):
    base = ["train-lora", train_only_dataset, "--task", "defurnish", "--models", lpips_models, "--base", "tiny"]
    for extra, words in ((["--rank", 0], "--rank"), (["--precision", "fp16", "--device", "cpu"], "fp16"),
                         (["--optimizer", "adamw8bit", "--device", "cpu"], "CUDA"), (["--lr", "nan"], "--lr")):
        proc = run_cli(*base, "-o", tmp_path / "x.safetensors", *extra, check_rc=2)
        assert words in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("train-lora", tmp_path / "none", "--task", "stage", "-o", tmp_path / "y.safetensors", check_rc=2)
    assert "not a dataset folder" in proc.stderr
    proc = run_cli("train-lora", small_dataset, "--task", "defurnish", "--models", "tiny", "-o",
                   tmp_path / "z.safetensors", "--steps", 2, check_rc=2)
    assert "LPIPS" in proc.stderr and "models download" in proc.stderr
    # the failed run saved nothing, so the corrected command may use the same name
    assert (tmp_path / "z.training").is_dir()
    run_cli("train-lora", small_dataset, "--task", "defurnish", "--models", lpips_models, "--base", "tiny", "-o",
            tmp_path / "z.safetensors", "--steps", 1)
    assert (tmp_path / "z.safetensors").is_file()
    (tmp_path / "taken.safetensors").write_bytes(b"mine")
    proc = run_cli(*base, "-o", tmp_path / "taken.safetensors", "--steps", 1, check_rc=2)
    assert "exists" in proc.stderr and (tmp_path / "taken.safetensors").read_bytes() == b"mine"
    proc = run_cli(*base[:-1], "best", "-o", tmp_path / "flux.safetensors", "--steps", 1, check_rc=2)
    assert "a flux set; LoRAs are trained on SD1.5 and SDXL sets" in proc.stderr


def test_early_stopping_keeps_the_best_lora(small_dataset, lpips_models, tmp_path, one_thread):
    """A run that stops improving stops after --patience validations, and the LoRA it leaves is the best one."""
    from app.engine.training.trainer import train

    # with the LoRA switched off every validation measures the same: no improvement after the first
    result = train(_config(small_dataset, lpips_models, tmp_path / "e.safetensors", steps=40, adapter_enabled=False,
                           val_every=2, patience=2))
    assert result["stopped_early"] and result["state"] == "done" and result["steps"] == 6
    assert result["best"]["step"] == 2
    best = tmp_path / "e.training" / "best.safetensors"
    assert best.read_bytes() == (tmp_path / "e.safetensors").read_bytes()
    assert read_metadata(best)["best"]["step"] == 2


def test_an_sdxl_base_trains_and_validates_too(small_dataset, lpips_models, tmp_path, one_thread):
    """The SDXL path: two text encoders, pooled text and size ids for the UNet and the validation pipeline."""
    from app.engine.training.trainer import train

    result = train(_config(small_dataset, lpips_models, tmp_path / "xl.safetensors", steps=3, base="tiny-sdxl"))
    assert result["state"] == "done" and np.isfinite(result["loss_last"]) and result["best"]["lpips"] is not None
    assert read_metadata(result["lora"])["arch"] == "sdxl"


def test_a_staging_lora_trains_on_paired_rooms(room_folders, tiny_models, tmp_path, one_thread):
    """Staging pairs: the model is given the empty room and learns the staged one."""
    from app.engine.training.dataset_builder import DatasetOptions, build_dataset
    from app.engine.training.trainer import train

    masks = tmp_path / "masks"
    masks.mkdir()
    for i in range(2):
        (masks / f"empty_a_staged{i}.png").write_bytes((ROOMS / f"empty_a_mask{i}.png").read_bytes())
    build_dataset(DatasetOptions(empty_dir=str(room_folders["empty"]), furnished=str(room_folders["staged"]),
                                 masks_dir=str(masks), task="stage", output=str(tmp_path / "d"), size=64,
                                 split=(1, 0, 0)))
    result = train(_config(tmp_path / "d", tiny_models, tmp_path / "s.safetensors", steps=2, task="stage"))
    assert result["state"] == "done" and read_metadata(result["lora"])["task"] == "stage"


@pytest.mark.slow
def test_a_staging_lora_can_train_the_inpaint_controlnet_too(room_folders, lpips_models, tmp_path):
    """`--controlnet`: the inpaint ControlNet in the loop with its own LoRA, validated through the ControlNet
    pipeline, saved beside the UNet's; `stage --lora NAME --inpaint-control W` applies both halves."""
    import shutil

    masks = tmp_path / "masks"
    masks.mkdir()
    staged = tmp_path / "staged"
    shutil.copytree(room_folders["staged"], staged)
    for i in range(2):
        shutil.copy(ROOMS / f"empty_a_mask{i}.png", masks / f"empty_a_staged{i}.png")
    shutil.copy(ROOMS / "empty_b_staged.png", staged / "other_room.png")
    shutil.copy(ROOMS / "empty_b_mask.png", masks / "other_room.png")
    run_cli("dataset", room_folders["empty"], "--task", "stage", "--furnished", staged, "--masks", masks, "-o",
            tmp_path / "d", "--size", 64)
    out = tmp_path / "cn-style.safetensors"
    result = json.loads(run_cli("train-lora", tmp_path / "d", "--task", "stage", "-o", out, "--models", lpips_models,
                                "--base", "tiny", "--controlnet", "--targets", "all", "--rank", 4, "--alpha", 4,
                                "--lr", 1e-2, "--steps", 6, "--val-every", 3, "--val-steps", 2, "--json").stdout)
    assert result["state"] == "done" and result["best"]["lpips"] is not None
    half = tmp_path / "cn-style.controlnet.safetensors"
    assert half.is_file() and read_metadata(half)["task"] == "stage"
    more = json.loads(run_cli("train-lora", tmp_path / "d", "--task", "stage", "-o", out, "--models", lpips_models,
                              "--base", "tiny", "--controlnet", "--targets", "all", "--rank", 4, "--alpha", 4,
                              "--lr", 1e-2, "--steps", 8, "--val-every", 0, "--val-steps", 2, "--resume",
                              tmp_path / "cn-style.training", "--json").stdout)
    assert more["state"] == "done" and more["steps"] == 8
    with safe_open(str(half), "pt") as f:
        assert f.keys() and all(k.startswith("controlnet.") and "lora_" in k for k in f.keys())

    photo, mask = ROOMS / "empty_b.png", ROOMS / "empty_b_mask.png"

    def stage(tag, *extra):
        target = tmp_path / f"{tag}.png"
        run_cli("stage", photo, "--mask", mask, "--models", lpips_models, "--model-set", "tiny", "--steps", 3,
                "--seed", 2, "--inpaint-control", 0.8, "-o", target, *extra)
        return np.asarray(Image.open(target).convert("RGB")).astype(int)

    both = stage("both", "--lora", result["name"], "--lora-scale", 1.0)
    half.rename(tmp_path / "aside.safetensors")
    unet_only = stage("unet", "--lora", result["name"], "--lora-scale", 1.0)
    assert (both != unet_only).any(), "the ControlNet's half of the LoRA changes the result"


def test_bf16_with_gradient_checkpointing(small_dataset, lpips_models, tmp_path, one_thread):
    """The mixed-precision path a GPU takes (bf16 runs on the CPU too): a half-precision frozen base,
    the LoRA in fp32, gradient checkpointing, and validation sampling under autocast."""
    from app.engine.training.trainer import train

    result = train(_config(small_dataset, lpips_models, tmp_path / "bf16.safetensors", steps=3, precision="bf16",
                           gradient_checkpointing=True, val_every=3))
    assert result["state"] == "done" and np.isfinite(result["loss_last"]) and result["best"]["lpips"] is not None
    with safe_open(result["lora"], "pt") as f:
        assert {str(f.get_tensor(k).dtype) for k in f.keys()} == {"torch.float32"}
        assert any(f.get_tensor(k).abs().sum() > 0 for k in f.keys() if "lora_B" in k), "gradients reached the LoRA"


def test_peak_memory_is_the_training_process_own_not_its_parents():
    """The bench starts train-lora from a big process; Linux keeps ru_maxrss across exec, so the
    child must report its own high-water mark, not the parent's."""
    import subprocess
    import sys

    ballast = np.ones(1_500_000_000 // 8)  # this process now peaks at 1.5 GB or more
    code = "from app.engine.training.setup import peak_memory_mb; print(peak_memory_mb('cpu'))"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    del ballast
    peak = float(child.stdout.strip())
    assert 50 < peak < 1400, f"the child reported {peak} MB"
