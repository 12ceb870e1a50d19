"""Autosave and crash recovery.

Each running window owns a session folder under <data dir>/autosave/<id>/ with a
QLockFile held for as long as the process lives. Changes to the document are
saved there (the project layout, unzipped) a couple of seconds after the last
edit, and at the latest every `autosave/seconds`. A clean close deletes the
folder. At start-up, a session folder whose lock can be taken belonged to a
process that died (crash, kill, power cut): the window offers to restore it.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, QTimer, Signal

from app.ui import project_file, settings

log = logging.getLogger(__name__)
DEBOUNCE_MS = 1500


def autosave_root() -> Path:
    return settings.data_dir() / "autosave"


class Orphan:
    """An autosave left behind by a process that is gone; holds its lock until released."""

    def __init__(self, folder: Path, lock: QLockFile, info: dict):
        self.folder, self._lock, self.info = folder, lock, info

    @property
    def photo(self) -> str:
        return self.info.get("photo") or "an unsaved photo"

    @property
    def label(self) -> str:
        """How the user knows this work: its project's name, else its photo's (never the folder's id)."""
        for key in ("project", "photo"):
            if self.info.get(key):
                return Path(self.info[key]).name
        return "an unsaved photo"

    def discard(self) -> None:
        self._lock.unlock()
        project_file.remove_tree(self.folder)

    def release(self) -> None:
        self._lock.unlock()


def find_orphans() -> list[Orphan]:
    root = autosave_root()
    out = []
    if not root.is_dir():
        return out
    for folder in sorted(root.iterdir()):
        if not folder.is_dir():
            continue
        lock = QLockFile(str(folder / "session.lock"))
        lock.setStaleLockTime(0)  # only a dead owner makes a lock stale
        if not lock.tryLock(0):
            continue  # a live window owns it
        if not (folder / "project.json").is_file():
            lock.unlock()
            project_file.remove_tree(folder)
            continue
        try:
            info = json.loads((folder / "session.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            info = {}
        out.append(Orphan(folder, lock, info))
    return out


class Autosaver(QObject):
    failed = Signal(str)  # why the last autosave could not be written (emitted from the writer thread)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.folder = autosave_root() / uuid.uuid4().hex[:12]
        self._lock: QLockFile | None = None
        self._doc = None
        self._dirty = False
        self._pending: Future | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roomstager-autosave")
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.timeout.connect(self.save_now)
        self._periodic = QTimer(self)
        self._periodic.timeout.connect(self._tick)
        self._periodic.start(max(5, settings.get("autosave/seconds")) * 1000)

    _new_document = False

    def attach(self, doc) -> None:
        if self._doc is not None:
            self._doc.changed.disconnect(self._on_changed)
            self._doc.mask_changed.disconnect(self._on_changed)
        if doc is not self._doc:
            self._new_document = True  # its result ids and photo name may repeat the last one's
        self._doc = doc
        if doc is not None:
            doc.changed.connect(self._on_changed)
            doc.mask_changed.connect(self._on_changed)
            self._dirty = True
            self._debounce.start(DEBOUNCE_MS)

    def _on_changed(self, *_args) -> None:
        self._dirty = True
        self._debounce.start(DEBOUNCE_MS)

    def _tick(self) -> None:
        if self._dirty:
            self.save_now()

    def _ensure_lock(self) -> None:
        if self._lock is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._lock = QLockFile(str(self.folder / "session.lock"))
            self._lock.setStaleLockTime(0)
            if not self._lock.tryLock(0):
                raise OSError(f"cannot lock the autosave folder {self.folder}")

    def save_now(self) -> Future | None:
        """Snapshot now (GUI thread) and write in the background; returns the write's future."""
        doc = self._doc
        if doc is None or not self._dirty:
            return self._pending
        if doc._stroke is not None:  # mid-stroke: save when it ends
            self._debounce.start(DEBOUNCE_MS)
            return self._pending
        if self._pending is not None and not self._pending.done():
            self._debounce.start(300)  # one write at a time
            return self._pending
        self._dirty = False
        try:
            self._ensure_lock()
            snap = project_file.snapshot(doc)
        except Exception as exc:  # noqa: BLE001
            log.exception("autosave snapshot failed")
            self.failed.emit(str(exc))
            return None
        info = {"photo": str(doc.path) if doc.path else None, "saved": time.time(),
                "project": str(doc.project_path) if doc.project_path else None}
        folder = self.folder

        fresh, self._new_document = self._new_document, False

        def write():
            if fresh:  # files kept from the document before are not this one's, even under the same name
                for sub in ("results", "inputs", "photo", "history"):
                    project_file.remove_tree(folder / sub)
            project_file.write_folder(snap, folder)
            (folder / "session.json").write_text(json.dumps(info), encoding="utf-8")
            return str(folder)

        self._pending = self._pool.submit(write)
        self._pending.add_done_callback(self._written)
        return self._pending

    def _written(self, fut: Future) -> None:  # worker thread
        exc = fut.exception()
        if exc is not None:
            log.error("autosave failed: %s", exc)
            self.failed.emit(f"{exc.__class__.__name__}: {exc}")  # queued to the window's thread

    def wait(self, timeout: float = 60.0) -> None:
        if self._pending is not None:
            self._pending.result(timeout)

    def close(self, keep: bool = False) -> None:
        """Stop saving; remove the session folder unless `keep` (the document is gone cleanly)."""
        self._debounce.stop()
        self._periodic.stop()
        self._doc = None
        if self._pending is not None:
            try:
                self._pending.result(60)
            except Exception:  # noqa: BLE001 - we are closing; the log has it
                pass
        self._pool.shutdown(wait=True)
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None
        if not keep:
            project_file.remove_tree(self.folder)
