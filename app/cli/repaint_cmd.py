"""`repaint`: a new background around what stays, a new window view, walls, floor, ceiling or sky.

    python main.py repaint PHOTO (--keep MASK | --region window-view|walls|floor|ceiling|sky | --mask MASK)
        --prompt TEXT [--prompt-file FILE] [--strength 0.9] [--guidance 6] [--blur PX] [--noise-background]
        [--variations K] [--seed S] [--models ...] -o OUT [--json]

One output per prompt (and variation); each has its prompt and seed in its sidecar, and a
`repaint.csv` beside the outputs lists file name, prompt and seed for every output.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

from app import __version__
from app.cli.common import (
    Stopwatch,
    add_engine_options,
    check_outputs,
    emit_json,
    load_mask,
    load_photo,
    mask_input,
    models_folder,
    output_paths,
    photo_input,
    quality,
    run_alone,
    with_sidecars,
)
from app.engine import RepaintRequest, photo_fields
from app.errors import UserError
from app.imaging.io import write_photo, write_text
from app.imaging.targets import named

CSV_NAME = "repaint.csv"
CSV_FIELDS = ("file_name", "prompt", "seed")
DISCLOSURE = "digitally altered: part of this photo was repainted by RoomStager"


def register(sub) -> None:
    p = sub.add_parser("repaint", help="repaint around what stays, or a region: window view, walls, floor, sky")
    p.add_argument("photo", metavar="PHOTO")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--keep", default=None, metavar="MASK", help="repaint everything except this mask (white = keep)")
    where.add_argument("--region", default=None, choices=RepaintRequest.REGIONS,
                       help="repaint a region found automatically (semantic segmentation)")
    where.add_argument("--mask", default=None, metavar="MASK", help="repaint this mask (white = repaint)")
    p.add_argument("--prompt", default="", metavar="TEXT", help="what to paint there")
    p.add_argument("--prompt-file", default=None, metavar="FILE",
                   help="several prompts, one per line (blank lines and # comments skipped): one output each")
    p.add_argument("--negative", default="", metavar="TEXT")
    p.add_argument("--strength", type=float, default=0.9, metavar="S", help="how much is repainted (default 0.9)")
    p.add_argument("--guidance", type=float, default=6.0, metavar="G", help="prompt guidance (default 6)")
    p.add_argument("--steps", type=int, default=30, metavar="N")
    p.add_argument("--blur", type=int, default=None, metavar="PX",
                   help="soft edge of the region in px, faded inward (default ~8 px at 1024)")
    p.add_argument("--noise-background", action="store_true",
                   help="start from noise instead of what is there (strength 1, guided only by the surroundings)")
    p.add_argument("--variations", type=int, default=1, metavar="K", help="outputs per prompt")
    p.add_argument("--seed", type=int, default=None, metavar="S")
    p.add_argument("--quality", type=quality, default=95, metavar="Q", help="JPEG/WebP quality (1-100)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="a file (one output) or a folder")
    add_engine_options(p)
    p.set_defaults(run=run_repaint_command)


def read_prompts(args) -> list[str]:
    prompts = [args.prompt.strip()] if args.prompt.strip() else []
    if args.prompt_file:
        path = Path(args.prompt_file)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise UserError(f"{path}: no such file (--prompt-file)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{path}: cannot read it as UTF-8 text ({exc})") from None
        lines = [line.strip() for line in text.splitlines()]
        found = [line for line in lines if line and not line.startswith("#")]
        if not found:
            raise UserError(f"{path}: no prompts in it (one per line)")
        prompts += found
    if not prompts:
        raise UserError("repaint needs --prompt TEXT or --prompt-file FILE")
    return prompts


def build_request(args, photo) -> RepaintRequest:
    mode = "keep" if args.keep else "mask" if args.mask else "region"
    args.option_names = {"mask": "--keep"} if args.keep else {}  # the request calls both its mask
    mask = load_mask(args.keep or args.mask, photo)
    request = RepaintRequest(
        **photo_fields(photo, args), mode=mode, region=args.region, mask=mask, prompts=read_prompts(args),
        negative=args.negative, strength=args.strength, guidance=args.guidance, steps=args.steps,
        blur_px=args.blur, noise_background=args.noise_background, variations=args.variations, seed=args.seed,
    )
    request.validate()  # before any model loads: a bad option costs nothing
    return request


def write_csv(folder: Path, rows: list[dict], protect=()) -> Path:
    """repaint.csv beside the outputs: rows of earlier runs stay, a file written again gets its new row."""
    path = folder / CSV_NAME
    old: list[dict] = []
    if path.is_file():
        try:
            with path.open(encoding="utf-8", newline="") as f:
                old = [r for r in csv.DictReader(f) if set(CSV_FIELDS) <= set(r)]
        except (OSError, UnicodeDecodeError, csv.Error):
            old = []  # an unreadable old list is replaced, never a reason to lose the outputs
    names = {r["file_name"] for r in rows}
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in [r for r in old if r["file_name"] not in names] + rows:
        writer.writerow(r)
    return write_text(path, buf.getvalue(), protect)


def run_repaint_command(args) -> int:
    clock = Stopwatch()
    photo = load_photo(args.photo)
    request = build_request(args, photo)
    protect = [photo_input(photo.path), *(mask_input(p) for p in (args.keep, args.mask) if p),
               *(Path(p) for p in (args.prompt_file,) if p), models_folder(args.models)]
    targets = output_paths(args.output, photo.path, len(request.all_prompts) * request.variations, "repaint")
    # refuse before spending minutes on the job: every output, its sidecar and the CSV
    check_outputs(protect, [*with_sidecars(targets), named(targets[0].parent / CSV_NAME, ".csv")])
    loaded_at = clock()
    result = run_alone(args, request)
    record = result.request.to_dict()  # as it ran: the blur and strength resolved
    outputs, rows = [], []
    for path, image, seed, prompt in zip(targets, result.images, result.seeds, result.prompts, strict=True):
        meta = {"app": f"RoomStager {__version__}", "request": {**record, "seed": seed, "prompts": [prompt]},
                "seed": seed, "prompt": prompt, "disclosure": DISCLOSURE}
        out = write_photo(path, image, source=photo, quality=args.quality, metadata=meta, protect=protect)
        outputs.append(str(out))
        rows.append({"file_name": out.name, "prompt": prompt, "seed": seed})
    table = write_csv(Path(outputs[0]).parent, rows, protect)
    timings = {**result.timings, "read_s": loaded_at, "total_s": clock()}
    if args.json:
        emit_json({"outputs": outputs, "seeds": result.seeds, "prompts": result.prompts, "csv": str(table),
                   "request": record, "timings": timings})
    else:
        for path in outputs:
            print(path)
        print(f"done in {timings['total_s']:.1f} s; prompts and seeds in {table}", file=sys.stderr)
    return 0
