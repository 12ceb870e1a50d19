"""`segment`: points and a box, a text (`--text`) or an automatic target (`--auto`) -> a full-resolution mask PNG."""

from __future__ import annotations

import math

from app.cli.auto_masks import (
    add_auto_options,
    run_auto_segment,  # automatic masks (furniture, floor, structure)
)
from app.cli.common import (
    Stopwatch,
    add_engine_options,
    check_outputs,
    emit_json,
    load_photo,
    models_folder,
    photo_input,
    run_alone,
)
from app.cli.text_masks import (
    add_text_options,
    run_text_segment_command,  # every instance of a named thing (SAM 3)
)
from app.engine import SegmentRequest, photo_fields
from app.errors import UserError
from app.imaging.io import write_mask
from app.imaging.targets import mask


def _numbers(option: str, text: str, parts: list[str], form: str) -> list[float]:
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise UserError(f"{option} {text}: expected {form}") from None
    if not all(math.isfinite(v) for v in values):
        raise UserError(f"{option} {text}: every coordinate must be a finite number")
    return values


def parse_point(text: str) -> tuple[float, float, bool]:
    parts = [p.strip() for p in text.split(",")]
    sign = parts[2].lower() if len(parts) == 3 else "pos"
    if len(parts) not in (2, 3) or sign not in ("neg", "-", "0", "negative", "pos", "+", "1", "positive"):
        raise UserError(f"--point {text}: expected X,Y or X,Y,neg")
    x, y = _numbers("--point", text, parts[:2], "X,Y or X,Y,neg")
    return x, y, sign not in ("neg", "-", "0", "negative")


def parse_box(text: str) -> tuple[float, float, float, float]:
    parts = text.split(",")
    if len(parts) != 4:
        raise UserError(f"--box {text}: expected X0,Y0,X1,Y1")
    x0, y0, x1, y1 = _numbers("--box", text, parts, "X0,Y0,X1,Y1")
    return x0, y0, x1, y1


def register(sub) -> None:
    p = sub.add_parser("segment", help="select an object by points and/or a box (Segment Anything)")
    p.add_argument("photo", metavar="PHOTO")
    p.add_argument("--point", action="append", default=[], metavar="X,Y[,neg]", help="repeatable")
    p.add_argument("--box", default=None, metavar="X0,Y0,X1,Y1")
    p.add_argument("--mask-index", type=int, default=None, metavar="I", help="pick SAM's candidate 0-2")
    p.add_argument("-o", "--output", required=True, metavar="MASK.png")

    add_auto_options(p, with_target=True)
    add_text_options(p)
    add_engine_options(p)
    p.set_defaults(run=run_segment_command)


def run_segment_command(args) -> int:
    points = [parse_point(p) for p in args.point]
    box = parse_box(args.box) if args.box else None
    if getattr(args, "text", None) is not None:
        return run_text_segment_command(args)
    if getattr(args, "auto", None):
        return run_auto_segment(args)
    clock = Stopwatch()
    photo = load_photo(args.photo)
    inputs = [photo_input(photo.path), models_folder(args.models)]
    check_outputs(inputs, [mask(args.output)])
    request = SegmentRequest(**photo_fields(photo, args), points=points, box=box, mask_index=args.mask_index)
    result = run_alone(args, request)
    out = write_mask(args.output, result.mask, protect=inputs)
    if args.json:
        emit_json({"outputs": [str(out)], "scores": result.scores, "chosen": result.chosen,
                   "area": int(result.mask.sum()), "request": request.to_dict(),
                   "timings": {**result.timings, "total_s": clock()}})
    else:
        print(out)
    return 0
