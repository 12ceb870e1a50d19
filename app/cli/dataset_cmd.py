"""`dataset`: build a LoRA training dataset from photos (see engine/training/dataset_builder.py).

    python main.py dataset EMPTY_DIR (--furnished FURNISHED_DIR | --masks MASK_DIR) -o DATASET_DIR
        [--margin PX] [--split 0.8,0.1,0.1] [--seed S] [--size 512] [--task defurnish|stage]
        [--per-photo K] [--no-shapes] [--margin-artifacts] [--models ...] [--json]

De-furnishing: the empty-room photos are the targets; furniture masks come from MASK_DIR (white =
object, any size) or are cut from the furnished photos with the automatic masks. Staging
(--task stage): --furnished names the staged photos, EMPTY_DIR the empty photos of the same rooms
where you have them (room1.jpg <- room1_staged.jpg). Unreadable photos are listed and skipped.
"""

from __future__ import annotations

import argparse
import sys

from app.cli.common import add_engine_options, emit_json, engine_for
from app.engine import DatasetOptions, build_dataset
from app.errors import UserError


def register(sub) -> None:
    p = sub.add_parser("dataset", help="build a LoRA training dataset from photos",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("empty_dir", metavar="EMPTY_DIR", help="photos of empty rooms")
    p.add_argument("--furnished", default=None, metavar="FURNISHED_DIR",
                   help="furnished photos to cut furniture masks from (staged photos with --task stage)")
    p.add_argument("--masks", default=None, metavar="MASK_DIR", help="furniture-shaped masks, white = object")
    p.add_argument("-o", "--output", required=True, metavar="DATASET_DIR", help="a new (or empty) folder")
    p.add_argument("--task", default="defurnish", choices=["defurnish", "stage"])
    p.add_argument("--margin", type=int, default=None, metavar="PX",
                   help="ring around each mask at the training size (default: 20 px at 1024, scaled)")
    p.add_argument("--split", default="0.8,0.1,0.1", metavar="TRAIN,VAL,TEST")
    p.add_argument("--seed", type=int, default=0, metavar="S")
    p.add_argument("--size", type=int, default=512, metavar="PX", help="training size (square)")
    p.add_argument("--per-photo", type=int, default=1, metavar="K", help="furniture masks per empty photo")
    p.add_argument("--no-shapes", dest="shapes", action="store_false",
                   help="no synthetic shape masks for the warm-up")
    p.add_argument("--margin-artifacts", action="store_true",
                   help="paste the furnished photo's real pixels in the margin ring onto the empty room")
    add_engine_options(p)
    p.set_defaults(run=run_dataset_command)


def parse_split(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"--split {text!r}: three numbers for train, val and test, e.g. 0.8,0.1,0.1") from None
    if len(parts) != 3:
        raise UserError(f"--split {text!r}: three numbers for train, val and test, e.g. 0.8,0.1,0.1")
    return parts


def run_dataset_command(args) -> int:
    opts = DatasetOptions(
        empty_dir=args.empty_dir, output=args.output, furnished=args.furnished, masks_dir=args.masks,
        task=args.task, margin=args.margin, split=parse_split(args.split), seed=args.seed, size=args.size,
        per_photo=args.per_photo, shapes=args.shapes, margin_artifacts=args.margin_artifacts, models=args.models,
        model_set=args.model_set, device=args.device,
    ).validate()
    engine = engine_for(args) if args.furnished else None

    def progress(i, n, text):
        print(f"[{i + 1}/{n}] {text}", file=sys.stderr, flush=True)

    try:
        summary = build_dataset(opts, engine, progress)
    finally:
        if engine is not None:
            engine.shutdown()
    for s in summary["skipped"]:
        print(f"skipped {s['path']}: {s['reason']}", file=sys.stderr)
    if args.json:
        emit_json(summary)
    else:
        print(f"{summary['manifest']}: {summary['train']} train, {summary['val']} val, {summary['test']} test "
              f"samples; {len(summary['skipped'])} skipped")
    return 0
