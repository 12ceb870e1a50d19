"""Fixtures for the Windows-installer tests; helpers live in installer_testkit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from installer_testkit import ODD_NAME


@pytest.fixture
def bare_venv(tmp_path: Path) -> Path:
    """A venv with pip and nothing else: never the project's .venv, whose torch must stay untouched."""
    venv = tmp_path / f"{ODD_NAME} venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    import pip

    pip_home = tmp_path / "pip-only"
    shutil.copytree(Path(pip.__file__).parent, pip_home / "pip", ignore=shutil.ignore_patterns("__pycache__"))
    (site / "pip-only.pth").write_text(str(pip_home) + "\n", encoding="utf-8")
    return python
