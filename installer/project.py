"""What the installer needs to know about the project: its requirements and version (from pyproject.toml)."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

INSTALLER_DIR = Path(__file__).resolve().parent
ROOT = INSTALLER_DIR.parent
sys.path.insert(0, str(INSTALLER_DIR))  # so build-side modules can share firstrun.pins

from firstrun.pins import pins_from_requirements  # noqa: E402

TORCH_PACKAGES = ("torch", "torchvision")  # installed per machine by firstrun, never in the payload
INSTALLER_REQUIREMENTS = INSTALLER_DIR / "requirements-installer.in"


def load_project(pyproject: Path) -> dict:
    with pyproject.open("rb") as handle:
        return tomllib.load(handle)["project"]


def runtime_requirements(pyproject: Path) -> list[str]:
    return list(load_project(pyproject).get("dependencies", []))


def torch_pins(pyproject: Path) -> dict[str, str]:
    return pins_from_requirements(runtime_requirements(pyproject))


def requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"cannot read a package name from {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def installer_requirements(path: Path = INSTALLER_REQUIREMENTS) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def app_version(root: Path = ROOT) -> str:
    """[project].version, or app.__version__ when the version is dynamic (read, not imported)."""
    project = load_project(root / "pyproject.toml")
    if "version" in project:
        return str(project["version"])
    text = (root / "app" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r"""^__version__\s*=\s*["']([^"']+)["']""", text, re.MULTILINE)
    if not match:
        raise ValueError("no version in pyproject.toml nor __version__ in app/__init__.py")
    return match.group(1)


def four_part_version(version: str) -> str:
    """'0.1.0' / '1.2rc1' -> '0.1.0.0' / '1.2.0.0' for the Windows file-version resource."""
    match = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", version)
    if not match:
        raise ValueError(f"not a version: {version!r}")
    return ".".join(n or "0" for n in match.groups()) + ".0"
