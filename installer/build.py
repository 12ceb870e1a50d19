"""Build the Windows installer: assemble the payload, run makensis, check the result.

    python installer/build.py --stub
        no Windows Python at hand (Linux CI): placeholder Python, no dependencies; proves the NSIS
        script compiles and the output is a 64-bit Windows executable within a small budget
    python installer/build.py --python-embed python-3.11.9-embed-amd64.zip [--wheels DIR]
        the real installer; without --wheels the locked wheels are fetched with `pip download`

The result is dist/RoomStager-<version>-setup.exe (or -stub-setup.exe) under installer/.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import locks
import nsis
import payload
import pe_check
import project

MIB = 2**20
REAL_BUDGET_MIB = 250  # without torch; a studio can still mail / share it
STUB_BUDGET_MIB = 25  # app + NSIS only: catches data or weights slipping into the payload


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stub", action="store_true", help="placeholder Python, no dependencies")
    parser.add_argument("--python-embed", help="python-3.11.x-embed-amd64.zip: a path or an https URL")
    parser.add_argument("--python-embed-sha256", help="expected sha256 of that zip")
    parser.add_argument("--wheels", type=Path, help="folder holding the locked win_amd64 wheels")
    parser.add_argument("--vc-runtime", type=Path, help="folder with msvcp140.dll & co. to ship app-locally")
    parser.add_argument("--work", type=Path, default=project.INSTALLER_DIR / "build", help="scratch folder")
    parser.add_argument(
        "--out", type=Path, default=project.INSTALLER_DIR / "dist", help="where the .exe goes"
    )
    parser.add_argument("--budget-mib", type=int, help="size limit for the .exe (default 250, stub 25)")
    parser.add_argument("--skip-lock-check", action="store_true", help="build even if the lock has drifted")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    root = project.ROOT
    stub = args.stub or not args.python_embed
    if stub and not args.stub:
        print("No --python-embed given: building a STUB installer (compiles, does not install).")
    if not args.skip_lock_check and (problems := locks.check(root / "pyproject.toml", locks.LOCK)):
        print("\n".join(f"lock drift: {p}" for p in problems), file=sys.stderr)
        return 1

    version = project.app_version(root)
    work = args.work.resolve()
    embed = wheel_dir = None
    if not stub:
        embed = payload.fetch_embed(args.python_embed, work / "cache", args.python_embed_sha256)
        wheel_dir = args.wheels
        if wheel_dir is None:
            wheel_dir = work / "wheels"
            payload.download_wheels(locks.LOCK, wheel_dir)
    tree = payload.assemble(
        root, work / "payload", embed, wheel_dir, locks.LOCK, args.python_embed_sha256, args.vc_runtime
    )

    defines: dict[str, str | None] = {
        "APP_VERSION": version,
        "VI_VERSION": project.four_part_version(version),
        "PAYLOAD_DIR": str(tree),
    }
    icons = sorted((root / "resources").rglob("*.ico"))
    if icons:  # the first .ico under resources/ brands the installer and the shortcuts
        shutil.copy2(icons[0], tree / "roomstager.ico")
        defines["APP_ICON"] = str(icons[0])
    uninstall = work / "uninstall-list.nsh"
    uninstall.write_text(payload.uninstall_list(tree), encoding="utf-8")
    defines["UNINSTALL_LIST"] = str(uninstall)
    args.out.mkdir(parents=True, exist_ok=True)
    exe = args.out.resolve() / f"RoomStager-{version}-{'stub-' if stub else ''}setup.exe"
    defines["OUT_FILE"] = str(exe)
    if stub:
        defines["STUB"] = None

    try:
        nsis.compile_installer(defines)
    except subprocess.CalledProcessError as error:
        print(error.stdout, error.stderr, sep="\n", file=sys.stderr)
        print(f"makensis failed with exit code {error.returncode}", file=sys.stderr)
        return 1
    budget = (args.budget_mib or (STUB_BUDGET_MIB if stub else REAL_BUDGET_MIB)) * MIB
    info = pe_check.check_installer(exe, budget)
    print(f"{exe}: x86-64 PE32+, {info.size / MIB:.1f} MiB (budget {budget / MIB:.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
