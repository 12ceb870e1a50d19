"""`stage` and `defurnish`: one photo in, one or more full-resolution results out."""

from __future__ import annotations

import sys

from app import __version__
from app.cli.common import (
    Stopwatch,
    add_engine_options,
    emit_json,
    engine_for,
    load_mask,
    load_photo,
    output_paths,
    run_job,
)
from app.engine import requests as rq
from app.errors import UserError
from app.imaging.disclosure import stamp


def _add_generation_options(p) -> None:
    p.add_argument("photo", metavar="PHOTO")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="a file (one variation) or a folder")
    p.add_argument("--prompt", default="", metavar="TEXT")
    p.add_argument("--negative", default="", metavar="TEXT")
    p.add_argument("--steps", type=int, default=30, metavar="N")
    p.add_argument("--guidance", type=float, default=7.5, metavar="G")
    p.add_argument("--strength", type=float, default=None, metavar="S",
                   help="how much of the region is repainted (default: 1.0 to stage, 0.95 to de-furnish)")
    p.add_argument("--seed", type=int, default=None, metavar="S")
    p.add_argument("--variations", type=int, default=1, metavar="K")
    p.add_argument("--lora", default=None, metavar="FILE", help="a LoRA .safetensors to apply")
    p.add_argument("--lora-scale", type=float, default=0.8, metavar="W")
    p.add_argument("--quality", type=int, default=95, metavar="Q", help="JPEG/WebP quality")
    p.add_argument("--disclose", action="store_true", help="stamp 'Virtually staged' on the output")
    p.add_argument("--disclose-text", default=None, metavar="TEXT", help="the notice's text (implies --disclose)")
    add_engine_options(p)


def register(sub) -> None:
    p = sub.add_parser("stage", help="add furniture to a photo")
    _add_generation_options(p)
    p.add_argument("--mask", default=None, metavar="MASK", help="white = furnish; default: the staging area")
    p.add_argument("--style", default="modern", metavar="NAME")
    p.add_argument("--room", default="living_room", metavar="TYPE")
    p.add_argument("--avoid", action="append", default=[], metavar="THING", help="'no X' constraint; repeatable")
    p.add_argument("--inpaint-control", type=float, default=0.0, metavar="W",
                   help="weight of the SD1.5 inpaint ControlNet (0 = off)")
    p.set_defaults(run=run_stage_command)

    p = sub.add_parser("defurnish", help="remove furniture and leave an empty room")
    _add_generation_options(p)
    p.add_argument("--mask", required=False, default=None, metavar="MASK", help="white = remove")
    p.add_argument("--margin", type=int, default=None, metavar="PX", help="ring added around objects")
    p.add_argument("--prefill", default="telea", choices=["telea", "ns", "erase", "none"],
                   help="fill the hole before diffusion: classical (telea, ns), the catalog's erase model, none")
    from app.cli.auto_masks import add_auto_options

    add_auto_options(p, with_target=False)
    p.set_defaults(run=run_defurnish_command)


def _check(args) -> None:
    if args.steps < 1 or args.steps > 500:
        raise UserError(f"--steps must be between 1 and 500 (got {args.steps})")
    if args.variations < 1 or args.variations > 16:
        raise UserError(f"--variations must be between 1 and 16 (got {args.variations})")
    if args.strength is not None and not 0.0 < args.strength <= 1.0:
        raise UserError(f"--strength must be in (0, 1] (got {args.strength})")


def _common(args, photo) -> dict:
    fields = dict(
        photo=photo.pixels, photo_path=str(photo.path), models=args.models, model_set=args.model_set,
        device=args.device, prompt=args.prompt, negative=args.negative, steps=args.steps,
        guidance=args.guidance, seed=args.seed, variations=args.variations,
        lora=args.lora, lora_scale=args.lora_scale,
    )
    if args.strength is not None:  # otherwise each job's own default
        fields["strength"] = args.strength
    return fields


def run_stage_command(args) -> int:
    _check(args)
    clock = Stopwatch()
    photo = load_photo(args.photo)
    request = rq.StageRequest(**_common(args, photo), mask=load_mask(args.mask, photo), style=args.style,
                              room=args.room, avoid=args.avoid, inpaint_scale=args.inpaint_control)
    return _run_and_write(args, photo, request, "staged", clock)


def run_defurnish_command(args) -> int:
    _check(args)
    if args.mask is None and not getattr(args, "auto", False):
        raise UserError("defurnish needs --mask MASK (white = remove)")
    clock = Stopwatch()
    photo = load_photo(args.photo)
    mask, margin = load_mask(args.mask, photo), args.margin
    if mask is None:  # --auto: the furniture found, with its margin ring already in (kept off windows, doors)
        from app.cli.auto_masks import auto_furniture_mask

        mask, margin = auto_furniture_mask(args, photo), 0
    request = rq.DefurnishRequest(**_common(args, photo), mask=mask, margin_px=margin, prefill=args.prefill)
    return _run_and_write(args, photo, request, "empty", clock)


def _run_and_write(args, photo, request, tag: str, clock: Stopwatch) -> int:
    from app.imaging.io import write_photo

    targets = output_paths(args.output, photo.path, request.variations, tag)
    for t in targets:  # refuse before spending minutes on the job
        if t.resolve() == photo.path.resolve():
            raise UserError(f"{t}: refusing to write over the original photo")
    loaded_at = clock()
    engine = engine_for(args)
    try:
        result = run_job(engine, request)
    finally:
        engine.shutdown()
    record = request.to_dict()
    notice = args.disclose_text or ("Virtually staged" if args.disclose else None)
    outputs = []
    for path, image, seed in zip(targets, result.images, result.seeds, strict=True):
        meta = {"app": f"RoomStager {__version__}", "request": {**record, "seed": seed}, "seed": seed}
        if notice:
            image, meta["disclosure"] = stamp(image, notice), notice
        outputs.append(str(write_photo(path, image, source=photo, quality=args.quality, metadata=meta,
                                       protect=[photo.path])))
    timings = {**result.timings, "read_s": loaded_at, "total_s": clock()}
    if args.json:
        emit_json({"outputs": outputs, "seeds": result.seeds, "request": record, "timings": timings})
    else:
        for path in outputs:
            print(path)
        print(f"done in {timings['total_s']:.1f} s (seeds {', '.join(map(str, result.seeds))})", file=sys.stderr)
    return 0
