"""Helpers for the Windows-installer tests: import path, tool checks, fake torch wheels.

A module of its own (not conftest) because tests/ has its own conftest.py and two modules
named "conftest" cannot both be imported by name.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALLER = ROOT / "installer"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
if str(INSTALLER) not in sys.path:
    sys.path.insert(0, str(INSTALLER))  # installer/ is not a package: it is shipped, not imported by the app

PINS = {"torch": "2.13.0", "torchvision": "0.28.0"}
# A path a studio could really have: spaces and letters outside ASCII.
ODD_NAME = "Atelier Müller – Räume é"


def require_tool(*names: str, package: str) -> str:
    """The first of `names` on PATH. Missing: a failure on CI (CI=true), a skip on a developer's machine."""
    for name in names:
        if found := shutil.which(name):
            return found
    if os.environ.get("CI"):
        pytest.fail(f"{names[0]} is missing on CI: `apt-get install -y {package}` belongs in .ci/run")
    pytest.skip(f"{names[0]} not installed (apt-get install {package}); CI runs this")


def require_makensis() -> str:
    return require_tool("makensis", package="nsis")


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def write_wheel(
    folder: Path, name: str, version: str, files: dict[str, str], tag: str = "py3-none-any"
) -> Path:
    """A small but valid wheel (PEP 427) holding `files`."""
    dist_info = f"{name}-{version}.dist-info"
    contents = dict(files)
    contents[f"{dist_info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    contents[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: {tag}\n"
    )
    record = [_record_line(p, d.encode()) for p, d in contents.items()] + [f"{dist_info}/RECORD,,"]
    contents[f"{dist_info}/RECORD"] = "\n".join(record) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in contents.items():
            archive.writestr(member, data)
    return path


def write_fake_torch_pair(folder: Path, label: str, cuda: str | None, available: bool) -> list[Path]:
    """torch + torchvision stand-ins with the real names and just the API firstrun's probe touches."""
    torch_init = textwrap.dedent(
        f"""
        __version__ = "{PINS["torch"]}+{label}"

        class version:
            cuda = {cuda!r}

        class cuda:
            @staticmethod
            def is_available():
                return {available!r}

            @staticmethod
            def get_device_name(index):
                return "Fake RTX"

            @staticmethod
            def get_device_capability(index):
                return (8, 9)

        class _Tensor:
            def __matmul__(self, other):
                return self

            def sum(self):
                return self

            def item(self):
                return 262144.0

        def ones(shape, device=None):
            return _Tensor()

        def zeros(shape, device=None):
            return _Tensor()
        """
    )
    vision_init = f'__version__ = "{PINS["torchvision"]}+{label}"\nfrom . import ops\n'
    vision_ops = "def nms(boxes, scores, threshold):\n    return [0]\n"
    return [
        write_wheel(folder, "torch", f"{PINS['torch']}+{label}", {"torch/__init__.py": torch_init}),
        write_wheel(
            folder,
            "torchvision",
            f"{PINS['torchvision']}+{label}",
            {"torchvision/__init__.py": vision_init, "torchvision/ops.py": vision_ops},
        ),
    ]
