"""`python main.py [PHOTO] [--models tiny|DIR]`: open the window."""

from __future__ import annotations

import argparse

from app.engine import quiet_libraries
from app.ui.application import run_app


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="main.py", description="RoomStager: open the app")
    parser.add_argument("photo", nargs="?", default=None, metavar="PHOTO")
    parser.add_argument("--models", default=None, metavar="tiny|DIR")
    args = parser.parse_args(argv)
    quiet_libraries()

    return run_app(args.photo, args.models)
