"""RoomStager. `python main.py [PHOTO]` opens the app; `python main.py <command> ...` runs headless."""

import sys


def main() -> int:
    argv = sys.argv[1:]
    from app.cli import COMMANDS

    if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help", "--version")):
        from app.cli import main as cli_main

        return cli_main(argv)
    from app.ui.launch import main as ui_main

    return ui_main(argv)


if __name__ == "__main__":
    sys.exit(main())
