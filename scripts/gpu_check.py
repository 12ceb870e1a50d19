"""GPU validation: each model set at real size with random weights, one 1024 px job per set and memory tier.

    python scripts/gpu_check.py [--sets best,best-commercial,high,standard] [--tiers full,offload]
                                [--size 1024] [--steps N] [--fast] [--dry-run] [--vram GB] [-o REPORT.json]

On a CUDA machine it builds every component of a set at its published size with random
weights directly on the GPU (weights do not change speed), hands the pipeline to the real
engine and runs one staging job whose crop is size x size through the whole path (crop,
guides, pipeline, paste-back), once per memory tier, and reports seconds per image and
peak VRAM as JSON. Without CUDA (or with --dry-run) it prints the plan only: parameter
counts, the memory plan per tier and the weight memory it implies. No network, no
downloads; the depth and SAM models are the tiny test ones (they are not what is measured).
Quantization is reported, not simulated: the FLUX transformer runs in bf16 here, where
the `best` set loads a Q8_0 GGUF (same compute, about half the weight memory).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

SET_FAMILY = {"standard": "sd15", "light": "sd15", "high": "sdxl", "best": "flux", "best-16gb": "flux",
              "best-commercial": "zimage"}
TINY_TWIN = {"sd15": "tiny", "sdxl": "tiny-sdxl", "flux": "best", "zimage": "best-commercial"}
TIERS = ("full", "low", "offload", "sequential")
BYTES = {"bf16": 2, "fp16": 2, "nf4": 0.56, "int8": 1.0, "q8_0": 1.06, "q4_k_s": 0.57}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sets", default="best,best-commercial,high,standard")
    p.add_argument("--tiers", default="full,offload")
    p.add_argument("--size", type=int, default=1024, help="model resolution of the job (a multiple of 64)")
    p.add_argument("--steps", type=int, default=None, help="default: each set's preset")
    p.add_argument("--fast", action="store_true", help="also time fast mode (LoRA weights: the tiny ones' shape)")
    p.add_argument("--dry-run", action="store_true", help="the plan only, no GPU work")
    p.add_argument("--vram", type=float, default=None, help="plan for this many GB (default: the GPU's)")
    p.add_argument("--bnb", choices=["auto", "yes", "no"], default="auto",
                   help="plan as if bitsandbytes is (not) installed (default: whether it is)")
    p.add_argument("-o", "--output", default=None, help="write the JSON report here too")
    args = p.parse_args(argv)
    args.sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    args.tiers = [t.strip() for t in args.tiers.split(",") if t.strip()]
    unknown = [s for s in args.sets if s not in SET_FAMILY] + [t for t in args.tiers if t not in TIERS]
    if unknown:
        p.error(f"unknown set or tier: {', '.join(unknown)} (sets: {', '.join(SET_FAMILY)}; tiers: {', '.join(TIERS)})")
    if args.size % 64 or not 256 <= args.size <= 2048:
        p.error("--size must be a multiple of 64 between 256 and 2048")
    return args


def weight_bytes(component: str, params: int, family: str, plan, set_name: str) -> tuple[float, str]:
    """(GB, format) of one component's weights under a memory plan."""
    fmt = "fp16" if family in ("sd15", "sdxl") else "bf16"
    if component == "transformer" and family == "flux":
        fmt = "q4_k_s" if set_name == "best-16gb" else "q8_0"  # the set's GGUF file
    elif component == "transformer" and plan.transformer_8bit:
        fmt = "int8"
    elif component in ("text_encoder_2" if family == "flux" else "text_encoder",) and plan.text_encoder_4bit \
            and family in ("flux", "zimage"):
        fmt = "nf4"
    return params * BYTES[fmt] / 2**30, fmt


def plan_checks(sets, tiers, vram_gb: float | None, bnb: bool | None = None) -> list[dict]:
    """Per set and tier: the family, the memory plan and the weights it keeps on the GPU."""
    from real_size import parameter_counts

    from app.engine.diffusion.families import family_for
    from app.engine.diffusion.quant import plan_for

    counts: dict[str, dict] = {}
    out = []
    for name in sets:
        family = SET_FAMILY[name]
        counts.setdefault(family, parameter_counts(family))
        fam = family_for(family)
        for tier in tiers:
            plan = plan_for(fam, "cuda", tier, vram_gb, has_gguf=family == "flux", bnb=bnb)
            parts = {c: weight_bytes(c, n, family, plan, name) for c, n in counts[family].items()}
            total = sum(gb for gb, _ in parts.values())
            # model offload keeps the denoiser and its ControlNets on the GPU together, the rest one at a time
            denoise = sum(gb for c, (gb, _) in parts.items() if c in ("transformer", "unet") or "controlnet" in c)
            others = max([gb for c, (gb, _) in parts.items() if c not in ("transformer", "unet")
                          and "controlnet" not in c] or [0.0])
            resident = {"none": total, "model": max(denoise, others), "sequential": 0.0}[plan.offload]
            out.append({
                "set": name, "family": family, "tier": tier, "plan": plan.to_dict(),
                "parameters_b": {c: round(n / 1e9, 3) for c, n in counts[family].items()},
                "weights": {c: {"gb": round(gb, 2), "format": f} for c, (gb, f) in parts.items()},
                "weights_total_gb": round(total, 2), "weights_on_gpu_gb": round(resident, 2),
                "fits": None if vram_gb is None else resident < vram_gb,
            })
    return out


