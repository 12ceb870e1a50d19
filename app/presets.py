"""The style presets and room types shipped in resources/: names, titles and prompt pieces.

Data shared by the request checks (is this a known style?), the prompt builder and
the window's choice lists."""

from __future__ import annotations

import tomllib
from functools import cache

from app.errors import UserError
from app.settings import RESOURCES


@cache
def _table(name: str) -> dict[str, dict]:
    return tomllib.loads((RESOURCES / name).read_text(encoding="utf-8"))


def styles() -> list[tuple[str, str]]:
    """(key, title) of every style preset, in the file's order."""
    return [(key, spec["title"]) for key, spec in _table("styles.toml").items()]


def rooms() -> list[tuple[str, str]]:
    """(key, title) of every room type, in the file's order."""
    return [(key, spec["title"]) for key, spec in _table("rooms.toml").items()]


def _normalise(key: str) -> str:
    return key.strip().lower().replace("-", "_").replace(" ", "_")


def _lookup(table: str, key: str, what: str) -> dict:
    data = _table(table)
    norm = _normalise(key)
    if norm not in data:
        raise UserError(f"unknown {what} '{key}' (choose from: {', '.join(data)})")
    return data[norm]


def style(key: str) -> dict:
    """A style preset's fields (title, prompt with {room}, negative); UserError names the choices."""
    return _lookup("styles.toml", key, "style")


def room(key: str) -> dict:
    """A room type's fields (title, phrase, furniture); UserError names the choices."""
    return _lookup("rooms.toml", key, "room type")
