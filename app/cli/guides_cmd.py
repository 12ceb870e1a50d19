"""`guides`: what the ControlNets see, written as DIR/canny.png, depth.png, staging_area.png."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
from app.engine import GuidesRequest, photo_fields
from app.imaging.io import write_mask, write_photo
from app.imaging.targets import folder, image, mask


def register(sub) -> None:
    p = sub.add_parser("guides", help="write the Canny, depth and staging-area guides of a photo")
    p.add_argument("photo", metavar="PHOTO")
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument("--canny-low", type=int, default=100, metavar="N")
    p.add_argument("--canny-high", type=int, default=200, metavar="N")
    add_engine_options(p)
    p.set_defaults(run=run_guides_command)


def run_guides_command(args) -> int:
    clock = Stopwatch()
    photo = load_photo(args.photo)
    out = Path(args.output)
    inputs = [photo_input(photo.path), models_folder(args.models)]
    files = [out / "canny.png", out / "depth.png", out / "staging_area.png"]
    check_outputs(inputs, [folder(out), image(files[0]), image(files[1]), mask(files[2])])
    request = GuidesRequest(**photo_fields(photo, args), canny_low=args.canny_low, canny_high=args.canny_high)
    result = run_alone(args, request)
    written = [
        write_photo(files[0], np.dstack([result.canny] * 3), sidecar=False, protect=inputs),
        write_photo(files[1], np.dstack([result.depth] * 3), sidecar=False, protect=inputs),
        write_mask(files[2], result.staging_area, protect=inputs),
    ]
    if args.json:
        emit_json({"outputs": [str(p) for p in written], "request": request.to_dict(),
                   "timings": {**result.timings, "total_s": clock()}})
    else:
        for p in written:
            print(p)
    return 0
