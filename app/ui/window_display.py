"""Keeping the canvas, title and panels in step with the document (a MainWindow mixin)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor

from app.imaging import masks as mask_ops
from app.settings import MARGIN_AT_1024
from app.ui import settings
from app.ui.document import Document, mask_op

ASYNC_MASK_PIXELS = 8_000_000  # above this, mask actions run on a worker thread


class DisplayMixin:
    # ---- the document ----------------------------------------------------------

    def _document_problem(self, text: str) -> None:
        self.messages.show_message(text, "error")

    def set_document(self, doc: Document | None) -> None:
        old = self.doc
        if old is not None:
            for sig, slot in self._doc_connections:
                sig.disconnect(slot)
            old.setParent(None)
            old.deleteLater()
        self.doc = doc
        self.shown_result = None
        self._had_mask = False
        self.actions_.compare.setChecked(False)
        for tool in self.tools.values():
            tool.doc = doc
        self._doc_connections = []
        for act in self.actions_.document_actions():
            act.setEnabled(doc is not None)
        self.placeholder.setVisible(doc is None)
        if doc is None:
            self.undo_group.setActiveStack(None)
            self.canvas.image.set_image(None)
            self.canvas.mask.set_mask(None)
            self.canvas.candidate.set_mask(None)
            self.canvas.margin.set_mask(None)
            self.canvas.points.set_selection([], None)
            self.canvas.set_preview(None, None)
            self.setWindowTitle("RoomStager")
            self.guides_panel.set_photo(None)
        else:
            doc.setParent(self)
            self.undo_group.addStack(doc.stack)
            self.undo_group.setActiveStack(doc.stack)
            w, h = doc.size
            self.canvas.mask.set_mask(doc.mask)
            self.canvas.candidate.set_mask(None)
            self.canvas.set_photo_size(w, h)
            for sig, slot in ((doc.mask_changed, self._mask_changed), (doc.selection_changed, self._selection_changed),
                              (doc.image_changed, self._image_changed), (doc.results_changed, self._results_changed),
                              (doc.stack.cleanChanged, self._update_title), (doc.stroking, self._stroking),
                              (doc.problem, self._document_problem)):
                sig.connect(slot)
                self._doc_connections.append((sig, slot))
            self.stage_panel.set_values(doc.params.get("stage", {}))
            self.defurnish_panel.set_values(doc.params.get("defurnish", {}))
            self.repaint_panel.set_values(doc.params.get("repaint", {}))
            self.guides_panel.set_photo(doc.base)
            self._update_title()
        self.results_panel.set_document(doc)
        self.auto_panel.panel.clear()
        self.selection.attach(doc)
        self.autosaver.attach(doc)
        if doc is not None:
            self.guides_stale = True
            self.maybe_request_guides()
            self._mask_settled()
            self._selection_changed()
        self.refresh_display()
        self._update_actions()
        self.room3d_stale()

    def _stroking(self, active: bool) -> None:
        """No undo / redo in the middle of a stroke: the stroke's own undo entry comes at its end."""
        stack = self.doc.stack if self.doc is not None else None
        self.undo_action.setEnabled(not active and stack is not None and stack.canUndo())
        self.redo_action.setEnabled(not active and stack is not None and stack.canRedo())

    def _update_title(self, *_args) -> None:
        doc = self.doc
        if doc is None:
            self.setWindowTitle("RoomStager")
            return
        w, h = doc.size
        self.setWindowTitle(f"{doc.title}[*] — {w}×{h} — RoomStager")
        self.setWindowModified(not doc.stack.isClean() or self._unsaved_results)

    # ---- what the canvas shows -----------------------------------------------------

    def refresh_display(self) -> None:
        doc = self.doc
        view = self.canvas
        if doc is None:
            return
        shown = doc.result(self.shown_result) if self.shown_result else None
        main = shown.image if shown else doc.base
        before = getattr(shown.request, "photo", None) if shown else (doc.original if doc.base_id != "original" else None)
        compare = self.actions_.compare.isChecked() and before is not None
        if self.holding_original:
            view.image.set_image(before if before is not None else doc.original)
            view.image.set_split(None)
        elif compare:
            view.image.set_image(main, before)
            view.image.set_split(self.split_fraction * doc.size[0])
        else:
            view.image.set_image(main)
            view.image.set_split(None)
        self.clip_overlays()
        show_overlays = self.actions_.show_mask.isChecked() and not self.holding_original
        view.mask.setVisible(show_overlays)
        view.candidate.setVisible(show_overlays)
        view.margin.setVisible(show_overlays)
        view.points.setVisible(not self.holding_original)
        self.actions_.compare.setEnabled(before is not None or self.actions_.compare.isChecked())
        view.viewport().update()

    def clip_overlays(self) -> None:
        """In compare mode the mask marks the "before" half only: the "after" half is the result as it is."""
        view = self.canvas
        split = view.image.split_x if view.image._before else None
        for layer in (view.mask, view.candidate, view.margin):
            layer.set_right_edge(split)

    def show_result(self, result_id: str | None) -> None:
        self.shown_result = result_id if self.doc is not None and self.doc.result(result_id or "") else None
        self.refresh_display()
        self.recolour_room3d()
        self._update_actions()

    def _hold_original(self, on: bool) -> None:
        self.holding_original = on
        self.refresh_display()
        if on:
            self.statusBar().showMessage("Showing the original — release \\ to go back")
        else:
            self.statusBar().clearMessage()

    def _image_changed(self) -> None:
        self.doc.discard_object()
        self.auto_panel.panel.clear()
        self.guides_panel.set_photo(self.doc.base)
        self.guides_stale = True
        self.maybe_request_guides()
        self.results_panel.refresh()
        self.refresh_display()
        self._update_actions()
        self.room3d_stale()

    def _results_changed(self) -> None:
        self._unsaved_results = True
        self._update_title()

    _unsaved_results = False
    _had_mask = False

    # ---- mask and selection ------------------------------------------------------

    def _mask_changed(self, rect) -> None:
        self.canvas.mask.update_rect(rect)
        self._coverage_timer.start()

    def _mask_settled(self) -> None:
        doc = self.doc
        if doc is None:
            return
        step = max(1, int((doc.mask.size / 4_000_000) ** 0.5))  # a sample is plenty for a percentage
        sample = doc.mask[::step, ::step]
        covered = np.count_nonzero(sample >= 128) / sample.size
        self.mask_panel.show_mask_info(covered)
        has_mask = covered > 0 or doc.has_mask()
        if has_mask != self._had_mask:  # a fresh selection is where staging goes; none: the floor
            self._had_mask = has_mask
            (self.stage_panel.use_mask if has_mask else self.stage_panel.use_auto).setChecked(True)
        self._update_margin()
        self._update_actions()

    def _update_margin(self) -> None:
        doc = self.doc
        panel = self.defurnish_panel
        if doc is None or not panel.show_margin.isChecked():
            self.canvas.margin.set_mask(None)
            return
        px = panel.margin_px() or mask_ops.scale_px(MARGIN_AT_1024, doc.size)
        self.canvas.margin.set_mask(mask_ops.margin_ring(doc.mask_bool(), px))

    def _selection_changed(self) -> None:
        doc = self.doc
        if doc is None:
            return
        self.canvas.points.set_selection(doc.points, doc.box)
        self.canvas.candidate.set_mask(doc.candidate)
        self.mask_panel.show_object(len(doc.points), doc.box is not None, doc.candidate_score, self.selection.ready)
        has_object = doc.candidate is not None
        self.actions_.commit_add.setEnabled(has_object)
        self.actions_.commit_subtract.setEnabled(has_object)
        self.actions_.discard_object.setEnabled(bool(doc.points or doc.box) or has_object)
        self.actions_.undo_point.setEnabled(bool(doc.points))

    def mask_action(self, name: str, px: int | None = None):
        """Run a mask action; on big photos the work runs on a worker thread (the window stays fluid)."""
        doc = self.doc
        if doc is None:
            return None
        op, text = mask_op(name, px)
        compute = doc.prepare(op, text)
        if doc.mask.size <= ASYNC_MASK_PIXELS:
            return doc.apply_change(compute())
        return self.spawn(self._mask_action_async(doc, compute, text))

    async def _mask_action_async(self, doc, compute, text: str) -> bool:
        with self.busy(f"{text}…"):
            change = await self.in_thread(compute)
        if doc is not self.doc:
            return False
        if change is not None and not doc.apply_change(change):
            self.messages.show_message(f"The mask changed while '{text}' was being computed: nothing was "
                                       "changed. Try again.", "warning")
            return False
        return change is not None

    def _overlay_style(self, color: QColor, opacity: float) -> None:
        self.canvas.mask.set_style(color, opacity)
        settings.put("mask/color", color.name())
        settings.put("mask/opacity", opacity)

    def _update_actions(self) -> None:
        doc = self.doc
        a = self.actions_
        shown = doc.result(self.shown_result) if doc is not None and self.shown_result else None
        a.apply_result.setEnabled(shown is not None and shown.id != doc.base_id)
        a.rerun.setEnabled(shown is not None)
        if doc is not None:
            self._selection_changed()

    # ---- status ------------------------------------------------------------------

    def _cursor_moved(self, x: float, y: float) -> None:
        if self.doc is None:
            return
        w, h = self.doc.size
        self.pos_label.setText(f"{int(x)}, {int(y)} px" if 0 <= x < w and 0 <= y < h else f"{w}×{h}")

    def _sam_status(self, text: str) -> None:
        self.sam_label.setText(text)

    def eventFilter(self, obj, event) -> bool:
        if obj is self.canvas and event.type() == QEvent.Type.Resize:
            self.placeholder.resize(self.canvas.size())
        return super().eventFilter(obj, event)
