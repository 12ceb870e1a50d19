"""The exact torch / torchvision versions RoomStager is built against.

The installer writes them to pins.json beside this package (installer/build.py, from
pyproject.toml). In a source checkout there is no pins.json, so pyproject.toml is read instead.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
PINNED = re.compile(r"^\s*(torch|torchvision)\s*==\s*([0-9][0-9A-Za-z.]*)\s*(;.*)?$", re.IGNORECASE)


def load_pins(path: Path | None = None) -> dict[str, str]:
    if path is not None:
        return _from_json(path) if path.suffix == ".json" else pins_from_pyproject(path)
    if (HERE / "pins.json").is_file():
        return _from_json(HERE / "pins.json")
    for folder in HERE.parents:
        if (folder / "pyproject.toml").is_file():
            return pins_from_pyproject(folder / "pyproject.toml")
    raise FileNotFoundError("neither pins.json nor pyproject.toml was found")


def pins_from_requirements(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for requirement in requirements:
        if match := PINNED.match(requirement):
            pins[match.group(1).lower()] = match.group(2)
    if set(pins) != {"torch", "torchvision"}:
        raise ValueError("pyproject.toml must pin both torch and torchvision with '=='")
    return pins


def pins_from_pyproject(path: Path) -> dict[str, str]:
    with path.open("rb") as handle:
        project = tomllib.load(handle)["project"]
    return pins_from_requirements(project.get("dependencies", []))


def _from_json(path: Path) -> dict[str, str]:
    pins = json.loads(path.read_text(encoding="utf-8"))
    return {"torch": pins["torch"], "torchvision": pins["torchvision"]}
