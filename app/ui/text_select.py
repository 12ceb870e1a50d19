"""Select all by text: "chairs" -> every chair found by SAM 3, added to the mask as one undo step.

The search runs in the engine's worker thread (a TextSegmentRequest); the window stays live and
can cancel it. The result is added only if the photo it was made for is still the working image;
the mask is read when the result lands, so edits made meanwhile are kept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.engine import TextSegmentRequest, TextSegmentResult
from app.errors import UserError
from app.ui.document import Document
from app.ui.engine_client import EngineClient, JobHandle
from app.ui.panels.text_select_box import TextSelectBox


def summary(result: TextSegmentResult) -> str:
    """ "chair ×3 (0.91, 0.84, 0.62), rug (0.77)": what was found, by label, best scores first."""
    by_label: dict[str, list[float]] = {}
    for obj in result.objects:
        by_label.setdefault(obj.label, []).append(obj.score)
    counts = Counter({label: len(scores) for label, scores in by_label.items()})
    parts = []
    for label, n in counts.most_common():
        scores = ", ".join(f"{s:.2f}" for s in sorted(by_label[label], reverse=True)[:5])
        parts.append(f"{label}{f' ×{n}' if n > 1 else ''} ({scores}{', …' if n > 5 else ''})")
    return "; ".join(parts)


class TextSelectController(QObject):
    status = Signal(str)
    added = Signal(int)  # instances added to the mask

    def __init__(self, client: EngineClient, request_fields: Callable[[], dict], box: TextSelectBox,
                 current_doc: Callable[[], Document | None], parent: QObject | None = None):
        super().__init__(parent)
        self.client, self.request_fields, self.box, self.current_doc = client, request_fields, box, current_doc
        self.job: JobHandle | None = None
        box.requested.connect(self.run)
        box.cancel_requested.connect(self.cancel)

    def run(self, text: str) -> JobHandle | None:
        doc = self.current_doc()
        if doc is None:
            self.box.show_message("Open a photo first.")
            return None
        request = TextSegmentRequest(photo=doc.base, text=text, **self.request_fields())
        try:
            request.validate()
        except UserError as exc:
            self.box.show_message(str(exc))
            return None
        self.cancel()
        what = ", ".join(request.phrases)
        job = self.client.submit(request, f"Selecting all: {what}")
        self.job = job
        self.box.set_busy(True)
        self.box.show_message(f"Looking for {what} …")
        job.progress.connect(lambda ev, j=job: j is self.job and ev.message and self.box.show_message(ev.message))
        job.finished.connect(lambda result, j=job, d=doc: self._finished(j, d, result))
        job.failed.connect(lambda message, _user, j=job: self._ended(j, message))
        job.cancelled.connect(lambda j=job: self._ended(j, "Cancelled."))
        return job

    def cancel(self) -> None:
        if self.job is not None and self.job.active:
            self.job.cancel()

    def _ended(self, job: JobHandle, message: str) -> None:
        if job is not self.job:
            return
        self.job = None
        self.box.set_busy(False)
        self.box.show_message(message)
        self.status.emit(f"Select all: {message}")

    def _finished(self, job: JobHandle, doc: Document, result: TextSegmentResult) -> None:
        if job is not self.job:
            return
        if doc is not self.current_doc() or job.request.photo is not doc.base:
            self._ended(job, "The photo changed during the search: nothing was added.")
            return
        if not result.found:
            self._ended(job, result.message)
            return
        union = result.mask
        n = len(result.objects)
        what = ", ".join(job.request.phrases)
        changed = doc.set_mask(np.where(union, np.uint8(255), doc.mask), f"Select all: {what} ({n})")
        found = summary(result)
        self._ended(job, f"Added {found}." if changed else f"Found {found}: already in the mask.")
        if changed:
            self.added.emit(n)
