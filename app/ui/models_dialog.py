"""The Models window: what is installed, what to get, and getting it.

Self-contained: `ModelsDialog(parent, models_dir)` reads the catalog of that
folder (None = the app's), shows sets and models (installed or not, size,
licence with a flag on non-commercial ones, the set recommended for this GPU),
and downloads with progress (bytes, speed, time left), cancel and resume,
imports a file (copied, or used in place), uses another tool's folder in
place, verifies checksums and removes models. Long work runs on a worker
thread; its progress arrives here through a queued Qt signal.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from app.engine import (
    Catalog,
    DownloadCancelled,
    DownloadProgress,
    check_space_for,
    default_models_dir,
    human_bytes,
    import_path,
    install,
    pick_device,
    plan,
    remove,
    verify,
)
from app.errors import UserError
from app.ui.models_tables import MODEL_COLUMNS, SET_COLUMNS, fill_models, fill_sets, make_table


class _Bridge(QObject):
    progress = Signal(object)  # DownloadProgress, from the worker thread
    done = Signal(str, object, str)  # kind, result, error message ("" when it worked)


class ModelsDialog(QDialog):
    job_finished = Signal(str, object, str)  # kind, result, error ("" = success); for the window and tests

    def __init__(self, parent=None, models_dir: str | Path | None = None, *, highlight: str | None = None,
                 vram_gb: float | None | str = "detect"):
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(920, 620)
        self.models_dir = Path(models_dir).expanduser() if models_dir else default_models_dir()
        self.models_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog.load(self.models_dir)
        self._vram = vram_gb
        self._gpu_name = ""
        self._cancel: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._bridge = _Bridge()
        self._bridge.progress.connect(self._on_progress)
        self._bridge.done.connect(self._on_done)
        self.last_progress: DownloadProgress | None = None

        self.header = QLabel()
        self.header.setWordWrap(True)
        self.sets_table = make_table(SET_COLUMNS)
        self.models_table = make_table(MODEL_COLUMNS)
        self.show_all = QCheckBox("Show every model in the catalog")
        self.show_all.toggled.connect(self.refresh)

        self.download_button = QPushButton("Download")
        self.cancel_button = QPushButton("Cancel")
        self.import_button = QPushButton("Import file…")
        self.link_button = QPushButton("Use a folder in place…")
        self.verify_button = QPushButton("Verify")
        self.remove_button = QPushButton("Remove")
        self.close_button = QPushButton("Close")
        self.download_button.setToolTip("Download the selected models or sets; an interrupted download resumes")
        self.import_button.setToolTip("Copy a .safetensors checkpoint or LoRA (or a SAM .pth) into the models folder")
        self.link_button.setToolTip("Use the checkpoints and LoRAs of another tool's models folder where they are "
                                    "(read-only: nothing is written there)")
        self.download_button.clicked.connect(lambda: self.download(self.selected_names()))
        self.cancel_button.clicked.connect(self.cancel)
        self.import_button.clicked.connect(self._ask_import_file)
        self.link_button.clicked.connect(self._ask_import_folder)
        self.verify_button.clicked.connect(lambda: self.verify(self.selected_names(models_only=True)))
        self.remove_button.clicked.connect(self._ask_remove)
        self.close_button.clicked.connect(self.close)

        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.status = QLabel(" ")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)

        buttons = QHBoxLayout()
        for b in (self.download_button, self.cancel_button, self.import_button, self.link_button,
                  self.verify_button, self.remove_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(QLabel("Model sets"))
        layout.addWidget(self.sets_table, 2)
        layout.addWidget(QLabel("Models"))
        layout.addWidget(self.models_table, 3)
        layout.addWidget(self.show_all)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.refresh()
        if highlight:
            self.select(highlight)
        self._set_busy(False)

    # ---- view --------------------------------------------------------------------

    def vram_gb(self) -> float | None:
        if self._vram == "detect":
            try:
                info = pick_device(None)
                self._vram, self._gpu_name = info.vram_gb, info.name
            except Exception:  # noqa: BLE001 - no torch / no GPU: recommend for CPU
                self._vram, self._gpu_name = None, "CPU"
        return self._vram  # type: ignore[return-value]

    def refresh(self) -> None:
        self.catalog.refresh()
        vram = self.vram_gb()
        recommended = self.catalog.recommend_set(vram)
        gpu = f"{self._gpu_name} with {vram:.1f} GB" if vram else (self._gpu_name or "no NVIDIA GPU")
        installed = self.catalog.installed_sets()
        hint = "" if installed else (" No complete model set is installed yet: select one and press Download, "
                                     "or import a checkpoint you already have.")
        self.header.setText(f"Models folder: {self.catalog.root}\nThis machine: {gpu}. "
                            f"Recommended set: <b>{recommended or '-'}</b>.{hint}".replace("\n", "<br>"))
        self.recommended = recommended
        fill_sets(self.sets_table, self.catalog, recommended)
        fill_models(self.models_table, self.catalog, self.show_all.isChecked())

    def select(self, name: str) -> None:
        for t in (self.models_table, self.sets_table):
            for row in range(t.rowCount()):
                if t.item(row, 0).data(Qt.UserRole) == name:
                    t.selectRow(row)
                    t.scrollToItem(t.item(row, 0))
                    return

    def selected_names(self, models_only: bool = False) -> list[str]:
        names: list[str] = []
        tables = (self.models_table,) if models_only else (self.sets_table, self.models_table)
        for t in tables:
            for idx in t.selectionModel().selectedRows():
                n = t.item(idx.row(), 0).data(Qt.UserRole)
                if n not in names:
                    names.append(n)
        if models_only:
            for idx in self.sets_table.selectionModel().selectedRows():
                for m in self.catalog.set_models(self.sets_table.item(idx.row(), 0).data(Qt.UserRole)):
                    if m not in names:
                        names.append(m)
        return names

    # ---- actions -----------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _set_busy(self, busy: bool) -> None:
        for b in (self.download_button, self.import_button, self.link_button, self.verify_button,
                  self.remove_button):
            b.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def _start(self, kind: str, work) -> bool:
        if self.busy:
            self.status.setText("Wait for the current task to finish, or cancel it.")
            return False
        self._cancel = threading.Event()
        cancel = self._cancel
        bridge = self._bridge

        def run():
            try:
                result = work(cancel, bridge.progress.emit)
            except DownloadCancelled:
                bridge.done.emit(kind, None, "cancelled")
            except UserError as exc:
                bridge.done.emit(kind, None, str(exc))
            except Exception as exc:  # noqa: BLE001 - shown to the user, the window stays usable
                bridge.done.emit(kind, None, f"{exc.__class__.__name__}: {exc}")
            else:
                bridge.done.emit(kind, result, "")

        self._set_busy(True)
        self.progress_bar.setValue(0)
        self._thread = threading.Thread(target=run, name=f"models-{kind}", daemon=True)
        self._thread.start()
        return True

    def download(self, names: list[str]) -> bool:
        if not names:
            self.status.setText("Select a set or a model to download.")
            return False
        try:
            todo = plan(self.catalog, names)
            if not todo:
                self.status.setText("Already installed.")
                return False
            needed = check_space_for(self.catalog, todo)
        except UserError as exc:
            self.status.setText(str(exc))
            return False
        restricted = [m for m in todo if self.catalog.entry(m).commercial_use is False]
        if restricted and not self.confirm(
                "Non-commercial licence",
                f"{', '.join(restricted)} may not be used for commercial work such as paid listing photos. "
                f"Download anyway?"):
            return False
        catalog = self.catalog

        def work(cancel, progress):
            return [str(install(catalog, m, progress=progress, cancel=cancel)) for m in todo]

        self.status.setText(f"Downloading {', '.join(todo)} (about {human_bytes(needed)})…")
        return self._start("download", work)

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self.status.setText("Cancelling… (what was downloaded is kept for a resume)")

    def import_path(self, path: str | Path, link: bool = False, **options) -> bool:
        catalog = self.catalog

        def work(cancel, progress):
            return import_path(catalog, path, link=link, progress=progress, cancel=cancel, **options)

        self.status.setText(f"Importing {path}…")
        return self._start("import", work)

    def verify(self, names: list[str]) -> bool:
        catalog = self.catalog
        names = names or [n for n in catalog.entries if catalog.is_installed(n)]

        def work(cancel, progress):
            return [verify(catalog, n, progress=progress, cancel=cancel) for n in names]

        self.status.setText("Verifying…")
        return self._start("verify", work)

    def remove(self, names: list[str]) -> bool:
        catalog = self.catalog

        def work(cancel, progress):
            return [remove(catalog, n) for n in names]

        return self._start("remove", work)

    def confirm(self, title: str, text: str) -> bool:
        return QMessageBox.question(self, title, text) == QMessageBox.Yes

    def _ask_import_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import a model file", str(Path.home()),
            "Model files (*.safetensors *.pth *.pt);;All files (*)")
        if path:
            copy = self.confirm("Import", "Copy the file into the models folder?\n\n"
                                          "Yes: copy it (safe if the original moves).\n"
                                          "No: use it where it is (no extra disk space).")
            self.import_path(path, link=not copy)

    def _ask_import_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Use another tool's models folder in place", str(Path.home()))
        if path:
            self.import_path(path, link=True)

    def _ask_remove(self) -> None:
        names = self.selected_names()
        if names and self.confirm("Remove models", f"Delete the files of {', '.join(names)}? (Files of other "
                                                    f"tools used in place are only forgotten, never deleted.)"):
            self.remove(names)

    # ---- worker results ----------------------------------------------------------

    def _on_progress(self, p: DownloadProgress) -> None:
        self.last_progress = p
        if p.fraction is not None:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(1000 * p.fraction))
        else:
            self.progress_bar.setRange(0, 0)  # busy indicator
        self.status.setText(p.text())

    def _on_done(self, kind: str, result, error: str) -> None:
        self._thread = None
        self._set_busy(False)
        self.progress_bar.setRange(0, 1000)
        if error == "cancelled":
            self.status.setText("Cancelled. What was downloaded is kept: press Download again to resume.")
        elif error:
            self.status.setText(error)
            self.progress_bar.setValue(0)
        else:
            self.progress_bar.setValue(1000)
            self.status.setText(self._summary(kind, result))
        self.refresh()
        self.job_finished.emit(kind, result, error)

    def _summary(self, kind: str, result) -> str:
        if kind == "download":
            return f"Installed {len(result)} model(s)."
        if kind == "import":
            imported, skipped = result
            parts = [f"Imported {', '.join(r.name for r in imported) or 'nothing'}."]
            sets = [r.set_name for r in imported if r.set_name]
            if sets:
                parts.append(f"New model set: {', '.join(sets)}.")
            notes = [n for r in imported for n in r.notes if "licence" not in n]
            parts += notes[:2]
            if skipped:
                parts.append(f"{len(skipped)} file(s) skipped (not SD1.5/SDXL checkpoints or LoRAs).")
            return " ".join(parts)
        if kind == "verify":
            bad = [r for r in result if not r["ok"]]
            if not bad:
                return f"All {len(result)} model(s) verified."
            return "Problems: " + "; ".join(f"{r['name']}: {', '.join(r['problems'])}" for r in bad)
        if kind == "remove":
            return "Removed " + ", ".join(r["name"] for r in result) + "."
        return "Done."

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt name
        if self.busy:
            self.cancel()
            if self._thread is not None:
                self._thread.join(timeout=5)
        super().closeEvent(event)
