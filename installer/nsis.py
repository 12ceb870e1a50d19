"""Run makensis (Debian's `nsis` package on Linux, NSIS 3 on Windows) on roomstager.nsi."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "roomstager.nsi"


class MakensisMissing(Exception):
    pass


def find_makensis() -> str:
    found = shutil.which("makensis")
    if found:
        return found
    for base in (os.environ.get("ProgramFiles(x86)"), os.environ.get("ProgramFiles")):
        if base and Path(base, "NSIS", "makensis.exe").is_file():
            return str(Path(base, "NSIS", "makensis.exe"))
    raise MakensisMissing(
        "makensis not found: `apt-get install nsis` (Debian) or `choco install nsis` (Windows)"
    )


def compile_installer(defines: dict[str, str | None], script: Path = SCRIPT, verbosity: int = 2) -> None:
    """`defines` become -DNAME=value (or -DNAME for None). Raises CalledProcessError on a script error."""
    command = [find_makensis(), "-INPUTCHARSET", "UTF8", f"-V{verbosity}"]
    for name, value in defines.items():
        command.append(f"-D{name}" if value is None else f"-D{name}={value}")
    command.append(str(script))
    # makensis prints warnings and errors on stdout; keep them with the failure.
    result = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", errors="replace")
    if result.returncode != 0:
        raise subprocess.CalledProcessError(result.returncode, command, result.stdout, result.stderr)
