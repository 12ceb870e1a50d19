"""scripts/gpu_check.py: its CPU side (arguments, the plan per set and tier) runs anywhere."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def gpu_check(*args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


def test_dry_run_reports_the_plan_of_every_set_and_tier(tmp_path):
    out = tmp_path / "plan.json"
    proc = gpu_check("--dry-run", "--vram", "24", "--bnb", "no", "--sets", "best,best-commercial,standard",
                     "--tiers", "full,offload", "-o", out)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report == json.loads(out.read_text()) and report["dry_run"] is True
    checks = {(c["set"], c["tier"]): c for c in report["checks"]}
    assert set(checks) == {(s, t) for s in ("best", "best-commercial", "standard") for t in ("full", "offload")}
    flux = checks[("best", "full")]
    assert 11.8 < flux["parameters_b"]["transformer"] < 12.0, "FLUX.1 Fill: 12B parameters"
    assert flux["weights"]["transformer"]["format"] == "q8_0"
    assert flux["plan"]["offload"] == "model", "24 GB without bitsandbytes cannot keep T5 in bf16 resident"
    assert flux["fits"] and flux["weights_on_gpu_gb"] < 24
    assert checks[("standard", "full")]["plan"]["offload"] == "none"
    assert checks[("best-commercial", "offload")]["plan"]["offload"] == "model"
    assert 6.0 < checks[("best-commercial", "full")]["parameters_b"]["transformer"] < 6.3, "Z-Image: 6B"


def test_with_bitsandbytes_the_best_set_stays_resident_on_24_gb():
    proc = gpu_check("--dry-run", "--vram", "24", "--bnb", "yes", "--sets", "best", "--tiers", "full")
    (check,) = json.loads(proc.stdout)["checks"]
    assert check["plan"] == {"tier": "full", "offload": "none", "vae_tiling": False, "text_encoder_4bit": True,
                             "transformer_8bit": False}
    assert check["weights"]["text_encoder_2"]["format"] == "nf4" and check["fits"]


def test_bad_arguments_are_named():
    proc = gpu_check("--sets", "best,nope", "--dry-run")
    assert proc.returncode == 2 and "unknown set or tier: nope" in proc.stderr
    proc = gpu_check("--size", "1000", "--dry-run")
    assert proc.returncode == 2 and "multiple of 64" in proc.stderr


def test_without_cuda_it_says_so_and_prints_the_plan():
    proc = gpu_check("--sets", "standard", "--tiers", "full")
    assert proc.returncode == 0 and "no CUDA device here" in proc.stderr
    assert json.loads(proc.stdout)["checks"][0]["set"] == "standard"
