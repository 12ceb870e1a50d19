"""firstrun runs before anything but the standard library exists: prove it, statically and for real."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from installer_testkit import INSTALLER, ODD_NAME, ROOT

FIRSTRUN = INSTALLER / "firstrun"
OPTIONAL = {"pynvml"}  # imported inside try/except ImportError, shipped in the payload


def top_level_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_only_standard_library_imports() -> None:
    for path in FIRSTRUN.glob("*.py"):
        foreign = top_level_imports(path) - set(sys.stdlib_module_names) - {"__future__"} - OPTIONAL
        assert not foreign, f"{path.name} imports {foreign}"


def test_runs_isolated_without_site_packages(tmp_path: Path) -> None:
    """`python -E -s -S`: no site-packages, no environment variables - as bare as the embedded Python before setup."""
    install = tmp_path / ODD_NAME
    shutil.copytree(FIRSTRUN, install / "firstrun", ignore=shutil.ignore_patterns("__pycache__", "state"))
    pyproject = ROOT / "pyproject.toml"
    result = subprocess.run(
        [sys.executable, "-E", "-s", "-S", "-m", "firstrun", "--detect-only", "--pins", str(pyproject)],
        cwd=install,
        capture_output=True,
        text=True,
        encoding="utf-8",
    )
    assert result.returncode == 0, result.stderr
    assert "Chosen: torch 2.13.0+" in result.stdout
    assert "Traceback" not in result.stderr