def run_one(check: dict, size: int, steps: int | None, fast: bool) -> dict:
    """Build the set at real size on the GPU, run one job through the real engine, measure."""
    import dataclasses

    import numpy as np
    import torch
    from real_size import build

    from app.engine import Engine, StageRequest
    from app.engine.diffusion.families import family_for
    from app.engine.diffusion.pipelines import pipelines_for

    family = family_for(check["family"])
    engine = Engine(models="tiny", device="cuda", memory_mode=check["tier"])
    try:
        twin = TINY_TWIN[check["family"]]
        probe = StageRequest(photo=np.zeros((8, 8, 3), np.uint8), models="tiny", model_set=twin)
        models = dataclasses.replace(engine.models.model_set(probe), native=size)
        engine.models.model_set = lambda request: models  # the real-size pipeline below stands in for the twin's
        device = engine.models.device("cuda")
        cache = pipelines_for(engine.models, device)
        tiny_pipe = cache._load(models)  # tokenizers and scheduler of the twin; its weights are replaced
        dtype = cache.dtype_for(family)
        parts = build(check["family"], "cuda", dtype)
        pipe = assemble(check["family"], tiny_pipe, parts)
        del tiny_pipe
        cache._schedulers[id(pipe)] = {"normal": pipe.scheduler}
        if check["plan"]["offload"] != "none":
            pipe.to("cpu")
        cache._place(pipe, family_plan(cache, family, models))
        cache._pipes[(models.inpaint, models.transformer, False)] = pipe
        photo = np.full((size, size, 3), 128, np.uint8)
        mask = np.zeros((size, size), bool)
        mask[size // 8: -size // 8, size // 8: -size // 8] = True
        request = StageRequest(photo=photo, mask=mask, models="tiny", model_set=twin, steps=steps, guidance=None,
                                  seed=1, fast=fast, grow_px=0, feather_px=0)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        result = engine.run(request)
        torch.cuda.synchronize()
        return {**check, "ok": True, "s_per_image": round(time.perf_counter() - t0, 2),
                "denoise_s": round(result.timings["denoise_s_per_image"], 2), "steps": result.timings["steps"],
                "peak_vram_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2),
                "model_size": result.timings["model_size"], "fast": fast}
    except Exception as exc:  # one set failing must not hide the others' numbers
        return {**check, "ok": False, "error": f"{exc.__class__.__name__}: {exc}"[:500]}
    finally:
        engine.shutdown()
        torch.cuda.empty_cache()


def family_plan(cache, family, models):
    return cache.plan_for(family, models)


def assemble(family: str, tiny_pipe, parts: dict):
    """The twin's pipeline class, tokenizers and scheduler with the real-size components."""
    from diffusers import MultiControlNetModel

    components = dict(tiny_pipe.components)
    if family in ("sd15", "sdxl"):
        controlnets = MultiControlNetModel([parts.pop("controlnet_depth"), parts.pop("controlnet_canny")])
        components.update(parts, controlnet=controlnets)
    else:
        components.update(parts)
        if family == "zimage":
            from diffusers import ZImageControlNetModel

            components["controlnet"] = ZImageControlNetModel.from_transformer(parts["controlnet"], parts["transformer"])
    return type(tiny_pipe)(**components)


def main(argv=None) -> int:
    args = parse_args(argv)
    cuda = False
    vram = args.vram
    if not args.dry_run:
        import torch

        cuda = torch.cuda.is_available()
        if cuda and vram is None:
            vram = torch.cuda.get_device_properties(0).total_memory / 2**30
    checks = plan_checks(args.sets, args.tiers, vram, bnb={"auto": None, "yes": True, "no": False}[args.bnb])
    report = {"device": None, "size": args.size, "dry_run": args.dry_run or not cuda, "checks": checks}
    if cuda and not args.dry_run:
        import torch

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        report["device"] = torch.cuda.get_device_name(0)
        report["checks"] = []
        for check in checks:
            print(f"gpu_check: {check['set']} in tier {check['tier']} ...", file=sys.stderr, flush=True)
            report["checks"].append(run_one(check, args.size, args.steps, False))
            if args.fast and check["family"] != "zimage":
                report["checks"].append(run_one(check, args.size, None, True))
    elif not args.dry_run:
        print("gpu_check: no CUDA device here: printing the plan only", file=sys.stderr)
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    return 0 if all(c.get("ok", True) for c in report["checks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
