"""Pieces every command shares: model/device options, progress on stderr, outputs, JSON."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from app.engine import Engine, Finished, Progress, check_lora_file, default_models_dir, tiny_models_dir
from app.errors import UserError
from app.imaging.io import read_mask, read_photo, write_mask
from app.imaging.targets import IMAGE_FORMATS, Input, Target, check_write_targets, image, mask, named


def quality(text: str) -> int:
    """argparse type: a JPEG / WebP quality, 1-100."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 100, got {text!r}") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be from 1 to 100 (got {value})")
    return value


def finite_float(text: str) -> float:
    """argparse type: a float that is a real number (NaN and infinity are refused at once)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number (got {text!r})")
    return value


def add_engine_options(p) -> None:
    p.add_argument("--models", default="auto", metavar="tiny|DIR",
                   help="models folder: 'tiny' for the built-in test models, or a folder (default: the app's)")
    p.add_argument("--model-set", default=None, metavar="NAME", help="standard, high, ... (default: picked for the GPU)")
    p.add_argument("--device", default=None, choices=["cpu", "cuda", "mps"], help="default: the best available")
    p.add_argument("--json", action="store_true", help="print one JSON object with the outputs and timings")


# Request fields whose option is not simply --field-name.
_OPTIONS = {"margin_px": "--margin", "inpaint_scale": "--inpaint-control", "points": "--point/--box",
            "box": "--box", "photo": "PHOTO", "prompt": "--prompt", "model_set": "--model-set",
            "max_side": "--resolution", "blur_px": "--blur", "prompts": "--prompt-file", "threshold": "--min-score"}


def option_name(field: str, args=None) -> str:
    """The command-line option that set a request field (for messages). A command whose option for a
    field depends on the line (repaint's --keep or --mask) says so in `args.option_names`."""
    renamed = getattr(args, "option_names", None) or {}
    return renamed.get(field) or _OPTIONS.get(field, "--" + field.replace("_", "-"))


def engine_for(args):
    return Engine(models=args.models, device=args.device)


class ProgressPrinter:
    """Engine events -> one updating line on stderr (a line per 10 % when not a terminal)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr  # looked up now, not at import: tests swap stderr
        self.tty = self.stream.isatty()
        self._last_decile = -1
        self._last_message = None

    def __call__(self, event) -> None:
        if isinstance(event, Progress):
            if event.total:
                decile = int(10 * event.step / event.total)
                if self.tty:
                    self.stream.write(f"\r{event.message or f'{event.step}/{event.total}'}   ")
                elif decile != self._last_decile:
                    self._last_decile = decile
                    self.stream.write(f"{event.message or f'{event.step}/{event.total}'}\n")
            elif event.message and event.message != self._last_message:
                self.stream.write(("\r" if self.tty else "") + event.message + "\n")
            self._last_message = event.message
            self.stream.flush()
        elif isinstance(event, Finished) and self.tty:
            self.stream.write("\n")


def run_alone(args, request):
    """Start an engine for the command's options, run one request on it to the end, stop the engine."""
    engine = engine_for(args)
    try:
        return run_job(engine, request)
    finally:
        engine.shutdown()


def run_job(engine, request):
    """Run one request to the end; Ctrl+C cancels it cleanly."""
    job = engine.submit(request, ProgressPrinter())
    try:
        while True:
            try:
                return job.future.result(timeout=0.2)
            except TimeoutError:
                continue
    except KeyboardInterrupt:
        job.cancel()
        job.future.exception()  # wait for the cancel to land within a step
        raise


def load_photo(path: str):
    return read_photo(Path(path))


def load_mask(path: str | None, photo):
    if path is None:
        return None

    return read_mask(Path(path), photo.size)


def output_paths(out: str, photo_path: Path, count: int, tag: str) -> list[Path]:
    """`-o` names a file for one output, or a folder for several."""
    target = Path(out)
    suffix = target.suffix.lower()
    if count == 1 and suffix in IMAGE_FORMATS:
        return [target]
    if suffix in IMAGE_FORMATS:
        raise UserError(f"{out}: {count} variations need a folder for -o, not a file name")
    if suffix and not target.is_dir():  # x.gif: an unknown format, not a folder to make
        raise UserError(f"{out}: cannot write '{target.suffix}' files (use .jpg, .png, .tif or .webp, "
                        f"or name a folder)")
    ext = photo_path.suffix.lower() if photo_path.suffix.lower() in IMAGE_FORMATS else ".png"
    return [target / f"{photo_path.stem}_{tag}_{i + 1}{ext}" for i in range(count)]


def models_folder(spec: str | None) -> Input:
    """The models folder a command reads (an input: nothing is written inside it)."""
    if spec in (None, "auto"):
        path = default_models_dir()
    elif spec == "tiny":
        path = tiny_models_dir()
    else:
        path = Path(spec).expanduser()
    return Input(path, "the models folder")


def photo_input(path) -> Input:
    return Input(path, "the original photo")


def mask_input(path) -> Input:
    return Input(path, "the mask of this job")


def lora_input(spec: str | None) -> Input:
    """--lora FILE, checked up front (a damaged or non-LoRA file is refused, naming it)."""
    if not spec or not Path(spec).expanduser().is_file():
        return Input(None)  # a catalog name (checked when it is imported and when the job loads it)
    path = Path(spec).expanduser()
    check_lora_file(path)
    return Input(path, "the LoRA of this job")


def check_outputs(inputs: list, outputs: list[Target | Path]) -> None:
    """Every write target of a command, checked before the job: never an input, always writable."""
    check_write_targets(inputs, outputs)


def file_label(label: str) -> str:
    """An object's label as a file name part: letters and digits, the rest as dashes."""
    return "".join(c if c.isalnum() else "-" for c in label).strip("-")[:60] or "object"


def write_mask_and_objects(args, inputs: list, whole, objects) -> list[str]:
    """The selection to -o and, with --objects-dir, each object to DIR/NN-label.png; returns the
    paths written. Every name is checked before the first file is written."""
    folder = Path(args.objects_dir) if args.objects_dir else None
    names = [folder / f"{i:02d}-{file_label(o.label)}.png" for i, o in enumerate(objects, 1)] if folder else []
    check_outputs(inputs, [mask(args.output), *map(mask, names)])
    out = write_mask(args.output, whole, protect=inputs)
    return [str(out)] + [str(write_mask(n, o.mask, protect=[*inputs, out])) for n, o in zip(names, objects, strict=False)]


def with_sidecars(files: list[Path]) -> list[Target]:
    return [t for f in files for t in (image(f), named(f.with_name(f.name + ".json")))]



def emit_json(payload: dict) -> None:
    json.dump(payload, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


class Stopwatch:
    def __init__(self):
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        return round(time.perf_counter() - self.t0, 3)
