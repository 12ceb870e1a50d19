"""Text-prompted masks on the command line (SAM 3):

    python main.py segment PHOTO --text "chairs" -o MASK.png [--min-score S] [--max-instances N]
        [--objects-dir DIR] [--models ...] [--model-set NAME] [--device ...] [--json]

Every instance of what the text names goes into the mask (several things: "sofa, floor lamp").
When nothing is found the command says so and exits with status 2 without writing a mask, like
`segment --auto`.
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
from app.engine import TextSegmentRequest, TextSegmentResult, photo_fields
from app.errors import UserError
from app.imaging.targets import folder, mask


def add_text_options(p) -> None:
    p.add_argument("--text", default=None, metavar="'CHAIRS'",
                   help="select every instance of what this names (SAM 3); several: 'sofa, floor lamp'")
    p.add_argument("--min-score", type=finite_float, default=0.5, metavar="S",
                   help="--text: keep instances scoring at least this, 0-1 (default 0.5)")
    p.add_argument("--max-instances", type=int, default=50, metavar="N", help="--text: at most this many (default 50)")


def _check(args) -> None:
    if args.point or args.box:
        raise UserError("--text finds the objects by itself: leave out --point and --box")
    if getattr(args, "auto", None):
        raise UserError("choose one of --text and --auto")


def describe(result: TextSegmentResult, stream=None) -> None:
    """What was found, on stderr: one line per instance."""
    stream = stream or sys.stderr
    for i, o in enumerate(result.objects, 1):
        x0, y0, x1, y1 = o.box
        stream.write(f"{i:>3}  {o.label[:24]:<24}{o.score:>6.2f}  {o.area:>9} px  box {x0},{y0},{x1},{y1}\n")


def run_text_segment_command(args) -> int:
    _check(args)
    clock = Stopwatch()
    photo = load_photo(args.photo)
    inputs = [photo_input(photo.path), models_folder(args.models)]
    check_outputs(inputs, [mask(args.output), *([folder(args.objects_dir)] if args.objects_dir else [])])
    request = TextSegmentRequest(**photo_fields(photo, args), text=args.text, threshold=args.min_score,
                                    max_instances=args.max_instances)
    request.validate()  # before the engine starts: a bad --text costs nothing
    result = run_alone(args, request)
    if not result.found:
        if args.json:
            emit_json({"outputs": [], "message": result.message, "objects": [], "model": result.model})
        raise UserError(result.message)
    outputs = write_mask_and_objects(args, inputs, result.mask, result.objects)
    if args.json:
        emit_json({"outputs": outputs, "text": result.text, "model": result.model,
                   "area": int(result.mask.sum()), "objects": [o.to_dict() for o in result.objects],
                   "request": request.to_dict(), "timings": {**result.timings, "total_s": clock()}})
    else:
        describe(result)
        print(outputs[0])
    return 0
