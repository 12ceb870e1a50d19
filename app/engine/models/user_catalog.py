"""Edit a models folder's own catalog.toml: add, replace or remove [models.X] / [sets.X] tables.

Edits are textual, so the user's comments and other tables survive; every new
text is parsed before it replaces the old one (atomically), so a failed edit
never leaves a broken catalog behind.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import tomllib
from pathlib import Path

from app.errors import UserError

_HEADER = re.compile(r"^\s*\[\s*(models|sets)\s*\.\s*(\"?)([A-Za-z0-9_.\-]+)\2\s*\]\s*(#.*)?$")
_ANY_TABLE = re.compile(r"^\s*\[")
_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,80}$")
_lock = threading.Lock()


def valid_name(name: str) -> bool:
    return bool(_NAME.match(name))


def safe_name(text: str) -> str:
    """A catalog / file name from anything: letters, digits, '-' and '_' only."""
    name = re.sub(r"[^A-Za-z0-9_\-]+", "-", text).strip("-_").lower()
    return (name or "model")[:80]


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a valid TOML basic string (\uXXXX escapes, \\ and \")
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to the catalog")


def _block(kind: str, name: str, fields: dict) -> list[str]:
    lines = [f"[{kind}.{name}]"]
    lines += [f"{k} = {_value(v)}" for k, v in fields.items() if v is not None]
    return lines + [""]


def _without(lines: list[str], kind: str, name: str) -> list[str]:
    out, skipping = [], False
    for line in lines:
        m = _HEADER.match(line)
        if m or _ANY_TABLE.match(line):
            skipping = bool(m and m.group(1) == kind and m.group(3) == name)
        if not skipping:
            out.append(line)
    return out


def edit(path: Path, put: list[tuple[str, str, dict]] = (), drop: list[tuple[str, str]] = ()) -> None:
    """Replace / add the tables in `put` and remove those in `drop`, in one atomic write."""
    path = Path(path)
    with _lock:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = "# This models folder's own catalog: imports and your own entries.\n"
        lines = text.splitlines()
        for kind, name in [*drop, *((k, n) for k, n, _ in put)]:
            if not valid_name(name):
                raise UserError(f"'{name}' is not a valid catalog name (letters, digits, - and _)")
            lines = _without(lines, kind, name)
        while lines and not lines[-1].strip():
            lines.pop()
        for kind, name, fields in put:
            lines += [""] + _block(kind, name, fields)
        new = "\n".join(lines).rstrip("\n") + "\n"
        try:
            tomllib.loads(new)
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"{path}: the catalog could not be updated safely ({exc}); it was left as it was") from None
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".catalog-", suffix=".toml", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                f.write(new)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
