"""Set up the development environment in .venv and run the app or the tests.

    python3 scripts/dev.py app [PHOTO] [--models tiny|DIR]   sets up, then opens the app
    python3 scripts/dev.py test [PYTEST ARGS]                 sets up (with dev tools), then runs the tests
    python3 scripts/dev.py setup [--dev]                      only sets up

Standard library only: it runs before anything is installed. The install is
redone only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
MIN_PYTHON = (3, 11)


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _stamp_value(dev: bool) -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    return f"{digest}:{'dev' if dev else 'app'}:{sys.platform}"


def _installed(dev: bool) -> bool:
    stamp = VENV / ".roomstager-install"
    if not stamp.is_file():
        return False
    have = stamp.read_text().split()
    # a dev install serves the app too
    return _stamp_value(dev) in have or (not dev and _stamp_value(True) in have)


def setup(dev: bool) -> None:
    if sys.version_info < MIN_PYTHON:
        sys.exit(f"RoomStager needs Python {'.'.join(map(str, MIN_PYTHON))} or newer; this is {sys.version.split()[0]}")
    if not venv_python().exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, upgrade_deps=False).create(VENV)
    if _installed(dev):
        return
    py = str(venv_python())
    _pip(py, "install", "--upgrade", "pip")
    target = ".[dev]" if dev else "."
    args = ["install", "-e", target]
    if sys.platform.startswith("linux"):
        # Linux PyPI torch is the CUDA build that PyPI's torchvision is compiled against; a machine-local
        # CPU-only wheel (version 2.13.0+cpu) would satisfy the pin but break torchvision's ops.
        args += ["-c", str(ROOT / "scripts" / "constraints-linux.txt")]
    _pip(py, *args)
    (VENV / ".roomstager-install").write_text(_stamp_value(dev) + "\n")


def _pip(py: str, *args: str) -> None:
    cmd = [py, "-m", "pip", *args]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("app", "test", "setup"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "setup":
        setup(dev="--dev" in rest)
        return 0
    if command == "app":
        setup(dev=False)
        return subprocess.call([str(venv_python()), str(ROOT / "main.py"), *rest], cwd=ROOT)
    setup(dev=True)
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    return subprocess.call([str(venv_python()), "-m", "pytest", *rest], cwd=ROOT, env=env)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except subprocess.CalledProcessError as exc:
        sys.exit(f"setup failed: {' '.join(map(str, exc.cmd))} exited with {exc.returncode}")
