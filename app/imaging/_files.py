"""File-system helpers shared by readers and writers: what a path that cannot be opened is,
and the permissions a new file gets."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from app.errors import UserError


class PhotoError(UserError):
    """A photo or mask file that cannot be read or written; the message names the file."""


def _current_umask() -> int:
    # mkstemp creates 0600 files; outputs should get the user's normal permissions.
    # Reading the umask means setting it, so do it once, at import.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _current_umask()


def new_file_mode(path: Path) -> int:
    """The mode a file written at `path` should have: the old file's, else 0666 less the umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~UMASK


def link_problem(path: Path) -> str | None:
    """Why `path` cannot be followed: a symlink loop, or a link to nothing; None when it can."""
    try:
        os.stat(path)
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP or getattr(exc, "winerror", None) == 1921:  # 1921: Windows' loop
            return "a symbolic link that loops back on itself"
        if os.path.islink(path):
            return f"a symbolic link to {os.readlink(path)}, which does not exist"
        return None


def missing(path: Path) -> str:
    """The message for a path that is not there (or is a loop / dangling link)."""
    return f"{path}: {link_problem(path) or 'no such file'}"
