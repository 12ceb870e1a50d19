"""Tools ▸ Train a LoRA…: choose photos or a dataset, a task, a base and a preset; watch it learn.

The run itself is a child process (runner.py), so the window stays responsive and the run
goes on when this dialog is closed; opening the dialog again finds it (the last run is
remembered). Start / Pause / Resume / Cancel, live loss and validation charts, the newest
validation pictures, and "Use this LoRA" when it is done.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.engine import TRAIN_PRESETS as PRESETS
from app.engine import TRAINABLE_ARCHES, Catalog, safe_name
from app.ui.panels.models_panel import models_root
from app.ui.train.charts import LineChart
from app.ui.train.runner import TrainRunner

TASKS = (("defurnish", "De-furnish (empty the room)"), ("stage", "Stage (furnish the room)"))
LAST_RUN = Path(".roomstager") / "training" / "last-run.json"  # in the models folder: its runs are its own


def preset_args(name: str, steps: int = 0) -> list[str]:
    """The command-line spelling of a preset; `steps` > 0 replaces its length."""
    p = dict(PRESETS[name])
    if steps > 0:
        p.pop("epochs", None)
        p["steps"] = steps
    out = []
    for key, value in p.items():
        out += [f"--{key.replace('_', '-')}", str(value)]
    return out


def _folder_row(edit: QLineEdit, title: str, parent: QWidget) -> QWidget:
    box = QWidget(parent)
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit, 1)
    browse = QPushButton("Browse…")

    def pick():
        path = QFileDialog.getExistingDirectory(parent, title, edit.text())
        if path:
            edit.setText(path)

    browse.clicked.connect(pick)
    row.addWidget(browse)
    return box


class TrainDialog(QDialog):
    use_lora = Signal(str, str)  # catalog name, task

    def __init__(self, parent=None, models: str | None = None):
        super().__init__(parent)
        self.setWindowTitle("Train a LoRA")
        self.resize(980, 720)
        self.models = models
        self.catalog = Catalog.load(models_root(models))
        self.runner: TrainRunner | None = None
        self.result: dict | None = None
        self.last_commands: list[list[str]] = []
        self._started = 0.0

        # what to train
        form = QFormLayout()
        self.task = QComboBox()
        for key, title in TASKS:
            self.task.addItem(title, key)
        form.addRow("Task", self.task)
        self.use_dataset = QRadioButton("A dataset folder")
        self.use_photos = QRadioButton("Build one from photos")
        group = QButtonGroup(self)
        group.addButton(self.use_dataset)
        group.addButton(self.use_photos)
        self.use_photos.setChecked(True)
        self.dataset = QLineEdit()
        self.dataset.setPlaceholderText("a folder made by `python main.py dataset`")
        self.empty = QLineEdit()
        self.empty.setPlaceholderText("photos of empty rooms")
        self.source_kind = QComboBox()
        self.source_kind.addItem("Furnished photos (their furniture is found automatically)", "furnished")
        self.source_kind.addItem("Mask files (white = furniture)", "masks")
        self.source = QLineEdit()
        form.addRow(self.use_photos)
        form.addRow("Empty rooms", _folder_row(self.empty, "Photos of empty rooms", self))
        form.addRow("Furniture from", self.source_kind)
        form.addRow("", _folder_row(self.source, "Furnished photos or masks", self))
        form.addRow(self.use_dataset)
        form.addRow("Dataset", _folder_row(self.dataset, "A training dataset", self))
        self.base = QComboBox()
        for name in self.catalog.installed_sets():
            if self.catalog.sets[name].get("arch") not in TRAINABLE_ARCHES:
                continue  # LoRAs are trained on the SD1.5 / SDXL inpainting UNets
            self.base.addItem(self.catalog.sets[name].get("title", name), name)
        form.addRow("Base model set", self.base)
        self.preset = QComboBox()
        self.preset.addItem("Quick (300 steps, a first look)", "quick")
        self.preset.addItem("Standard (20 epochs, the study's settings)", "standard")
        form.addRow("Preset", self.preset)
        self.steps = QSpinBox()
        self.steps.setRange(0, 1_000_000)
        self.steps.setSpecialValueText("as the preset says")
        form.addRow("Steps", self.steps)
        self.name = QLineEdit("my-defurnish-lora")
        form.addRow("LoRA name", self.name)
        setup = QGroupBox("Training")
        setup.setLayout(form)

        # controls and progress
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.cancel_button = QPushButton("Cancel")
        self.use_button = QPushButton("Use this LoRA")
        self.close_button = QPushButton("Close")
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.resume_button, self.cancel_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.close_button)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m steps")
        self.state = QLabel("Choose the photos and press Start. Training runs in the background; you can close "
                            "this window and come back.")
        self.state.setWordWrap(True)
        self.state.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.loss_chart = LineChart("training loss", log_scale=True)
        self.metric_chart = LineChart("validation in the mask")
        charts = QHBoxLayout()
        charts.addWidget(self.loss_chart)
        charts.addWidget(self.metric_chart)
        self.samples = [QLabel() for _ in range(4)]
        grid = QGridLayout()
        for i, label in enumerate(self.samples):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setMinimumHeight(90)
            grid.addWidget(label, i // 2, i % 2)
        samples_box = QGroupBox("Validation pictures: input (mask in red) · result · target")
        samples_box.setLayout(grid)

        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(setup, 3)
        top.addWidget(samples_box, 4)
        layout.addLayout(top)
        layout.addLayout(charts, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.state)
        layout.addLayout(buttons)

        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(lambda: self.runner and self.runner.pause())
        self.resume_button.clicked.connect(self.resume)
        self.cancel_button.clicked.connect(self.cancel)
        self.use_button.clicked.connect(self._use)
        self.close_button.clicked.connect(self.close)
        self.task.currentIndexChanged.connect(self._task_changed)
        for w in (self.use_dataset, self.use_photos):
            w.toggled.connect(self._sync_inputs)
        self._sync_inputs()
        self._set_buttons(running=False, done=False, resumable=False)
        self._reattach()

    # ---- the command lines ---------------------------------------------------------

    def output_path(self) -> Path:
        return Path(self.catalog.root) / "loras" / f"{safe_name(self.name.text() or 'lora')}.safetensors"

    def _models_args(self) -> list[str]:
        return ["--models", self.models] if self.models else ["--models", str(self.catalog.root)]

    def commands(self) -> list[list[str]]:
        """The child processes' command lines (after main.py) for the current choices."""
        task, out = self.task.currentData(), self.output_path()
        cmds = []
        if self.use_photos.isChecked():
            empty, source = self.empty.text().strip(), self.source.text().strip()
            if not empty or not source:
                raise ValueError("choose the folder of empty-room photos and the furniture source")
            dataset = out.parent.parent / "training" / f"{out.stem}-dataset-{time.strftime('%Y%m%d-%H%M%S')}"
            flag = "--furnished" if self.source_kind.currentData() == "furnished" else "--masks"
            cmds.append(["dataset", empty, flag, source, "-o", str(dataset), "--task", task,
                         *self._models_args()])
        else:
            dataset = Path(self.dataset.text().strip())
            if not self.dataset.text().strip():
                raise ValueError("choose a dataset folder")
        train = ["train-lora", str(dataset), "--task", task, "-o", str(out), *self._models_args(),
                 *preset_args(self.preset.currentData(), self.steps.value()), "--json"]
        if self.base.currentData():
            train += ["--base", self.base.currentData()]
        cmds.append(train)
        return cmds

    # ---- actions --------------------------------------------------------------------

    def start(self) -> None:
        if not self.base.count():
            self.state.setText("No complete model set is installed: install one under Models first.")
            return
        try:
            cmds = self.commands()
        except ValueError as exc:
            self.state.setText(str(exc)[:1].upper() + str(exc)[1:] + ".")
            return
        out = self.output_path()
        if out.exists() or out.with_suffix(".training").exists():
            answer = QMessageBox.question(self, "Train a LoRA", f"A LoRA named {out.stem} exists. Replace it?")
            if answer != QMessageBox.StandardButton.Yes:
                return
            cmds[-1].append("--overwrite")
        self._run(out, cmds)

    def resume(self) -> None:
        if self.runner is None:
            return
        train = next((c for c in reversed(self.last_commands) if c[0] == "train-lora"), None)
        if train is None:
            return
        cmd = [a for a in train if a != "--overwrite"]
        if "--resume" not in cmd:
            cmd += ["--resume", str(self.runner.run_dir)]
        self._run(self.runner.output, [cmd])

    def cancel(self) -> None:
        if self.runner is not None and self.runner.running():
            self.runner.cancel()
            self.state.setText("Cancelling after the current step…")

    def _run(self, out: Path, cmds: list[list[str]]) -> None:
        self.last_commands = cmds
        self._watch(TrainRunner(out, self))
        last = Path(self.catalog.root) / LAST_RUN
        last.parent.mkdir(parents=True, exist_ok=True)
        last.write_text(json.dumps({"output": str(out), "commands": cmds}), encoding="utf-8")
        self.result = None
        self._started = time.monotonic()
        self.runner.start(cmds)
        self._set_buttons(running=True, done=False, resumable=False)

    def _watch(self, runner: TrainRunner) -> None:
        if self.runner is not None:
            self.runner.deleteLater()
        self.runner = runner
        runner.status_changed.connect(self._show_status)
        runner.rows_changed.connect(self._show_rows)
        runner.finished.connect(self._finished)

    def _reattach(self) -> None:
        """The run this window started last time, still going or finished."""
        try:
            last = json.loads((Path(self.catalog.root) / LAST_RUN).read_text(encoding="utf-8"))
            output, self.last_commands = Path(last["output"]), list(last["commands"])
        except (OSError, ValueError, KeyError, TypeError):
            return
        runner = TrainRunner(output, self)
        self._watch(runner)
        running = runner.attach()
        status = runner.last_status or {}
        state = status.get("state")
        if state == "done":
            self.result = status
        self._set_buttons(running=running, done=state == "done", resumable=state in ("paused", "cancelled"))

    def _use(self) -> None:
        name = (self.result or {}).get("name")
        if name:
            self.use_lora.emit(name, (self.result or {}).get("task") or self.task.currentData())

    # ---- showing progress ------------------------------------------------------------

    def _show_status(self, s: dict) -> None:
        state = s.get("state")
        if state == "dataset":
            self.progress.setRange(0, 0)
            self.state.setText("Building the dataset from the photos…")
            return
        total, step = int(s.get("total") or 0), int(s.get("step") or 0)
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(min(step, max(1, total)))
        parts = [state or ""]
        if s.get("loss") is not None:
            parts.append(f"loss {s['loss']:.4f}")
        if s.get("eta_s"):
            parts.append(f"about {int(s['eta_s']) // 60} min {int(s['eta_s']) % 60} s left")
        best = s.get("best")
        if best:
            parts.append(f"best at step {best.get('step')}: LPIPS {best.get('lpips_mask') or 0:.3f}, "
                         f"PSNR {best.get('psnr_mask') or 0:.2f} dB in the mask")
        if s.get("error"):
            parts.append(f"error: {s['error']}")
        self.state.setText(" · ".join(p for p in parts if p))
        for label, path in zip(self.samples, s.get("samples") or [], strict=False):
            pix = QPixmap(path)
            if not pix.isNull():
                label.setPixmap(pix.scaledToWidth(max(120, label.width() - 8), Qt.TransformationMode.SmoothTransformation))

    def _show_rows(self, rows: list) -> None:
        train = [(r["step"], r["loss"]) for r in rows if r.get("kind") == "train" and r.get("loss") is not None]
        self.loss_chart.set_series({"loss": train})
        val = [r for r in rows if r.get("kind") == "val"]
        self.metric_chart.set_series({k.replace("_mask", ""): [(r["step"], r[k]) for r in val if r.get(k) is not None]
                                      for k in ("lpips_mask", "ssim_mask")})

    def _finished(self, state: str, status: dict) -> None:
        self.result = status if state == "done" else None
        texts = {"done": f"Done: {status.get('lora')} is in the catalog as '{status.get('name')}'.",
                 "paused": "Paused: a checkpoint was saved. Resume continues from it.",
                 "cancelled": "Cancelled. Resume continues from the last checkpoint.",
                 "failed": f"Training stopped with an error: {status.get('error') or 'see the log'}"}
        self.state.setText(texts.get(state, state))
        self._set_buttons(running=False, done=state == "done", resumable=state in ("paused", "cancelled"))

    def _set_buttons(self, running: bool, done: bool, resumable: bool) -> None:
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.cancel_button.setEnabled(running)
        self.resume_button.setEnabled(resumable and not running)
        self.use_button.setEnabled(done)

    def _task_changed(self) -> None:
        default = {"defurnish": "my-defurnish-lora", "stage": "my-staging-lora"}
        if self.name.text() in default.values():
            self.name.setText(default[self.task.currentData()])
        photos = self.task.currentData() == "stage"
        self.source_kind.setItemText(0, "Staged photos (their furniture is found automatically)" if photos else
                                     "Furnished photos (their furniture is found automatically)")

    def _sync_inputs(self) -> None:
        photos = self.use_photos.isChecked()
        for w in (self.empty, self.source, self.source_kind):
            w.setEnabled(photos)
        self.dataset.setEnabled(not photos)
