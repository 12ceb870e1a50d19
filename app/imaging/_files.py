"""File-system helpers for writers: never clobber an original, never leave a half-written file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO


def _current_umask() -> int:
    # mkstemp creates 0600 files; outputs should get the user's normal permissions.
    # Reading the umask means setting it, so do it once, at import.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def same_file(a: Path, b: Path) -> bool:
    """True when a and b name the same file (resolved paths, or samefile for links/case)."""
    try:
        if a.resolve() == b.resolve():
            return True
    except OSError:
        pass
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def protected_match(path: Path, protect: Iterable[Path | str | None]) -> Path | None:
    """The first protected path that `path` would overwrite, else None."""
    for other in protect:
        if other is not None and same_file(path, Path(other)):
            return Path(other)
    return None


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> Path:
    """Write through `write(fileobj)` into a temp file beside `path`, then os.replace it.

    Readers never see a partial file, and a failure leaves nothing behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        try:
            mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_UMASK
            os.chmod(tmp, mode)
        except OSError:
            pass  # permissions are cosmetic; the data is what matters
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
