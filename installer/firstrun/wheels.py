"""Find the torch / torchvision wheel files for a build: in a local folder or on a package index."""

from __future__ import annotations

import sys
import sysconfig
import urllib.parse
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

PACKAGES = ("torch", "torchvision")


@dataclass(frozen=True)
class WheelName:
    name: str  # normalised: lower case, "-" and "." as "_"
    version: str  # public part, "2.13.0"
    local: str  # local label, "cu130" / "cpu" / "" for none
    tags: frozenset[tuple[str, str, str]]
    filename: str


@dataclass(frozen=True)
class RemoteWheel:
    wheel: WheelName
    url: str
    sha256: str | None


def normalise(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def parse_wheel_name(filename: str) -> WheelName | None:
    """PEP 427 name-version(-build)?-py-abi-platform.whl; None when it is not a wheel name."""
    if not filename.endswith(".whl"):
        return None
    parts = filename[:-4].split("-")
    if len(parts) not in (5, 6):
        return None
    name, version, pys, abis, plats = parts[0], parts[1], parts[-3], parts[-2], parts[-1]
    public, _, local = version.partition("+")
    tags = frozenset((p, a, pl) for p in pys.split(".") for a in abis.split(".") for pl in plats.split("."))
    return WheelName(normalise(name), public, local, tags, filename)


def interpreter_tags(
    version: tuple[int, int] | None = None, platform: str | None = None
) -> set[tuple[str, str, str]]:
    """Tags a wheel may carry to install on this interpreter (the subset torch wheels use)."""
    major, minor = version or sys.version_info[:2]
    plat = (platform or sysconfig.get_platform()).replace("-", "_").replace(".", "_")
    cp = f"cp{major}{minor}"
    pys = (cp, f"py{major}{minor}", f"py{major}")
    abis = (cp, "abi3", "none")
    return {(p, a, pl) for p in pys for a in abis for pl in (plat, "any")}


def matches(wheel: WheelName, package: str, version: str, build_id: str, tags: set) -> bool:
    return (
        wheel.name == normalise(package)
        and wheel.version == version
        and wheel.local == build_id
        and bool(wheel.tags & tags)
    )


def find_in_folder(folder: Path, pins: dict[str, str], build_id: str, tags: set) -> dict[str, Path] | None:
    """Both wheels of `build_id` from a local folder (studios without internet), or None."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        wheel = parse_wheel_name(path.name)
        if wheel is None or not path.is_file():
            continue
        for package in PACKAGES:
            if matches(wheel, package, pins[package], build_id, tags):
                found.setdefault(package, path)
    return found if len(found) == len(PACKAGES) else None


def builds_in_folder(folder: Path, pins: dict[str, str], tags: set) -> set[str]:
    """Build ids for which the folder holds a complete torch + torchvision pair."""
    labels = {w.local for p in folder.iterdir() if (w := parse_wheel_name(p.name)) is not None}
    return {label for label in labels if find_in_folder(folder, pins, label, tags)}


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def parse_index_page(html: str, page_url: str) -> list[RemoteWheel]:
    """PEP 503 'simple' page -> wheels with absolute URLs and the sha256 from the #fragment."""
    parser = _Links()
    parser.feed(html)
    wheels = []
    for href in parser.hrefs:
        absolute = urllib.parse.urljoin(page_url, href)
        url, _, fragment = absolute.partition("#")
        filename = urllib.parse.unquote(url.rsplit("/", 1)[-1])
        wheel = parse_wheel_name(filename)
        if wheel is None:
            continue
        algorithm, _, digest = fragment.partition("=")
        wheels.append(RemoteWheel(wheel, url, digest.lower() if algorithm == "sha256" and digest else None))
    return wheels


def find_on_index(
    base_url: str, pins: dict[str, str], build_id: str, tags: set, timeout: float = 60
) -> dict[str, RemoteWheel]:
    """Look both wheels up on `<base_url>/<build_id>/<package>/`; raise LookupError when one is missing."""
    found = {}
    for package in PACKAGES:
        page_url = f"{base_url.rstrip('/')}/{build_id}/{package}/"
        request = urllib.request.Request(page_url, headers={"User-Agent": "RoomStager-setup"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            html = response.read().decode("utf-8", "replace")
        candidates = [
            r
            for r in parse_index_page(html, page_url)
            if matches(r.wheel, package, pins[package], build_id, tags)
        ]
        if not candidates:
            raise LookupError(f"{package} {pins[package]}+{build_id} for this Python is not on {page_url}")
        found[package] = candidates[0]
    return found
