"""Writing an output and its sidecar as one unit: both complete, or neither replaced.

For one output (`main`, with its parts in the same folder):
1. Take the output's lock, `.NAME.lock` beside it. It is an OS lock, so a killed process
   frees it; two processes writing the same output take turns.
2. Clean up after a killed run: a journal `.NAME.commit` means a run died while renaming
   its files, so its backups are put back (no file of that run stays); its temporary
   files and backups are deleted.
3. Write every part to `.PART.tmp` beside it, flushed to disk. A failure deletes the
   temps; nothing else has changed.
4. Write the journal, keep each existing part as `.PART.bak` (a hard link, or a copy
   where the disk has none), then move every temp into place.
5. Delete the journal (the commit point), then the backups. A failure in 4 puts the
   backups back before the error is raised.
Names are fixed per output, so cleaning up never needs to list the folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from app.imaging._files import UMASK, PhotoError, new_file_mode

Writer = Callable[[BinaryIO], None]
LOCK_TIMEOUT_S = 120.0

if os.name == "nt":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

    def _is_current(fd: int, path: Path) -> bool:
        return True  # Windows cannot delete an open file, so the one we hold is the one on disk

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

    def _is_current(fd: int, path: Path) -> bool:
        # The holder before us deletes the lock file: a lock on a deleted file guards nothing.
        try:
            return os.fstat(fd).st_ino == os.stat(path).st_ino
        except OSError:
            return False


def _hidden(path: Path, suffix: str) -> Path:
    return path.with_name(f".{path.name}{suffix}")


@contextlib.contextmanager
def output_lock(path: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the lock of the output `path` (one writer at a time, across processes)."""
    lock = _hidden(path, ".lock")
    deadline = time.monotonic() + timeout
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666 & ~UMASK)
        if _try_lock(fd):
            if _is_current(fd, lock):
                break
            _unlock(fd)
        os.close(fd)
        if time.monotonic() > deadline:
            raise PhotoError(f"{path}: another process has been writing it for {timeout:.0f} s; try again later")
        time.sleep(0.02)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)  # before unlocking on POSIX; on Windows it fails while another waits
        _unlock(fd)
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(lock)


def _simple(name) -> bool:
    return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name


def recover(main: Path, parts: list[Path]) -> None:
    """Undo what a killed run of `main` left half done, and delete its temporary files (lock held)."""
    folder = main.parent
    journal = _hidden(main, ".commit")
    if journal.exists():
        try:
            entries = json.loads(journal.read_text(encoding="utf-8"))["parts"]
        except (OSError, ValueError, KeyError, TypeError):
            entries = []
        undone = True
        for entry in entries if isinstance(entries, list) else []:
            if not (isinstance(entry, list) and len(entry) == 2 and _simple(entry[0])
                    and entry[0].startswith(main.name) and isinstance(entry[1], bool)):
                continue  # only ever this output's own files
            final = folder / entry[0]
            backup, temp = _hidden(final, ".bak"), _hidden(final, ".tmp")
            try:
                if entry[1]:  # the file existed before that run: put it back
                    if backup.exists():
                        os.replace(backup, final)
                elif not temp.exists() and final.exists():  # that run made it, then died
                    final.unlink()
            except OSError:
                undone = False  # keep the journal (and the backups): the next run tries again
        if not undone:
            return
        journal.unlink()
    for p in {*parts, main}:
        for suffix in (".tmp", ".bak"):
            _hidden(p, suffix).unlink(missing_ok=True)
    _hidden(main, ".commit.tmp").unlink(missing_ok=True)


def _write_temp(final: Path, write: Writer) -> Path:
    temp = _hidden(final, ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(OSError):  # permissions are cosmetic; the data is what matters
            os.chmod(temp, new_file_mode(final))
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _backup(final: Path) -> None:
    backup = _hidden(final, ".bak")
    backup.unlink(missing_ok=True)
    try:
        os.link(final, backup)
    except OSError:  # FAT / exFAT drives have no hard links
        shutil.copy2(final, backup)


def write_together(parts: list[tuple[Path, Writer]]) -> None:
    """Write every (path, writer) part (all in one folder; the first is the output) as one unit."""
    main = parts[0][0]
    paths = [p for p, _ in parts]
    if any(p.parent != main.parent for p in paths):
        raise ValueError("write_together: every part must be in the output's folder")
    main.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(main):
        recover(main, paths)
        if _hidden(main, ".commit").exists():
            raise PhotoError(f"{main}: an interrupted earlier write of it could not be undone (see the "
                             f".{main.name}.bak files beside it); nothing was written")
        temps: list[Path] = []
        try:
            for path, write in parts:
                temps.append(_write_temp(path, write))
        except BaseException:
            for t in temps:
                t.unlink(missing_ok=True)
            raise
        journal = _hidden(main, ".commit")
        staged = _hidden(main, ".commit.tmp")
        staged.write_text(json.dumps({"parts": [[p.name, p.exists()] for p in paths]}), encoding="utf-8")
        os.replace(staged, journal)
        try:
            for p in paths:
                if p.exists():
                    _backup(p)
            for p in paths:
                os.replace(_hidden(p, ".tmp"), p)
        except BaseException:
            recover(main, paths)
            raise
        journal.unlink()  # the commit point: from here on the new files stand
        for p in paths:
            _hidden(p, ".bak").unlink(missing_ok=True)
