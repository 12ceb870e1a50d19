"""The headless commands: `python main.py <command> ...`.

Exit codes: 0 done, 2 bad input or usage, 1 any other failure. Progress goes to
stderr, results (and `--json`) to stdout; user errors print a message, never a
traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from app import __version__, settings
from app.cli import (
    batch_cmd,
    bench,
    dataset_cmd,
    eval_cmd,
    generate,
    guides_cmd,
    models_cmd,
    repaint_cmd,
    room3d_cmd,
    segment_cmd,
    train_cmd,
)
from app.cli.common import option_name
from app.engine import InvalidRequest, quiet_libraries
from app.errors import JobCancelled, UserError

COMMANDS = ("stage", "defurnish", "repaint", "room3d", "segment", "guides", "bench", "models",
            "eval-defurnish", "batch", "dataset", "train-lora")


class UsageError(UserError):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so every usage error ends the same way."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="main.py", description="RoomStager: virtual staging of room photos")
    parser.add_argument("--version", action="version", version=f"RoomStager {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in (generate, repaint_cmd, room3d_cmd, segment_cmd, guides_cmd, bench, models_cmd, eval_cmd,
                    batch_cmd, dataset_cmd, train_cmd):
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or settings.debug()
    argv = [a for a in argv if a != "--debug"]  # accepted anywhere on the line
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    quiet_libraries(debug)
    args = None
    try:
        args = build_parser().parse_args(argv)
        args.argv = argv  # a command that relaunches itself (train-lora --processes N) needs its own line
        if not getattr(args, "run", None):
            build_parser().print_help(sys.stderr)
            return 2
        return int(args.run(args) or 0)
    except InvalidRequest as exc:  # the request's own check, worded with the option the user typed
        print(f"error: {option_name(exc.field, args)} {exc.problem}", file=sys.stderr)
        return 2
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, JobCancelled):
        print("cancelled", file=sys.stderr)
        return 1
    except Exception as exc:
        if debug:
            raise
        print(f"error: {exc.__class__.__name__}: {exc} (run with --debug for details)", file=sys.stderr)
        return 1
