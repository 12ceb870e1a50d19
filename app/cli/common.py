"""Pieces every command shares: model/device options, progress on stderr, outputs, JSON."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from app.engine import Engine, Finished, Progress
from app.errors import UserError
from app.imaging.io import read_mask, read_photo


def add_engine_options(p) -> None:
    p.add_argument("--models", default="auto", metavar="tiny|DIR",
                   help="models folder: 'tiny' for the built-in test models, or a folder (default: the app's)")
    p.add_argument("--model-set", default=None, metavar="NAME", help="standard, high, ... (default: picked for the GPU)")
    p.add_argument("--device", default=None, choices=["cpu", "cuda", "mps"], help="default: the best available")
    p.add_argument("--json", action="store_true", help="print one JSON object with the outputs and timings")


# Request fields whose option is not simply --field-name.
_OPTIONS = {"margin_px": "--margin", "inpaint_scale": "--inpaint-control", "points": "--point/--box",
            "box": "--box", "photo": "PHOTO", "prompt": "--prompt", "model_set": "--model-set",
            "max_side": "--resolution", "blur_px": "--blur", "prompts": "--prompt-file"}


def option_name(field: str) -> str:
    """The command-line option that sets a request field (for messages)."""
    return _OPTIONS.get(field, "--" + field.replace("_", "-"))


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
    suffixes = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"}
    if count == 1 and target.suffix.lower() in suffixes:
        return [target]
    if target.suffix.lower() in suffixes:
        raise UserError(f"{out}: {count} variations need a folder for -o, not a file name")
    ext = photo_path.suffix.lower() if photo_path.suffix.lower() in suffixes else ".png"
    return [target / f"{photo_path.stem}_{tag}_{i + 1}{ext}" for i in range(count)]


def emit_json(payload: dict) -> None:
    json.dump(payload, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


class Stopwatch:
    def __init__(self):
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        return round(time.perf_counter() - self.t0, 3)
