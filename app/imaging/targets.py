"""Where a job may write: never over any of its inputs, and only where writing will work.

`check_write_targets(inputs, outputs)` is the one check every command, the window's
export and every writer run before anything is written. A target is refused when it
is an input by any spelling (the same path, `..`, a symbolic link, a hard link, another
case on a case-insensitive disk: resolved paths and st_dev/st_ino are compared), lies
inside an input folder, is named twice, has a suffix no writer knows, is a folder
where a file is needed (or a file where a folder is), or sits where nothing can be
written (read-only, no permission, a file in the way of its folder).
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from app.imaging._files import PhotoError, link_problem

IMAGE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP"}
_IMAGE_HINT = "use .jpg, .png, .tif or .webp"


class TargetError(PhotoError):
    """A write target that must not or cannot be written; the message names it and why."""


@dataclass(frozen=True)
class Target:
    """One thing a job writes. `suffixes` None: any name (sidecars, manifests); `folder`: a folder."""

    path: Path
    suffixes: tuple[str, ...] | None = tuple(IMAGE_FORMATS)
    folder: bool = False
    hint: str = _IMAGE_HINT


def image(path) -> Target:
    return Target(Path(path))


def mask(path) -> Target:
    return Target(Path(path), (".png",), hint="masks are written as PNG: name it .png")


def named(path, *suffixes: str, hint: str = "") -> Target:
    """A file with one of these suffixes (any name when none are given)."""
    return Target(Path(path), tuple(s.lower() for s in suffixes) or None, hint=hint)


def folder(path) -> Target:
    return Target(Path(path), None, folder=True)


def _key(path: Path | str) -> str:
    return os.path.normcase(os.path.realpath(path))


def _identity(path: Path | str) -> tuple[tuple[int, int] | None, bool]:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None, False
    return ((st.st_dev, st.st_ino) if st.st_ino else None), stat.S_ISDIR(st.st_mode)


@dataclass(frozen=True)
class Input:
    """An input named for messages: Input(photo, "the original photo")."""

    path: Path | str | None
    what: str = "an input of this job"


@dataclass(frozen=True)
class _Input:
    path: Path
    key: str
    id: tuple[int, int] | None
    is_dir: bool
    what: str = "an input of this job"

    @classmethod
    def of(cls, path, what: str = "an input of this job") -> _Input:
        ident, is_dir = _identity(path)
        return cls(Path(path), _key(path), ident, is_dir, what)

    def covers(self, key: str, ident) -> bool:
        if key == self.key or (ident is not None and ident == self.id):
            return True
        return self.is_dir and key.startswith(self.key.rstrip(os.sep) + os.sep)


def same_file(a: Path | str, b: Path | str) -> bool:
    """Whether writing `a` would write over `b` (any spelling, link or hard link)."""
    ident, _ = _identity(a)
    return _Input.of(b).covers(_key(a), ident)


def _nearest_existing(path: Path) -> Path:
    p = Path(os.path.abspath(path))
    while not os.path.lexists(p) and p.parent != p:
        p = p.parent
    return p


def _can_create_in(folder: Path) -> bool:
    """Whether a file can be made in `folder` (tried for real: os.access alone misses read-only
    mounts and Windows permissions)."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        fd, name = tempfile.mkstemp(prefix=".roomstager-probe-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    try:
        os.unlink(name)
    except OSError:
        pass
    return True


def _check_place(t: Target, probed: dict[str, bool]) -> None:
    p = t.path
    if os.path.lexists(p) and (why := link_problem(p)):
        raise TargetError(f"{p}: {why}")
    if t.folder:
        if os.path.exists(p) and not os.path.isdir(p):
            raise TargetError(f"{p}: is a file, not a folder")
        base = p if os.path.isdir(p) else _nearest_existing(p)
    else:
        if os.path.isdir(p):
            raise TargetError(f"{p}: is a folder, not a file name")
        if os.path.exists(p) and not os.access(p, os.W_OK):
            raise TargetError(f"{p}: the file is read-only; RoomStager leaves it as it is")
        base = _nearest_existing(p.parent)
    if not os.path.isdir(base):
        raise TargetError(f"{p}: cannot make its folder: {base} is a file")
    key = _key(base)
    if key not in probed:
        probed[key] = _can_create_in(base)
    if not probed[key]:
        raise TargetError(f"{p}: cannot write in {base} (read-only, or no permission)")


def check_write_targets(inputs: Iterable[Input | Path | str | None], outputs: Iterable[Target | Path | str]) -> None:
    """Refuse (TargetError, naming the target) any output that would write over an input of the job,
    inside an input folder, twice, in an unknown format, or where nothing can be written."""
    named_inputs = [i if isinstance(i, Input) else Input(i) for i in inputs]
    ins = [_Input.of(i.path, i.what) for i in named_inputs if i.path is not None and str(i.path) != ""]
    seen: dict[str, Path] = {}
    probed: dict[str, bool] = {}
    for out in outputs:
        t = out if isinstance(out, Target) else image(out)
        p = t.path
        if not t.folder and t.suffixes is not None and p.suffix.lower() not in t.suffixes:
            kind = f"'{p.suffix}'" if p.suffix else "extensionless"
            raise TargetError(f"{p}: cannot write {kind} files" + (f" ({t.hint})" if t.hint else ""))
        key = _key(p)
        ident, _ = _identity(p)
        for i in ins:
            if i.covers(key, ident):
                if not (key == i.key or (ident is not None and ident == i.id)):
                    what = f"is inside {i.path}, {i.what} (an input folder)"
                elif os.path.abspath(p) == os.path.abspath(i.path):
                    what = f"is {i.what}"
                else:
                    what = f"is the same file as {i.path}, {i.what}"
                raise TargetError(f"{p}: {what}; choose another name so it stays untouched")
        if key in seen:
            raise TargetError(f"{p}: this job would write it twice (also as {seen[key]})")
        seen[key] = p
        _check_place(t, probed)
