"""The open photo: original and base image, the edit mask, the click-to-select object,
results and the panels' settings, with every mask / image change on a QUndoStack.

The mask is HxW uint8 coverage (0 keep .. 255 edit) so that soft brushes and
feathering show as they are painted; jobs receive `mask >= 128` (the engine's
bool contract). The base image is the original photo, or a result applied on top
of it so that work can be chained (de-furnish, then stage).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from app.engine import JobKind
from app.imaging import masks as mask_ops
from app.imaging.brush import Stroke
from app.imaging.io import Photo
from app.ui.undo_commands import ApplyResult, MaskEdit, Patch, changed_rect

Rect = tuple[int, int, int, int]
THRESHOLD = 128


@dataclass
class MaskChange:
    """A computed mask edit, ready to apply: the changed rectangle, before and after."""

    rect: Rect
    before: Patch
    after: Patch
    after_pixels: np.ndarray = field(repr=False)
    text: str
    version: int  # the mask_version it was computed against


def as_coverage(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    return np.where(mask, np.uint8(255), np.uint8(0)) if mask.dtype == bool else mask.astype(np.uint8, copy=False)


def diff_masks(old: np.ndarray, new: np.ndarray, text: str, version: int,
               origin: tuple[int, int] = (0, 0)) -> MaskChange | None:
    """The change from `old` to `new` (same shape; placed at `origin` in the mask), or None."""
    new = as_coverage(new)
    rect = changed_rect(old, new, origin)
    if rect is None:
        return None
    ox, oy = origin
    x0, y0, x1, y1 = rect
    window = (slice(y0 - oy, y1 - oy), slice(x0 - ox, x1 - ox))
    after = np.ascontiguousarray(new[window])
    return MaskChange(rect, Patch(old[window]), Patch(after), after, text, version)


def _feather(m: np.ndarray, px: int) -> np.ndarray:
    """Soften the edge outward by px: the mask grows by px and fades over it."""
    alpha = mask_ops.feather(mask_ops.grow(m >= THRESHOLD, px), px)
    return np.maximum(np.round(alpha * 255.0).astype(np.uint8), m)


MASK_OPS: dict[str, tuple[Callable[..., np.ndarray], str]] = {
    "grow": (lambda m, px: mask_ops.grow(m >= THRESHOLD, px), "Grow {px} px"),
    "shrink": (lambda m, px: mask_ops.shrink(m >= THRESHOLD, px), "Shrink {px} px"),
    "feather": (_feather, "Feather {px} px"),
    "fill_holes": (lambda m: mask_ops.fill_holes(m >= THRESHOLD), "Fill holes"),
    "invert": (lambda m: 255 - m, "Invert mask"),
    "clear": (lambda m: np.zeros_like(m), "Clear mask"),
}


def mask_op(name: str, px: int | None = None) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """(op, undo text) for a named mask action."""
    fn, text = MASK_OPS[name]
    if px is None:
        return fn, text
    return (lambda m: fn(m, int(px))), text.format(px=int(px))


@dataclass(eq=False)
class ResultEntry:
    """One picture a job made, with the request that makes it again."""

    id: str
    kind: JobKind  # a generating job: stage or defurnish
    image: np.ndarray = field(repr=False)
    seed: int | None
    request: Any = field(repr=False)  # the GenerationRequest (photo/mask arrays included)
    mask: np.ndarray | None = field(default=None, repr=False)  # the job's final edit mask (bool)
    group: int = 0  # results of one job share a group
    label: str = ""
    created: float = field(default_factory=time.time)
    timings: dict = field(default_factory=dict)


class Document(QObject):
    mask_changed = Signal(object)  # Rect that changed, or None for "all of it"
    image_changed = Signal()  # the base image was replaced (result applied / undone)
    selection_changed = Signal()  # click-to-select points, box or candidate
    results_changed = Signal()
    params_changed = Signal()
    changed = Signal()  # anything worth autosaving
    stroking = Signal(bool)  # a brush stroke began / ended (undo waits for its end)
    problem = Signal(str)  # an undo / redo step that could not be applied (the window says so)

    def __init__(self, photo: Photo, parent: QObject | None = None):
        super().__init__(parent)
        self.photo = photo
        self.original = photo.pixels
        self.original.flags.writeable = False
        h, w = self.original.shape[:2]
        self.mask = np.zeros((h, w), np.uint8)
        self.mask_version = 0  # bumped by every mask write: stale background computations are refused
        self.base_id = "original"
        self.points: list[tuple[float, float, bool]] = []
        self.box: tuple[float, float, float, float] | None = None
        self.candidate: np.ndarray | None = None  # bool: the object the clicks describe
        self.candidate_score: float | None = None
        self.results: list[ResultEntry] = []
        self._result_ids = itertools.count(1)
        self._groups = itertools.count(1)
        self.params: dict[str, dict] = {}
        self.stack = QUndoStack(self)
        self.stack.indexChanged.connect(self._stack_moved)
        self._stroke: Stroke | None = None
        self.project_path: Path | None = None
        self.photo_bytes: bytes | None = None  # a project's copy of a photo missing on disk (kept for saving)

    def _stack_moved(self, _index: int) -> None:
        self.changed.emit()

    # ---- basics --------------------------------------------------------------

    @property
    def path(self) -> Path | None:
        return Path(self.photo.path) if self.photo.path else None

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.original.shape[:2]
        return w, h

    @property
    def title(self) -> str:
        return self.path.name if self.path else "Untitled"

    @property
    def base(self) -> np.ndarray:
        return self.image_for(self.base_id)

    def image_for(self, image_id: str) -> np.ndarray:
        if image_id == "original":
            return self.original
        entry = self.result(image_id)
        if entry is None:
            raise KeyError(image_id)
        return entry.image

    def mask_bool(self) -> np.ndarray:
        return self.mask >= THRESHOLD

    def has_mask(self) -> bool:
        return bool(self.mask.any())

    def result(self, result_id: str) -> ResultEntry | None:
        return next((r for r in self.results if r.id == result_id), None)

    # ---- what undo entries change (undo_commands.Editable) ----------------------

    def write_mask(self, rect: Rect, patch: np.ndarray) -> None:
        """Put a mask patch in place without an undo entry (undo and redo call this)."""
        x0, y0, x1, y1 = rect
        h, w = self.mask.shape
        if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h) or np.shape(patch) != (y1 - y0, x1 - x0):
            raise ValueError(f"a mask patch {np.shape(patch)} at {rect} does not fit the {w}x{h} mask")
        self.mask[y0:y1, x0:x1] = patch
        self.mask_version += 1
        self.mask_changed.emit(rect)

    def set_mask(self, new_mask: np.ndarray, text: str) -> bool:
        """Replace the mask with `new_mask` (bool or uint8) as one undo entry; False if nothing changed."""
        new = np.asarray(new_mask)
        if new.shape != self.mask.shape:
            raise ValueError(f"mask shape {new.shape} does not match the photo {self.mask.shape}")
        return self.apply_change(diff_masks(self.mask, new, text, self.mask_version))

    def prepare(self, op: Callable[[np.ndarray], np.ndarray], text: str) -> Callable[[], MaskChange | None]:
        """A function, safe to run on any thread, computing the change `op` (uint8 mask -> new mask)
        makes. Apply its result with `apply_change` on the GUI thread; a change computed against a
        mask that was edited meanwhile is refused there."""
        mask, version = self.mask, self.mask_version
        return lambda: diff_masks(mask, op(mask), text, version)

    def apply_change(self, change: MaskChange | None) -> bool:
        if change is None or change.version != self.mask_version:
            return False
        x0, y0, x1, y1 = change.rect
        self.mask[y0:y1, x0:x1] = change.after_pixels
        self.mask_version += 1
        self.stack.push(MaskEdit(self, change.rect, change.before, change.after, change.text, applied=True))
        self.mask_changed.emit(change.rect)
        return True

    def run_op(self, op: Callable[[np.ndarray], np.ndarray], text: str) -> bool:
        return self.apply_change(self.prepare(op, text)())

    # ---- brush strokes -------------------------------------------------------

    def begin_stroke(self, x: float, y: float, radius: float, hardness: float, erase: bool) -> None:
        self._stroke = Stroke(self.mask, radius, hardness, erase)
        self.stroking.emit(True)
        self.stroke_to(x, y)

    def stroke_to(self, x: float, y: float) -> None:
        if self._stroke is None:
            return
        rect = self._stroke.to(x, y)
        if rect is not None:
            self.mask_version += 1
            self.mask_changed.emit(rect)

    def end_stroke(self) -> None:
        stroke, self._stroke = self._stroke, None
        if stroke is None:
            return
        self.stroking.emit(False)
        if stroke.bbox is None:
            return
        before = stroke.before_patch()
        x0, y0, x1, y1 = stroke.bbox
        rect = changed_rect(before, self.mask[y0:y1, x0:x1], (x0, y0))
        if rect is None:
            return
        rx0, ry0, rx1, ry1 = rect
        before = before[ry0 - y0:ry1 - y0, rx0 - x0:rx1 - x0]
        after = self.mask[ry0:ry1, rx0:rx1].copy()
        text = "Erase" if stroke.erase else "Brush stroke"
        self.stack.push(MaskEdit(self, rect, before, after, text, applied=True))

    # ---- mask actions (each: uint8 mask -> new mask; see MASK_OPS) ----------------

    def grow(self, px: int) -> bool:
        return self.run_op(*mask_op("grow", px))

    def shrink(self, px: int) -> bool:
        return self.run_op(*mask_op("shrink", px))

    def feather(self, px: int) -> bool:
        return self.run_op(*mask_op("feather", px))

    def fill_holes(self) -> bool:
        return self.run_op(*mask_op("fill_holes"))

    def invert(self) -> bool:
        return self.run_op(*mask_op("invert"))

    def clear(self) -> bool:
        return self.run_op(*mask_op("clear"))

    # ---- click-to-select -----------------------------------------------------

    def add_point(self, x: float, y: float, positive: bool) -> None:
        w, h = self.size
        self.points.append((min(max(float(x), 0.0), w - 1.0), min(max(float(y), 0.0), h - 1.0), bool(positive)))
        self.selection_changed.emit()

    def remove_last_point(self) -> None:
        if self.points:
            self.points.pop()
            if not self.points and self.box is None:
                self.candidate = None
            self.selection_changed.emit()

    def set_box(self, box: tuple[float, float, float, float] | None) -> None:
        self.box = box
        self.selection_changed.emit()

    def set_candidate(self, mask: np.ndarray | None, score: float | None = None) -> None:
        self.candidate = mask
        self.candidate_score = score
        self.selection_changed.emit()

    def discard_object(self) -> None:
        self.points, self.box, self.candidate = [], None, None
        self.selection_changed.emit()

    def commit_object(self, subtract: bool = False) -> bool:
        """Add (or subtract) the clicked object to the mask as one undo entry, then start a new object."""
        cand = self.candidate
        box = mask_ops.bounding_box(cand) if cand is not None else None
        if box is None:
            return False
        x0, y0, x1, y1 = box
        old = self.mask[y0:y1, x0:x1]
        new = old.copy()
        new[cand[y0:y1, x0:x1]] = 0 if subtract else 255
        change = diff_masks(old, new, "Subtract object" if subtract else "Add object", self.mask_version, (x0, y0))
        done = self.apply_change(change)
        self.discard_object()
        return done

    # ---- results and the base image -------------------------------------------

    def add_results(self, kind: str, result, label: str = "") -> list[ResultEntry]:
        """Keep every variation of a GenerationResult; returns the new entries."""
        group = next(self._groups)
        entries = []
        for image, seed in zip(result.images, result.seeds, strict=False):
            entry = ResultEntry(id=f"r{next(self._result_ids)}", kind=kind, image=image, seed=seed,
                                request=result.request, mask=result.mask, group=group, label=label,
                                timings=dict(getattr(result, "timings", {}) or {}))
            entry.image.flags.writeable = False
            entries.append(entry)
        self.results.extend(entries)
        self.results_changed.emit()
        self.changed.emit()
        return entries

    def restore_result(self, entry: ResultEntry) -> None:
        """Put back a result read from a project file (keeps its id)."""
        self.results.append(entry)
        num = int(entry.id.lstrip("r") or 0)
        self._result_ids = itertools.count(max(num + 1, next(self._result_ids)))
        self._groups = itertools.count(max(entry.group + 1, next(self._groups)))

    def apply_result(self, result_id: str) -> bool:
        entry = self.result(result_id)
        if entry is None or result_id == self.base_id:
            return False
        what = {JobKind.DEFURNISH: "de-furnished", JobKind.REPAINT: "repainted"}.get(entry.kind, "staged")
        self.stack.push(ApplyResult(self, result_id, self.base_id, f"Apply {what} result {entry.id}"))
        return True

    def report(self, text: str) -> None:
        """An undo entry could not be applied (undo_commands.Editable): tell the window, never raise."""
        self.problem.emit(text)

    def show_base(self, image_id: str) -> None:
        """Make an image the base without an undo entry (undo and redo call this)."""
        self.image_for(image_id)  # raises KeyError for an unknown id
        self.base_id = image_id
        self.image_changed.emit()
        self.changed.emit()

    def set_params(self, section: str, values: dict) -> None:
        if self.params.get(section) != values:
            self.params[section] = dict(values)
            self.params_changed.emit()
            self.changed.emit()
