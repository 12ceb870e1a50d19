"""Automatic masks on the command line.

    python main.py segment PHOTO --auto furniture|floor|structure -o MASK.png
        [--margin PX] [--detect "sofa . chair"] [--method auto|detector|sam3|semantic]
        [--box-threshold T] [--text-threshold T] [--band F] [--exclude LABEL ...]
        [--objects-dir DIR] [--json]
    python main.py defurnish PHOTO --auto -o OUT.png ...

When nothing is found the command says so and exits with status 2 without
writing a mask: there is never a whole-photo fallback.
"""

from __future__ import annotations

import sys

from app.cli.common import (
    Stopwatch,
    check_outputs,
    emit_json,
    finite_float,
    load_photo,
    models_folder,
    photo_input,
    run_alone,
    write_mask_and_objects,
)
from app.engine import AutoMaskRequest, AutoMaskResult, photo_fields
from app.errors import UserError
from app.imaging.targets import folder, mask

AUTO_TARGETS = ("furniture", "floor", "structure")


def add_auto_options(p, with_target: bool) -> None:
    """The options of automatic masks (segment --auto TARGET, defurnish --auto)."""
    if with_target:
        p.add_argument("--auto", default=None, choices=AUTO_TARGETS,
                       help="automatic mask instead of points/box: furniture to remove, the floor / staging "
                            "area, or the room's structure")
        p.add_argument("--band", type=finite_float, default=0.35, metavar="F",
                       help="--auto floor: band above the floor, as a fraction of the floor's height (0 = floor only)")
        p.add_argument("--objects-dir", default=None, metavar="DIR", help="--auto: also write one mask per object")
    else:
        p.add_argument("--auto", action="store_true",
                       help="select the furniture automatically (detector + SAM and/or semantic segmentation)")
    p.add_argument("--method", default="auto", choices=["auto", "detector", "sam3", "semantic"],
                   help="--auto: which models find the objects (default: every installed one; SAM 3 instead of "
                        "detector + SAM when the model set has it)")
    p.add_argument("--detect", dest="detect_prompt", default="", metavar="'SOFA . CHAIR'",
                   help="--auto: what the detector / SAM 3 looks for, phrases separated by dots (default: furniture list)")
    p.add_argument("--box-threshold", type=finite_float, default=0.3, metavar="T", help="--auto: detector box score")
    p.add_argument("--text-threshold", type=finite_float, default=0.25, metavar="T", help="--auto: detector phrase score")
    p.add_argument("--exclude", action="append", default=[], metavar="LABEL",
                   help="--auto: never select objects with this label (repeatable), e.g. --exclude rug")
    if with_target:
        p.add_argument("--margin", type=int, default=None, metavar="PX",
                       help="--auto furniture: ring around the objects (default ~20 px at 1024 px, 0 = none)")


def auto_request(args, photo, target: str) -> AutoMaskRequest:
    return AutoMaskRequest(
        **photo_fields(photo, args), target=target, method=args.method, prompt=args.detect_prompt,
        box_threshold=args.box_threshold, text_threshold=args.text_threshold, margin_px=args.margin,
        band=getattr(args, "band", 0.35), exclude=list(args.exclude),
    )


def describe(result: AutoMaskResult, stream=None) -> None:
    """A short table of what was found, on stderr."""
    stream = stream or sys.stderr
    if not result.objects:
        return
    stream.write(f"{'':2}{'label':<22}{'score':>6}  {'area':>9}  source\n")
    for o in result.objects:
        mark = "x" if o.selected else " "
        note = f"  ({o.note})" if o.note else ""
        stream.write(f"[{mark}] {o.label[:21]:<21}{o.score:>6.2f}  {o.area:>9}  {o.source}{note}\n")


def run_auto_segment(args) -> int:
    if args.point or args.box:
        raise UserError("--auto makes the mask by itself: leave out --point and --box")
    clock = Stopwatch()
    photo = load_photo(args.photo)
    inputs = [photo_input(photo.path), models_folder(args.models)]
    check_outputs(inputs, [mask(args.output), *([folder(args.objects_dir)] if args.objects_dir else [])])
    request = auto_request(args, photo, args.auto)
    result = run_alone(args, request)
    if not result.mask.any():
        if args.json:
            emit_json({"outputs": [], "message": result.message,
                       "objects": [o.to_dict() for o in result.objects], "models": result.models})
        describe(result)
        raise UserError(result.message or f"no {args.auto} was found: nothing was written")
    outputs = write_mask_and_objects(args, inputs, result.mask, result.objects)
    if args.json:
        emit_json({"outputs": outputs, "target": result.target, "margin_px": result.margin_px,
                   "area": int(result.mask.sum()), "objects": [o.to_dict() for o in result.objects],
                   "models": result.models, "message": result.message, "request": request.to_dict(),
                   "timings": {**result.timings, "total_s": clock()}})
    else:
        describe(result)
        print(outputs[0])
    return 0


def auto_furniture_mask(args, photo):
    """defurnish --auto: the furniture selection with its margin ring (clipped away from windows
    and doors). The caller passes it with margin_px=0: the ring is already in."""
    request = auto_request(args, photo, "furniture")
    result = run_alone(args, request)
    if not args.json:
        describe(result)
    if not result.mask.any():
        raise UserError(f"{result.message} Nothing to remove: give --mask MASK (white = remove).")
    return result.mask
