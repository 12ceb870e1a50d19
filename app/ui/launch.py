"""`python main.py [PHOTO] [--models tiny|DIR]`: open the window."""

from __future__ import annotations

import argparse


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="main.py", description="RoomStager: open the app")
    parser.add_argument("photo", nargs="?", default=None, metavar="PHOTO")
    parser.add_argument("--models", default=None, metavar="tiny|DIR")
    args = parser.parse_args(argv)
    from app.engine.logs import quiet_libraries

    quiet_libraries()
    from app.ui.application import run_app

    return run_app(args.photo, args.models)
