"""`stage` and `defurnish`: one photo in, one or more full-resolution results out."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from app import __version__
from app.cli.auto_masks import add_auto_options, auto_furniture_mask
from app.cli.common import (
    Stopwatch,
    add_engine_options,
    check_outputs,
    emit_json,
    finite_float,
    load_mask,
    load_photo,
    lora_input,
    mask_input,
    models_folder,
    output_paths,
    photo_input,
    quality,
    run_alone,
    with_sidecars,
)
from app.engine import DefurnishRequest, StageRequest, photo_fields
from app.errors import UserError
from app.imaging.disclosure import stamp
from app.imaging.io import write_photo
from app.imaging.targets import folder


def _add_generation_options(p) -> None:
    p.add_argument("photo", metavar="PHOTO")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="a file (one variation) or a folder")
    p.add_argument("--prompt", default="", metavar="TEXT")
    p.add_argument("--negative", default="", metavar="TEXT")
    p.add_argument("--steps", type=int, default=None, metavar="N",
                   help="sampling steps (default: the model set's preset, e.g. 30 for SD, 50 for FLUX Fill)")
    p.add_argument("--guidance", type=finite_float, default=None, metavar="G",
                   help="guidance scale (default: the model set's preset, e.g. 7.5 for SD, 30 for FLUX Fill)")
    p.add_argument("--fast", action="store_true",
                   help="fast mode: the set's step-distillation LoRA, 4-8 steps at low guidance")
    p.add_argument("--strength", type=finite_float, default=None, metavar="S",
                   help="how much of the region is repainted (default: 1.0 to stage, 0.95 to de-furnish)")
    p.add_argument("--seed", type=int, default=None, metavar="S")
    p.add_argument("--variations", type=int, default=1, metavar="K")
    p.add_argument("--lora", default=None, metavar="FILE", help="a LoRA .safetensors to apply")
    p.add_argument("--lora-scale", type=finite_float, default=0.8, metavar="W")
    p.add_argument("--quality", type=quality, default=95, metavar="Q", help="JPEG/WebP quality (1-100)")
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
    p.add_argument("--inpaint-control", type=finite_float, default=0.0, metavar="W",
                   help="weight of the SD1.5 inpaint ControlNet (0 = off)")
    p.set_defaults(run=run_stage_command)

    p = sub.add_parser("defurnish", help="remove furniture and leave an empty room")
    _add_generation_options(p)
    p.add_argument("--mask", required=False, default=None, metavar="MASK", help="white = remove")
    p.add_argument("--margin", type=int, default=None, metavar="PX", help="ring added around objects")
    p.add_argument("--prefill", default="telea", choices=["telea", "ns", "erase", "none"],
                   help="fill the hole before diffusion: classical (telea, ns), the catalog's erase model, none")

    add_auto_options(p, with_target=False)
    p.set_defaults(run=run_defurnish_command)


def _common(args, photo) -> dict:
    fields = dict(
        **photo_fields(photo, args), prompt=args.prompt, negative=args.negative, steps=args.steps,
        guidance=args.guidance, seed=args.seed, variations=args.variations,
        lora=args.lora, lora_scale=args.lora_scale, fast=args.fast,
    )
    if args.strength is not None:  # otherwise each job's own default
        fields["strength"] = args.strength
    return fields


def _targets(args, photo, count: int, tag: str) -> tuple[list, list]:
    """(output files, the job's inputs), checked before anything else runs: never over an input,
    always somewhere writable."""
    targets = output_paths(args.output, photo.path, count, tag)
    inputs = [photo_input(photo.path), mask_input(args.mask), lora_input(args.lora), models_folder(args.models)]
    extra = [folder(args.output)] if count > 1 or targets[0] != Path(args.output) else []
    check_outputs(inputs, [*extra, *with_sidecars(targets)])
    return targets, inputs


def run_stage_command(args) -> int:
    clock = Stopwatch()
    photo = load_photo(args.photo)
    _targets(args, photo, args.variations, "staged")
    request = StageRequest(**_common(args, photo), mask=load_mask(args.mask, photo), style=args.style,
                              room=args.room, avoid=args.avoid, inpaint_scale=args.inpaint_control)
    return _run_and_write(args, photo, request, "staged", clock)


def run_defurnish_command(args) -> int:
    if args.mask is None and not getattr(args, "auto", False):
        raise UserError("defurnish needs --mask MASK (white = remove)")
    clock = Stopwatch()
    photo = load_photo(args.photo)
    _targets(args, photo, args.variations, "empty")  # before the minutes an automatic mask may take
    request = DefurnishRequest(**_common(args, photo), mask=load_mask(args.mask, photo), margin_px=args.margin,
                               prefill=args.prefill)
    if request.mask is None:  # --auto: the furniture found, with its margin ring already in (off windows, doors)
        request.check_fields()  # the options are checked before the minutes the search may take
        request = replace(request, mask=auto_furniture_mask(args, photo), margin_px=0)
    return _run_and_write(args, photo, request, "empty", clock)


def _run_and_write(args, photo, request, tag: str, clock: Stopwatch) -> int:
    request.validate()  # the options are checked before the models load
    targets, inputs = _targets(args, photo, request.variations, tag)
    loaded_at = clock()
    result = run_alone(args, request)
    record = request.to_dict()
    notice = args.disclose_text or ("Virtually staged" if args.disclose else None)
    outputs = []
    for path, image, seed in zip(targets, result.images, result.seeds, strict=True):
        meta = {"app": f"RoomStager {__version__}", "request": {**record, "seed": seed}, "seed": seed,
                "sampling": {k: result.timings.get(k) for k in ("model_set", "steps", "guidance", "fast", "scheduler")},
                "licenses": result.timings.get("licenses", [])}
        if notice:
            image, meta["disclosure"] = stamp(image, notice), notice
        outputs.append(str(write_photo(path, image, source=photo, quality=args.quality, metadata=meta,
                                       protect=inputs)))
    timings = {**result.timings, "read_s": loaded_at, "total_s": clock()}
    if args.json:
        emit_json({"outputs": outputs, "seeds": result.seeds, "request": record, "timings": timings})
    else:
        for path in outputs:
            print(path)
        print(f"done in {timings['total_s']:.1f} s (seeds {', '.join(map(str, result.seeds))})", file=sys.stderr)
    return 0
