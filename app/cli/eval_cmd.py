"""`eval-defurnish`: de-furnishing quality on photos of empty rooms.

    python main.py eval-defurnish EMPTY_DIR [--masks MASK_DIR] -o REPORT.json
        [--steps N] [--strength S] [--margin PX] [--prefill telea|ns|erase|none] [--seed S]
        [--limit N] [--max-side PX] [--objects K] [--no-paste] [--no-lpips] [--save-dir DIR] [--models ...] [--json]

Masks in MASK_DIR are matched to photos by file stem (room1.jpg <- room1.png); photos
without one get furniture-shaped masks drawn at random (seeded). The report (JSON) has
PSNR / SSIM / LPIPS inside the edited region and on the whole image, outside-mask
preservation, a classical-fill baseline and, with a detector installed, the furniture
score inside the region before and after. A short table goes to stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from app.cli.common import (
    add_engine_options,
    check_outputs,
    emit_json,
    engine_for,
    finite_float,
    lora_input,
    models_folder,
)
from app.engine import EvalSettings, evaluate, table
from app.imaging.io import write_text
from app.imaging.targets import Input, folder, named


def register(sub) -> None:
    p = sub.add_parser("eval-defurnish", help="measure de-furnishing on photos of empty rooms (PSNR, SSIM, LPIPS)")
    p.add_argument("empty_dir", metavar="EMPTY_DIR", help="a folder of photos of empty rooms (the ground truth)")
    p.add_argument("--masks", default=None, metavar="MASK_DIR", help="furniture masks named like the photos")
    p.add_argument("-o", "--output", required=True, metavar="REPORT.json")
    p.add_argument("--steps", type=int, default=30, metavar="N")
    p.add_argument("--guidance", type=finite_float, default=7.5, metavar="G")
    p.add_argument("--strength", type=finite_float, default=1.0, metavar="S")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seeds masks, furniture and sampling")
    p.add_argument("--margin", type=int, default=None, metavar="PX", help="ring around objects (default ~20 px at 1024)")
    p.add_argument("--prefill", default="telea", choices=["telea", "ns", "erase", "none"])
    p.add_argument("--prompt", default="", metavar="TEXT")
    p.add_argument("--negative", default="", metavar="TEXT")
    p.add_argument("--lora", default=None, metavar="FILE")
    p.add_argument("--lora-scale", type=finite_float, default=0.8, metavar="W")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N photos")
    p.add_argument("--max-side", type=int, default=None, metavar="PX", help="reduce photos to this long side first")
    p.add_argument("--objects", type=int, default=None, metavar="K", help="shapes per generated mask (default 1-3)")
    p.add_argument("--no-paste", dest="paste", action="store_false",
                   help="de-furnish the empty photo itself (default: paint furniture with shadows into the masks)")
    p.add_argument("--no-detector", dest="detector_check", action="store_false",
                   help="skip the detector's furniture score even when a detector is installed")
    p.add_argument("--no-lpips", dest="lpips", action="store_false",
                   help="leave LPIPS out (it needs the catalog's lpips-alexnet and lpips-alex-v0.1 files)")
    p.add_argument("--save-dir", default=None, metavar="DIR", help="write input, output and mask per photo")
    add_engine_options(p)
    p.set_defaults(run=run_eval_command)


def run_eval_command(args) -> int:
    out = Path(args.output)
    inputs = [Input(Path(args.empty_dir), "the folder of empty rooms"), Input(args.masks, "the folder of masks"),
              lora_input(args.lora), models_folder(args.models)]
    check_outputs(inputs, [named(out, ".json", hint="the report is JSON: name it REPORT.json"),
                           *([folder(args.save_dir)] if args.save_dir else [])])
    settings = EvalSettings(
        steps=args.steps, guidance=args.guidance, strength=args.strength, seed=args.seed, margin_px=args.margin,
        prefill=args.prefill, prompt=args.prompt, negative=args.negative, lora=args.lora,
        lora_scale=args.lora_scale, models=args.models, model_set=args.model_set, device=args.device,
        paste=args.paste, objects=args.objects, max_side=args.max_side, limit=args.limit,
        save_dir=args.save_dir, detector_check=args.detector_check, lpips=args.lpips,
    )
    engine = engine_for(args)

    def progress(i, n, name):
        print(f"[{i + 1}/{n}] {name}", file=sys.stderr, flush=True)

    try:
        report = evaluate(engine, args.empty_dir, args.masks, settings, progress)
    finally:
        engine.shutdown()
    write_text(out, json.dumps(report, indent=2, default=str, allow_nan=False) + "\n", protect=inputs)
    if args.json:
        emit_json(report)
    else:
        print(table(report))
        print(out)
    return 0
