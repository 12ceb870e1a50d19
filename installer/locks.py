"""The Windows lock: make it (uv, on any OS) and check that it still matches pyproject.toml.

    python installer/locks.py            # re-resolve for CPython 3.11 / win_amd64, with hashes
    python installer/locks.py --upgrade  # same, letting every package move to its newest version
    python installer/locks.py --check    # exit 1 when pyproject.toml and the lock have drifted

torch and torchvision take part in the resolution (so everything that depends on them agrees with
the pins) but are left out of the file: firstrun installs the CUDA or CPU build that fits each PC.
The check needs no network: the lock's header holds a fingerprint of its inputs, and every
requirement of pyproject.toml must be met by a hashed pin in the lock.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import project

LOCK = project.INSTALLER_DIR / "locks" / "windows-py311.txt"
PYTHON_VERSION = "3.11"  # the embedded CPython the installer ships; must match the python311._pth we write
PYTHON_PLATFORM = "x86_64-pc-windows-msvc"
FINGERPRINT = re.compile(r"^# input-sha256: ([0-9a-f]{64})$", re.MULTILINE)
WINDOWS_MARKERS = {
    "os_name": "nt",
    "sys_platform": "win32",
    "platform_system": "Windows",
    "platform_machine": "AMD64",
    "platform_release": "10",
    "platform_version": "10.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "implementation_version": PYTHON_VERSION,
    "python_version": PYTHON_VERSION,
    "python_full_version": PYTHON_VERSION + ".9",
    "extra": "",
}


def fingerprint(pyproject: Path, installer_in: Path) -> str:
    """Hash of everything the lock is made from; any change to it means the lock must be remade."""
    data = project.load_project(pyproject)
    inputs = {
        "requires-python": data.get("requires-python", ""),
        "dependencies": [" ".join(d.split()) for d in data.get("dependencies", [])],
        "installer": project.installer_requirements(installer_in),
        "python": PYTHON_VERSION,
        "platform": PYTHON_PLATFORM,
        "excluded": list(project.TORCH_PACKAGES),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def header(digest: str) -> str:
    return (
        "# RoomStager runtime lock for Windows: CPython 3.11, win_amd64. Do not edit by hand:\n"
        "# remake it with `python installer/locks.py` after changing pyproject.toml.\n"
        "# torch and torchvision are not here on purpose: firstrun installs the CUDA or CPU build per PC.\n"
        f"# input-sha256: {digest}\n"
    )


def find_uv() -> str:
    found = shutil.which("uv")
    if found:
        return found
    try:
        from uv import find_uv_bin  # the PyPI `uv` package, when installed as a dev dependency
    except ImportError:
        raise SystemExit("uv is needed to make the lock: pip install 'uv>=0.13,<0.14'") from None
    return find_uv_bin()


def compile_lock(
    root: Path = project.ROOT,
    lock: Path = LOCK,
    installer_in: Path = project.INSTALLER_REQUIREMENTS,
    upgrade: bool = False,
) -> None:
    """Resolve root/pyproject.toml + installer_in into `lock` (both under root); existing pins are kept."""
    command = [
        find_uv(), "pip", "compile", "pyproject.toml", str(installer_in.relative_to(root)),
        "--python-platform", PYTHON_PLATFORM, "--python-version", PYTHON_VERSION,
        "--generate-hashes", "--no-header", "--quiet",
        "--output-file", str(lock.relative_to(root)),
    ]  # fmt: skip
    for package in project.TORCH_PACKAGES:
        command += ["--no-emit-package", package]
    if upgrade:
        command.append("--upgrade")
    lock.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(command, cwd=root, check=True)  # relative paths keep the "# via" notes machine-independent
    body = lock.read_text(encoding="utf-8")
    body = body[FINGERPRINT.search(body).end() + 1 :] if FINGERPRINT.search(body) else body
    lock.write_text(header(fingerprint(root / "pyproject.toml", installer_in)) + body, encoding="utf-8")


@dataclass
class Pin:
    version: str
    hashes: list[str] = field(default_factory=list)


def read_pins(lock_text: str) -> dict[str, Pin]:
    """name -> pinned version and hashes, from a `uv pip compile --generate-hashes` file."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for raw in lock_text.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        if match := re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line):
            current = pins[project.requirement_name(match.group(1))] = Pin(match.group(2))
        for digest in re.findall(r"--hash=sha256:([0-9a-f]{64})", line):
            if current is not None:
                current.hashes.append(digest)
    return pins


def check(pyproject: Path, lock: Path, installer_in: Path = project.INSTALLER_REQUIREMENTS) -> list[str]:
    """Everything wrong between pyproject.toml and the lock, in words; [] when they agree."""
    from packaging.requirements import Requirement  # build-time only; firstrun stays stdlib-only

    if not lock.is_file():
        return [f"{lock} is missing: run `python installer/locks.py`"]
    text = lock.read_text(encoding="utf-8")
    problems = []
    recorded = FINGERPRINT.search(text)
    if not recorded or recorded.group(1) != fingerprint(pyproject, installer_in):
        problems.append(
            f"{pyproject.name} or {installer_in.name} changed since {lock.name} was made: run `python installer/locks.py`"
        )
    pins = read_pins(text)
    for name in project.TORCH_PACKAGES:
        if name in pins:
            problems.append(f"{name} must not be in the lock (firstrun installs the right build per PC)")
    for name, pin in sorted(pins.items()):
        if not pin.hashes:
            problems.append(f"{name}=={pin.version} has no --hash")
    wanted = project.runtime_requirements(pyproject) + project.installer_requirements(installer_in)
    for line in wanted:
        requirement = Requirement(line)
        name = project.requirement_name(requirement.name)
        if name in project.TORCH_PACKAGES:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate(WINDOWS_MARKERS):
            continue
        if name not in pins:
            problems.append(f"{line!r} is required but {name} is not in {lock.name}")
        elif not requirement.specifier.contains(pins[name].version, prereleases=True):
            problems.append(f"{line!r} is required but {lock.name} pins {name}=={pins[name].version}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only check; exit 1 on drift")
    parser.add_argument(
        "--upgrade", action="store_true", help="let every locked package move to its newest version"
    )
    parser.add_argument("--pyproject", type=Path, default=project.ROOT / "pyproject.toml")
    parser.add_argument("--lock", type=Path, default=LOCK)
    args = parser.parse_args(argv)
    if not args.check:
        compile_lock(upgrade=args.upgrade)
    problems = check(args.pyproject, args.lock)
    for problem in problems:
        print(f"lock drift: {problem}", file=sys.stderr)
    if not problems:
        print(f"{args.lock.name} matches {args.pyproject.name}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
