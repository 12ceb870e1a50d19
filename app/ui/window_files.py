"""Opening photos and projects, saving projects, exporting, recent files, masks from
files, settings and crash recovery (a MainWindow mixin). Slow file work runs in a
worker thread and is awaited on the qasync loop, so the window never freezes."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QTimer, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.errors import UserError
from app.imaging.io import read_mask, read_photo, write_mask
from app.ui import project_file, settings
from app.ui.autosave import find_orphans
from app.ui.canvas.layers import pyramid
from app.ui.document import Document
from app.ui.export_dialog import ExportDialog, export_image
from app.ui.messages import readable
from app.ui.provenance import image_lookup, result_record

log = logging.getLogger(__name__)
_FILES = ThreadPoolExecutor(max_workers=2, thread_name_prefix="roomstager-files")
PHOTO_FILTER = "Photos (*.jpg *.jpeg *.png *.tif *.tiff *.webp *.heic *.heif *.bmp);;RoomStager projects (*.rsproj);;All files (*)"


class FilesMixin:
    def connect_files(self) -> None:
        a = self.actions_
        a.open.triggered.connect(self._open_dialog)
        a.open_project.triggered.connect(self._open_project_dialog)
        a.save_project.triggered.connect(lambda: self.spawn(self.save_project()))
        a.save_project_as.triggered.connect(lambda: self.spawn(self.save_project(ask=True)))
        a.export.triggered.connect(self._export_dialog)
        a.settings.triggered.connect(self._settings_dialog)
        a.load_mask.triggered.connect(self._load_mask_dialog)
        a.save_mask.triggered.connect(self._save_mask_dialog)
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._tasks: set[asyncio.Task] = set()

    # ---- async plumbing -----------------------------------------------------------

    def spawn(self, coro) -> asyncio.Task:
        """Run a coroutine on the qasync loop; its errors become messages, never tracebacks."""
        task = asyncio.ensure_future(self._guard(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(self, coro):
        try:
            return await coro
        except UserError as exc:
            self.messages.show_message(str(exc), "error")
        except Exception as exc:  # noqa: BLE001
            log.exception("task failed")
            self.messages.show_message(readable(exc), "error")
        return None

    async def in_thread(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(_FILES, fn, *args)

    # ---- opening --------------------------------------------------------------------

    def _open_dialog(self) -> None:
        start = settings.get("recent")[:1] or [str(Path.home())]
        path, _ = QFileDialog.getOpenFileName(self, "Open a room photo", str(Path(start[0]).parent), PHOTO_FILTER)
        if path:
            self.open_paths([path])

    def _open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a project", "", "RoomStager projects (*.rsproj)")
        if path:
            self.open_paths([path])

    def open_paths(self, paths: list[str]) -> asyncio.Task | None:
        if not paths:
            return None
        if len(paths) > 1:
            self.messages.show_message(f"Opening {Path(paths[0]).name}; RoomStager edits one photo at a time.")
        path = Path(paths[0])
        if path.suffix.lower() == project_file.SUFFIX or path.is_dir() and (path / "project.json").is_file():
            return self.spawn(self.open_project(path))
        return self.spawn(self.open_photo(path))

    async def open_photo(self, path: str | Path) -> bool:
        """Read the photo first: only a photo that opens is worth asking to save the current work for."""
        path = Path(path)
        try:
            with self.busy(f"Opening {path.name}…"):
                photo = await self.in_thread(read_photo, path)
                await self.in_thread(pyramid, photo.pixels)  # the canvas's levels, built off the GUI thread
        except UserError as exc:
            self.messages.show_message(f"Cannot open {path.name}: {exc}", "error")
            return False
        except Exception as exc:  # noqa: BLE001 - anything else about the file
            log.exception("opening %s", path)
            self.messages.show_message(f"Cannot open {path.name}: {readable(exc)}", "error")
            return False
        if not await self.settle_unsaved("open another photo"):
            return False
        self.set_document(Document(photo))
        self._unsaved_results = False
        settings.add_recent(str(path.resolve()))
        w, h = photo.size
        self.report_done(f"Opened {path.name} ({w}×{h}, {w * h / 1e6:.1f} MP)")
        return True

    async def open_project(self, path: str | Path, confirm: bool = True, label: str | None = None) -> bool:
        """Open a project (zip or folder); `label` names it in messages (an autosave folder's name is an id)."""
        path = Path(path)
        name = label or path.name
        with self.busy(f"Opening {name}…"):
            data = await self.in_thread(project_file.read_project, path)
            await self.in_thread(lambda: [pyramid(a) for a in (data.photo.pixels, *(r["image"] for r in data.results))])
        if confirm and not await self.settle_unsaved("open a project"):
            return False
        doc = project_file.build_document(data)
        doc.project_path = path if path.suffix.lower() == project_file.SUFFIX else None
        self.set_document(doc)
        self._unsaved_results = False
        self._update_title()
        if path.suffix.lower() == project_file.SUFFIX:
            settings.add_recent(str(path.resolve()))
        self.report_done(f"Opened {name}")
        return True

    def _fill_recent(self) -> None:
        menu = self.recent_menu
        menu.clear()
        recent = settings.get("recent")
        for p in recent:
            menu.addAction(Path(p).name, lambda p=p: self.open_paths([p])).setToolTip(p)
        if not recent:
            menu.addAction("No recent files").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear", lambda: settings.put("recent", []))

    def unsaved_choice(self, what: str) -> bool | Path:
        """Ask about unsaved work before `what`: True goes on (nothing to save, or discard it), False
        stays, a Path means "save the project there first"."""
        doc = self.doc
        if doc is None or (doc.stack.isClean() and not self._unsaved_results):
            return True
        answer = self.ask("Unsaved work", f"Save the project of {doc.title} before you {what}?",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Cancel:
            return False
        if answer == QMessageBox.StandardButton.Save:
            target = self._project_target(ask=doc.project_path is None)
            return target if target is not None else False
        return True

    async def settle_unsaved(self, what: str) -> bool:
        """True when it is fine to drop the open document; saving it first (off the window's thread) if asked."""
        choice = self.unsaved_choice(what)
        if isinstance(choice, Path):
            return await self.save_project(path=choice) is not None
        return choice

    # ---- projects ---------------------------------------------------------------------

    def _project_target(self, ask: bool) -> Path | None:
        doc = self.doc
        if not ask and doc.project_path is not None:
            return doc.project_path
        suggested = (doc.path.with_suffix(project_file.SUFFIX) if doc.path else Path.home() / "room.rsproj")
        path, _ = QFileDialog.getSaveFileName(self, "Save project", str(suggested), "RoomStager projects (*.rsproj)")
        if not path:
            return None
        path = Path(path)
        return path if path.suffix == project_file.SUFFIX else path.with_suffix(project_file.SUFFIX)

    async def save_project(self, ask: bool = False, path: Path | None = None) -> Path | None:
        doc = self.doc
        if doc is None:
            return None
        target = Path(path) if path else self._project_target(ask or doc.project_path is None)
        if target is None:
            return None
        snap = project_file.snapshot(doc, portable=True)
        with self.busy(f"Saving {target.name}…"):
            await self.in_thread(project_file.write_zip, snap, target)
        if self.doc is doc:
            doc.project_path = target
            doc.stack.setClean()
            self._unsaved_results = False
            self._update_title()
            settings.add_recent(str(target.resolve()))
        self.report_done(f"Saved {target.name}")
        return target

    # ---- export -------------------------------------------------------------------------

    def shown_pixels(self):
        doc = self.doc
        shown = doc.result(self.shown_result) if self.shown_result else None
        return (shown.image, shown) if shown else (doc.base, doc.result(doc.base_id))

    def _export_dialog(self) -> None:
        if self.doc is None:
            return
        pixels, entry = self.shown_pixels()
        stem = self.doc.path.stem if self.doc.path else "room"
        suffix = f"-{entry.kind}-{entry.id}" if entry else "-edited"
        last = Path(settings.get("export/folder") or "")
        folder = last if str(last) not in ("", ".") and last.is_dir() else settings.output_dir(self.doc.path)
        dialog = ExportDialog(pixels, folder / f"{stem}{suffix}.{settings.get('export/format')}", self)
        if dialog.exec():
            self.spawn(self.export_to(dialog.options()))

    async def export_to(self, options) -> object:
        doc = self.doc
        pixels, entry = self.shown_pixels()
        lookup = image_lookup(doc)
        photo_file = str(doc.path) if doc.path else None
        licenses = entry.timings.get("licenses") if entry is not None else None

        def work():
            record = result_record(entry, lookup, photo_file) if entry is not None else None
            return export_image(pixels, doc.photo, options, record, licenses, (doc.project_path,))

        with self.busy(f"Exporting {Path(options.path).name}…"):
            result = await self.in_thread(work)
        folder = result.image.parent
        extra = " with the original and a manifest" if result.manifest else ""
        self.report_done(f"Exported {result.image.name}{extra} to {folder}", banner=True,
                         action=("Open folder", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))))
        return result

    # ---- masks from / to files ------------------------------------------------------------

    def _load_mask_dialog(self) -> None:
        if self.doc is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Load mask", "", "Images (*.png *.jpg *.tif *.webp)")
        if path:
            self.spawn(self._load_mask(Path(path)))

    async def _load_mask(self, path: Path) -> None:
        mask = await self.in_thread(read_mask, path, self.doc.size)
        self.doc.set_mask(mask, f"Load mask {path.name}")

    def _save_mask_dialog(self) -> None:
        if self.doc is None:
            return
        stem = self.doc.path.stem if self.doc.path else "room"
        path, _ = QFileDialog.getSaveFileName(self, "Save mask", str(settings.output_dir(self.doc.path) / f"{stem}-mask.png"),
                                              "PNG (*.png)")
        if path:
            self.spawn(self.in_thread(write_mask, path, self.doc.mask_bool()))

    # ---- settings and recovery ---------------------------------------------------------------

    def _settings_dialog(self) -> None:
        if self.devices is not None:
            self.show_settings(self.devices)
            return
        task = self.spawn(self.known_devices())  # the first time: look (off the window's thread), then show
        task.add_done_callback(lambda t: t.result() is not None and QTimer.singleShot(0, lambda: self.show_settings(
            self.devices)))

    def show_settings(self, devices: list) -> None:
        dialog = settings.SettingsDialog(self, devices)
        if dialog.exec():
            # heavy: loaded on first use, not when the app starts
            from PySide6.QtGui import QColor

            self.canvas.mask.set_style(QColor(settings.get("mask/color")), settings.get("mask/opacity"))
            self.messages.show_message("Settings saved. A new device or models folder applies at the next start.")

    def check_autosave(self) -> asyncio.Task | None:
        """Offer to restore work left behind by a crashed or killed session."""
        orphans = find_orphans()
        if not orphans:
            return None
        newest = max(orphans, key=lambda o: o.info.get("saved", 0))
        for other in orphans:
            if other is not newest:
                other.release()
        answer = self.ask("Restore your work?",
                          f"RoomStager did not close properly last time.\n\nRestore your work on "
                          f"{newest.label} (mask, history, settings and results)?")
        if answer != QMessageBox.StandardButton.Yes:
            newest.discard()
            return None
        return self.spawn(self._restore(newest))

    async def _restore(self, orphan) -> bool:
        try:
            ok = await self.open_project(orphan.folder, confirm=False, label=orphan.label)
        except UserError as exc:
            orphan.release()
            raise UserError(f"The autosaved work could not be restored: {exc}") from None
        if ok and self.doc is not None:
            self.doc.project_path = None
            self._unsaved_results = True
            self._update_title()
            self.autosaver._dirty = True
            fut = self.autosaver.save_now()
            if fut is not None:
                await asyncio.wrap_future(fut)
            orphan.discard()
            self.report_done(f"Restored your work on {orphan.label}", banner=True)
        return ok
