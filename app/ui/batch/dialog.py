"""File ▸ Batch…: many photos with one set of settings, a list with thumbnails and per-photo
status, cancel, resume an interrupted batch, and any result opened in the editor to refine."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QIcon, QImageReader, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from app.engine import BATCH_TASKS as TASKS
from app.engine import (
    PHOTO_SUFFIXES,
    BatchEvent,
    JobRow,
    JobSource,
    photos_source,
    previous_batch,
    read_source,
)
from app.errors import UserError
from app.ui.batch.runner import BatchRun, options_from_panels

TASK_TITLES = {"stage": "Stage", "defurnish": "De-furnish", "defurnish+stage": "De-furnish, then stage"}
ICON = QSize(96, 64)
DISCLOSURE = "Virtually staged"


def open_batch_dialog(window) -> BatchDialog:
    """One batch window per main window, kept while it runs (non-modal: the editor stays usable)."""
    dialog = getattr(window, "_batch_dialog", None)
    if dialog is None:
        dialog = window._batch_dialog = BatchDialog(window)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog


class BatchDialog(QDialog):
    def __init__(self, window):
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle("Batch")
        self.resize(820, 620)
        self.source: JobSource | None = None
        self.run: BatchRun | None = None
        self.rows: dict[str, QTreeWidgetItem] = {}
        self._thumb_queue: list[tuple[QTreeWidgetItem, Path]] = []
        self._resume = None
        self._ended = True

        self.source_label = QLabel("Choose photos, a folder or a job file (.csv / .toml)")
        add_photos, add_folder, add_jobs = QPushButton("Photos…"), QPushButton("Folder…"), QPushButton("Job File…")
        add_photos.clicked.connect(self._choose_photos)
        add_folder.clicked.connect(self._choose_folder)
        add_jobs.clicked.connect(self._choose_jobs)
        pick = QHBoxLayout()
        for b in (add_photos, add_folder, add_jobs):
            pick.addWidget(b)
        pick.addStretch(1)

        self.task = QComboBox()
        for key in TASKS:
            self.task.addItem(TASK_TITLES[key], key)
        self.use_file = QCheckBox("Use the job file's settings (rows and [defaults]) over the panels'")
        self.use_file.setEnabled(False)
        self.disclose = QCheckBox(f"Stamp '{DISCLOSURE}' on every result")
        self.out = QLineEdit()
        self.out.setPlaceholderText("Output folder (it holds the results, the manifest and report.html)")
        self.out.editingFinished.connect(self._check_resume)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._choose_out)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out, 1)
        out_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Photos", pick)
        form.addRow("", self.source_label)
        form.addRow("Task", self.task)
        form.addRow("", QLabel("Style, room, prompt, steps and seed come from the Stage / De-furnish panels."))
        form.addRow("", self.use_file)
        form.addRow("", self.disclose)
        form.addRow("Output", out_row)

        self.list = QTreeWidget()
        self.list.setHeaderLabels(["Photo", "Task", "Status"])
        self.list.setIconSize(ICON)
        self.list.setRootIsDecorated(False)
        self.list.setColumnWidth(0, 300)
        self.list.setColumnWidth(1, 150)
        self.list.itemDoubleClicked.connect(lambda *_: self.open_selected())
        self.progress = QProgressBar()
        self.progress.setFormat("%v of %m")
        self.status = QLabel("")

        buttons = QDialogButtonBox()
        self.start_button = buttons.addButton("Start", QDialogButtonBox.ButtonRole.ActionRole)
        self.cancel_button = buttons.addButton("Cancel Batch", QDialogButtonBox.ButtonRole.ActionRole)
        self.open_button = buttons.addButton("Open in Editor", QDialogButtonBox.ButtonRole.ActionRole)
        self.report_button = buttons.addButton("Report", QDialogButtonBox.ButtonRole.ActionRole)
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button.clicked.connect(self.open_selected)
        self.report_button.clicked.connect(self._open_report)
        close.clicked.connect(self.close)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self._thumb_timer = QTimer(self)
        self._thumb_timer.setInterval(0)
        self._thumb_timer.timeout.connect(self._next_thumb)
        self._update_buttons()

    # ---- choosing what to run ----------------------------------------------------------------

    def _choose_photos(self) -> None:
        patterns = " ".join(f"*{s}" for s in sorted(PHOTO_SUFFIXES))
        paths, _ = QFileDialog.getOpenFileNames(self, "Choose photos", "", f"Photos ({patterns})")
        if paths:
            self.set_source(paths)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder of photos")
        if folder:
            self.set_source(folder)

    def _choose_jobs(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a job file", "", "Job files (*.csv *.toml)")
        if path:
            self.set_source(path)

    def _choose_out(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose the output folder")
        if folder:
            self.out.setText(folder)
            self._check_resume()

    def set_source(self, source) -> bool:
        """A folder or job file path, or a list of photo paths. False (with the reason shown) if unusable."""
        try:
            self.source = photos_source(source) if isinstance(source, list) else read_source(source)
        except UserError as exc:
            self.status.setText(str(exc))
            return False
        self._resume = None
        is_file = self.source.kind in ("csv", "toml")
        self.use_file.setEnabled(is_file)
        self.use_file.setChecked(is_file)
        what = {"folder": "folder", "photos": "photos", "csv": "job file", "toml": "job file"}[self.source.kind]
        self.source_label.setText(f"{len(self.source.rows)} photos from the {what} {self.source.path}")
        if not self.out.text() and self.source.kind != "photos":
            base = self.source.path if self.source.kind == "folder" else self.source.path.parent
            self.out.setText(str(base / "staged"))
        self._fill([(str(r.photo), r.photo, r.values.get("task", "")) for r in self.source.rows])
        self._check_resume()
        return True

    def _check_resume(self, announce: bool = True) -> None:
        """An interrupted batch in the output folder is offered for resuming, as it was started."""
        found = previous_batch(self.out.text()) if self.out.text() and not self.running else None
        self._resume = found
        if found:
            source, options, data = found
            entries = [data["items"][i] for i in data.get("order", []) if i in data["items"]]
            done = sum(e.get("status") == "done" for e in entries)
            total = len(entries)
            if announce:
                self.status.setText(f"This folder holds a batch with {done} of {total} done: Resume finishes it."
                                    if done < total else f"This folder holds a finished batch ({done} photos): "
                                    "Resume checks it and redoes anything missing or changed.")
            if self.source is None:
                self.source = source
                self.source_label.setText(f"{len(source.rows)} photos from {source.path} (the earlier batch)")
                self._fill([(str(r.photo), r.photo, r.values.get("task", options.task or "")) for r in source.rows])
            for item_id in data.get("order", []):  # what the earlier run left, photo by photo
                entry = data["items"].get(item_id, {})
                if entry.get("photo") in self.rows and entry.get("status") in ("done", "failed"):
                    self._show_entry(entry["photo"], entry, earlier=True)
        self._update_buttons()

    def _fill(self, rows: list[tuple[str, Path, str]]) -> None:
        self.list.clear()
        self.rows.clear()
        self._thumb_queue.clear()
        for key, photo, task in rows:
            row = QTreeWidgetItem([Path(photo).name, TASK_TITLES.get(task, task), "waiting"])
            row.setData(0, Qt.ItemDataRole.UserRole, None)
            self.list.addTopLevelItem(row)
            self.rows[key] = row
            self._thumb_queue.append((row, Path(photo)))
        self._thumb_timer.start()

    def _next_thumb(self) -> None:
        """One thumbnail per turn of the event loop: JPEGs decode at reduced size, the window stays live."""
        if not self._thumb_queue:
            self._thumb_timer.stop()
            return
        row, path = self._thumb_queue.pop(0)
        if row.data(0, Qt.ItemDataRole.UserRole) is None:  # a finished photo already shows its result
            row.setIcon(0, thumbnail(path))

    # ---- running -------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Until the run's end has reached this thread (its last events are shown by then)."""
        return self.run is not None and not self._ended

    def start(self) -> bool:
        if self.running:
            return False
        if self.source is None or not self.out.text().strip():
            self.status.setText("Choose the photos and an output folder first.")
            return False
        engine = self.window_.client.engine
        if engine is None:
            self.window_.client.start()
            self.status.setText("The engine is still starting; try again in a moment.")
            return False
        if self._resume is not None and self._resume[0].path == self.source.path:
            options = self._resume[1]  # exactly as it was started, so finished photos are kept
        else:
            task = self.task.currentData()
            options = options_from_panels(self.window_, task, DISCLOSURE if self.disclose.isChecked() else None)
            if self.use_file.isChecked():  # the rows and the file's [defaults] decide these
                for key in ("task", "style", "room", "prompt", "seed", "variations"):
                    setattr(options, key, None)
        source = self.source
        if source.kind in ("csv", "toml") and not self.use_file.isChecked():  # the panels decide; masks stay
            source = JobSource(source.kind, source.path, [JobRow(r.photo, r.where, {k: v for k, v in r.values.items()
                                                                                   if k == "mask"}) for r in source.rows])
        self.run = BatchRun({"source": source, "options": options, "out_dir": self.out.text().strip()},
                            engine, self)
        self.run.event.connect(self._on_event)
        self.run.ended.connect(self._on_ended)
        self._ended = False
        self.status.setText("Preparing…")
        self.run.start()
        self._update_buttons()
        return True

    def cancel(self) -> None:
        if self.running:
            self.run.cancel()
            self.status.setText("Cancelling after the current step…")

    def _on_event(self, ev: BatchEvent) -> None:
        session = self.run.session if self.run else None
        if ev.kind == "planned" and session is not None:
            self._fill([(i.id, Path(i.photo), i.task) for i in session.items])
            for item in session.items:
                entry = session.manifest.entry(item.id) or {}
                if item not in session.todo:
                    self._show_entry(item.id, entry, earlier=True)
            self.progress.setRange(0, max(1, len(session.todo)))
            self.progress.setValue(0)
            self.status.setText(f"{len(session.todo)} to do, {len(session.items) - len(session.todo)} kept")
        elif ev.kind == "started" and ev.item.id in self.rows:
            self.rows[ev.item.id].setText(2, "running…")
        elif ev.kind == "progress" and ev.item.id in self.rows:
            step, total, message = ev.progress
            self.rows[ev.item.id].setText(2, f"running {step}/{total}" if total else (message or "running…"))
        elif ev.kind == "finished":
            self._show_entry(ev.item.id, ev.entry or {})
            self.progress.setValue(self.progress.value() + 1)
        elif ev.kind == "cancelled" and ev.item.id in self.rows:
            self.rows[ev.item.id].setText(2, "cut off (Resume redoes it)")

    def _show_entry(self, item_id: str, entry: dict, earlier: bool = False) -> None:
        row = self.rows.get(item_id)
        if row is None:
            return
        status = entry.get("status")
        if status == "done":
            outputs = entry.get("outputs") or []
            row.setText(2, "done earlier" if earlier else "done")
            row.setData(0, Qt.ItemDataRole.UserRole, outputs[0]["file"] if outputs else None)
            thumb = outputs[0].get("thumb") if outputs else None
            if thumb:
                row.setIcon(0, thumbnail(Path(self.out.text()).expanduser() / thumb))
        elif status == "failed":
            row.setText(2, f"failed: {entry.get('message') or entry.get('reason')}")
            row.setToolTip(2, entry.get("message") or "")

    def _on_ended(self, error: str) -> None:
        self._ended = True
        session = self.run.session if self.run else None
        self._check_resume(announce=False)
        if error:
            began = session is not None and session.started_now
            self.status.setText(f"The batch stopped: {error} (what finished is kept; Resume goes on)" if began
                                else f"The batch could not run: {error}")
        elif session is not None and session.manifest is not None:
            counts = session.manifest.summary()
            cut = " (cancelled: Resume finishes it)" if session.cancel.is_set() else ""
            missing = f"; no report: {session.report_problem}" if session.report_problem else ""
            self.status.setText(", ".join(f"{v} {k}" for k, v in sorted(counts.items())) + cut + missing)
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.running
        self.start_button.setText("Resume" if self._resume and not running else "Start")
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.report_button.setEnabled(bool(self.out.text()) and (Path(self.out.text()) / "report.html").is_file())

    # ---- results ---------------------------------------------------------------------------------

    def open_selected(self):
        """Open the selected photo's result in the editor, to refine it by hand."""
        row = self.list.currentItem()
        name = row.data(0, Qt.ItemDataRole.UserRole) if row is not None else None
        if not name:
            self.status.setText("Select a finished photo to open its result.")
            return None
        return self.window_.open_paths([str(Path(self.out.text()).expanduser() / name)])

    def _open_report(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(self.out.text()).expanduser() / "report.html")))

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.running:  # the batch goes on in the background; the dialog comes back with File ▸ Batch…
            self.hide()
            event.ignore()
            return
        super().closeEvent(event)


def thumbnail(path: Path) -> QIcon:
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)  # EXIF orientation
    size = reader.size()
    if size.isValid():
        reader.setScaledSize(size.scaled(ICON, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    return QIcon(QPixmap.fromImage(image)) if not image.isNull() else QIcon()
