"""Undo entries for the document. Each stores a compact diff, never a full photo copy.

A mask edit keeps only the rectangle that changed, before and after, compressed
(a 0/255 patch is bit-packed first, so even "invert" on 50 MP costs a few MB).
Applying a result stores the ids of the base images on either side; the images
themselves live in the document's results.

The commands act on anything with the methods of `Editable` (the document): they
never reach into its insides. They never raise either: Qt calls redo/undo from C++,
where an exception would end the program, so a step that cannot be applied is
logged and reported to the document instead.
"""

from __future__ import annotations

import functools
import logging
import zlib
from typing import Protocol

import numpy as np
from PySide6.QtGui import QUndoCommand

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)
log = logging.getLogger(__name__)


class Editable(Protocol):
    """What undo entries change: the mask inside a rectangle, and which image is the base; and
    where a step that could not be applied is reported."""

    def write_mask(self, rect: Rect, patch: np.ndarray) -> None: ...

    def show_base(self, image_id: str) -> None: ...

    def report(self, text: str) -> None: ...


def _never_raises(step):
    """Wrap redo/undo: an error is logged and reported, never thrown back into Qt."""

    @functools.wraps(step)
    def guarded(self) -> None:
        try:
            step(self)
        except Exception as exc:  # noqa: BLE001 - anything raised here would abort the process
            log.exception("%s of %r failed", step.__name__, self.text())
            try:
                self.doc.report(f"Could not {step.__name__} \u201c{self.text()}\u201d: {exc}")
            except Exception:  # noqa: BLE001 - the report is best effort
                log.exception("reporting a failed %s", step.__name__)

    return guarded


class Patch:
    """A uint8 mask rectangle, packed: 1 bit per pixel when it is pure 0/255, else zlib'd bytes."""

    __slots__ = ("shape", "bits", "payload")

    def __init__(self, data: np.ndarray | None = None, *, shape=None, bits=None, payload=None):
        if data is None:
            self.shape, self.bits, self.payload = tuple(shape), bool(bits), payload
            return
        data = np.ascontiguousarray(data, dtype=np.uint8)
        self.shape = data.shape
        soft = np.count_nonzero(data) - np.count_nonzero(data == 255)
        self.bits = bool(soft == 0)
        raw = np.packbits(data == 255).tobytes() if self.bits else data.tobytes()
        self.payload = zlib.compress(raw, 1)

    def array(self) -> np.ndarray:
        n = int(np.prod(self.shape))
        size = (n + 7) // 8 if self.bits else n
        raw = zlib.decompressobj().decompress(self.payload, size)  # never more than the patch holds
        if len(raw) != size:
            raise ValueError(f"a mask patch holds {len(raw)} bytes, not {size}")
        if self.bits:
            flat = np.unpackbits(np.frombuffer(raw, np.uint8), count=n)
            return (flat.reshape(self.shape) * np.uint8(255)).astype(np.uint8)
        return np.frombuffer(raw, np.uint8).reshape(self.shape).copy()

    @property
    def nbytes(self) -> int:
        return len(self.payload)


def changed_rect(before: np.ndarray, after: np.ndarray, origin: tuple[int, int] = (0, 0)) -> Rect | None:
    """The bounding box (in mask coordinates) of the pixels that differ."""
    diff = before != after
    rows = np.flatnonzero(diff.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(diff[rows[0]:rows[-1] + 1].any(axis=0))
    ox, oy = origin
    return ox + int(cols[0]), oy + int(rows[0]), ox + int(cols[-1]) + 1, oy + int(rows[-1]) + 1


class MaskEdit(QUndoCommand):
    """One change of the mask inside `rect`. `applied`: the mask already shows `after`."""

    kind = "mask"

    def __init__(self, doc: Editable, rect: Rect, before: np.ndarray | Patch, after: np.ndarray | Patch,
                 text: str, applied: bool = True):
        super().__init__(text)
        self.doc = doc
        self.rect = tuple(int(v) for v in rect)
        self.before = before if isinstance(before, Patch) else Patch(before)
        self.after = after if isinstance(after, Patch) else Patch(after)
        self._skip_first_redo = applied

    @_never_raises
    def redo(self) -> None:
        if self._skip_first_redo:
            self._skip_first_redo = False
            return
        self.doc.write_mask(self.rect, self.after.array())

    @_never_raises
    def undo(self) -> None:
        self.doc.write_mask(self.rect, self.before.array())

    @property
    def nbytes(self) -> int:
        return self.before.nbytes + self.after.nbytes

    def state(self) -> dict:
        return {"kind": self.kind, "text": self.text(), "rect": list(self.rect),
                "shape": list(self.before.shape), "before_bits": self.before.bits,
                "after_bits": self.after.bits}

    def blobs(self) -> dict[str, bytes]:
        return {"before": self.before.payload, "after": self.after.payload}


class ApplyResult(QUndoCommand):
    """Make a result (or the original, id "original") the base image the next job works on."""

    kind = "apply"

    def __init__(self, doc: Editable, new_base: str, old_base: str, text: str, applied: bool = False):
        super().__init__(text)
        self.doc = doc
        self.new_base = new_base
        self.old_base = old_base
        self._skip_first_redo = applied

    @_never_raises
    def redo(self) -> None:
        if self._skip_first_redo:
            self._skip_first_redo = False
            return
        self.doc.show_base(self.new_base)

    @_never_raises
    def undo(self) -> None:
        self.doc.show_base(self.old_base)

    @property
    def nbytes(self) -> int:
        return 0

    def state(self) -> dict:
        return {"kind": self.kind, "text": self.text(), "new_base": self.new_base, "old_base": self.old_base}

    def blobs(self) -> dict[str, bytes]:
        return {}


def restore_command(doc: Editable, state: dict, blobs: dict[str, bytes]) -> QUndoCommand:
    """Rebuild a saved undo entry (project files, autosave); it is pushed as already applied."""
    if state["kind"] == "mask":
        shape = state["shape"]
        before = Patch(shape=shape, bits=state["before_bits"], payload=blobs["before"])
        after = Patch(shape=shape, bits=state["after_bits"], payload=blobs["after"])
        return MaskEdit(doc, tuple(state["rect"]), before, after, state["text"], applied=True)
    if state["kind"] == "apply":
        return ApplyResult(doc, state["new_base"], state["old_base"], state["text"], applied=True)
    raise ValueError(f"unknown history entry {state['kind']!r}")
