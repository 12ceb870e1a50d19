"""Repaint jobs and the 3D view (a MainWindow mixin).

Repaint requests are built from the Repaint panel and run like staging (progress, live
preview, results, compare, export). The 3D view beside the canvas shows the room built from
the working image; a result shown on the canvas colours the same geometry, and the view
exports what it shows as .glb or .ply.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QFileDialog

from app import __version__
from app.engine import RepaintRequest, Room3DRequest, focal_35mm_from_exif, write_room
from app.errors import UserError
from app.ui import settings
from app.ui.engine_client import JobHandle

log = logging.getLogger(__name__)
ROOM_FILTER = "Binary glTF (*.glb);;Stanford PLY (*.ply)"


class RoomsMixin:
    def connect_rooms(self) -> None:
        a = self.actions_
        a.repaint.triggered.connect(self.repaint)
        a.view3d.toggled.connect(self.set_view3d_visible)
        self.repaint_panel.changed.connect(lambda: self._store_params("repaint", self.repaint_panel.values()))
        self.view3d.export_requested.connect(self.export_room3d)
        self.view3d.closed.connect(lambda: a.view3d.setChecked(False))
        self._room_job: JobHandle | None = None
        self._room_for: np.ndarray | None = None  # the image the shown room was built from

    # ---- repaint -------------------------------------------------------------------------

    def build_repaint_request(self) -> RepaintRequest | None:
        doc = self.doc
        if doc is None:
            return None
        panel = self.repaint_panel
        fields = panel.request_fields()
        if fields["mode"] != "region" and not doc.has_mask():
            what = "what stays" if fields["mode"] == "keep" else "the area to repaint"
            self.messages.show_message(f"The selection is empty. Select {what} first (Click tool or brush).",
                                       "warning")
            return None
        if not fields["prompts"]:
            self.messages.show_message("Write what to paint in the Repaint panel (one prompt per line).", "warning")
            return None
        lo, hi = self.guides_panel.thresholds()
        request = RepaintRequest(photo=doc.base, mask=doc.mask_bool() if fields["mode"] != "region" else None,
                                    canny_low=lo, canny_high=hi,
                                    **self.common_request_fields(panel.model_set.currentData()), **fields)
        try:
            request.validate()
        except UserError as exc:
            self.messages.show_message(str(exc), "warning")
            return None
        return request

    def repaint(self) -> JobHandle | None:
        request = self.build_repaint_request()
        if request is None:
            return None
        return self.submit_generation(request, f"Repaint · {self.repaint_panel.target.currentText()}")

    def split_repaint_entries(self, entries, result) -> None:
        """Each repainted image keeps the request that makes it again: its own prompt, not all of them."""
        for entry, prompt in zip(entries, result.prompts or [], strict=False):
            entry.request = dataclasses.replace(entry.request, prompts=[prompt])
            entry.label = f"{entry.label} · {prompt}" if entry.label else prompt

    # ---- the 3D view ----------------------------------------------------------------------

    def set_view3d_visible(self, on: bool) -> None:
        self.view3d.setVisible(on)
        if on:
            if self.centre_split.sizes()[1] < 50:
                total = sum(self.centre_split.sizes())
                self.centre_split.setSizes([total // 2, total - total // 2])
            self.request_room3d()

    def room3d_stale(self) -> None:
        """The working image changed (another photo, a result applied): build the room again when seen."""
        if self.view3d.isVisible():
            self.request_room3d()
        elif self.doc is None or self._room_for is not getattr(self.doc, "base", None):
            self.view3d.set_room(None)
            self._room_for = None

    def request_room3d(self) -> None:
        doc = self.doc
        if doc is None:
            self.view3d.set_room(None)
            self.view3d.set_busy("Open a photo to see the room in 3D.")
            return
        if self._room_for is doc.base and self.view3d.room is not None:
            self.recolour_room3d()
            return
        if self._room_job is not None and self._room_job.active:
            self._room_job.cancel()
        request = Room3DRequest(photo=doc.base, focal_35mm=focal_35mm_from_exif(doc.photo.exif),
                                   **self.common_request_fields())
        try:
            request.validate()
        except UserError as exc:
            self.view3d.set_busy(str(exc))
            return
        self.view3d.set_busy("Building the room in 3D (metric depth)…")
        job = self.client.submit(request, "Room in 3D")
        self._room_job = job
        job.finished.connect(lambda result, j=job, d=doc, base=doc.base: self._room_built(j, d, base, result))
        job.failed.connect(lambda msg, _u, j=job: j is self._room_job and self.view3d.set_busy(
            f"The room could not be built: {msg}"))

    def _room_built(self, job, doc, base, result) -> None:
        if job is not self._room_job or doc is not self.doc:
            return
        self._room_for = base
        self.view3d.set_room(result, colors_from=self._shown_pixels_for_room())

    def recolour_room3d(self) -> None:
        """The shown result's colours on the room's geometry, while the 3D view is seen (showing it
        recolours it: request_room3d)."""
        if self.view3d.room is None or self.doc is None or not self.view3d.isVisible():
            return
        self.view3d.show_colors_of(self._shown_pixels_for_room())

    def _shown_pixels_for_room(self):
        """The shown result's pixels; None for the working image's own colours."""
        shown = self.doc.result(self.shown_result) if self.shown_result else None
        return shown.image if shown is not None and shown.image.shape == self.doc.base.shape else None

    def export_room3d(self, path: str | None = None):
        room = self.view3d.room
        if room is None or self.doc is None:
            return None
        if path is None:
            stem = self.doc.path.stem if self.doc.path else "room"
            suggested = settings.output_dir(self.doc.path) / f"{stem}-3d.glb"
            path, _ = QFileDialog.getSaveFileName(self, "Export the room in 3D", str(suggested), ROOM_FILTER)
            if not path:
                return None
        return self.spawn(self._export_room3d(Path(path), room, self.view3d.canvas.colors.copy()))

    async def _export_room3d(self, path: Path, room, colors) -> Path:
        meta = {"app": f"RoomStager {__version__}", "photo": str(self.doc.path) if self.doc.path else None,
                "shown": self.shown_result or "working image", "measurements": room.measurements}
        protect = [self.doc.path] if self.doc.path else []
        out = await self.in_thread(lambda: write_room(path, room, colors=colors, metadata=meta, protect=protect))
        self.statusBar().showMessage(f"Saved the room in 3D to {out}", 6000)
        return out
