"""Tools ▸ Train a LoRA…: a real training child process, watched, paused, resumed and used."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOMS = Path("/work/shared/rooms") if Path("/work/shared/rooms").is_dir() else \
    Path(__file__).resolve().parents[3] / "shared" / "rooms"
LPIPS = ROOMS.parent / "weights" / "lpips"


@pytest.fixture
def training_setup(tiny_models, tmp_path, monkeypatch):
    """A models folder (the tiny models plus the real LPIPS files) and a 64 px dataset of real rooms."""
    from app.engine.models.catalog import Catalog
    from app.engine.models.importer import import_path
    from app.engine.training.dataset_builder import DatasetOptions, build_dataset

    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the child processes: tiny models, one thread is fastest
    models = tmp_path / "models"
    shutil.copytree(tiny_models, models)
    catalog = Catalog.load(models)
    for f in ("alexnet_features.safetensors", "alex_lin_v0.1.safetensors"):
        import_path(catalog, LPIPS / f)
    photos, masks = tmp_path / "empty", tmp_path / "masks"
    photos.mkdir()
    masks.mkdir()
    for name in ("empty_a.png", "empty_b.png"):
        shutil.copy(ROOMS / name, photos / name)
    shutil.copy(ROOMS / "empty_a_mask0.png", masks / "sofa.png")
    dataset = tmp_path / "dataset"
    build_dataset(DatasetOptions(empty_dir=str(photos), masks_dir=str(masks), output=str(dataset), size=64))
    return models, dataset, photos, masks


def test_the_dialog_builds_the_command_lines(window, training_setup):
    models, dataset, photos, masks = training_setup
    window.models = str(models)
    dialog = window.open_train_dialog()
    assert window.actions_.train_lora.text() == "Train a &LoRA…"
    dialog.name.setText("Sofa Remover")
    dialog.empty.setText(str(photos))
    dialog.source_kind.setCurrentIndex(dialog.source_kind.findData("masks"))
    dialog.source.setText(str(masks))
    build, train = dialog.commands()
    assert build[:4] == ["dataset", str(photos), "--masks", str(masks)] and "--task" in build
    out = models / "loras" / "sofa-remover.safetensors"
    assert train[:6] == ["train-lora", build[build.index("-o") + 1], "--task", "defurnish", "-o", str(out)]
    assert ["--steps", "300"] == train[train.index("--steps"):train.index("--steps") + 2]  # the quick preset
    dialog.use_dataset.setChecked(True)
    dialog.dataset.setText(str(dataset))
    dialog.preset.setCurrentIndex(dialog.preset.findData("standard"))
    dialog.steps.setValue(50)
    (train,) = dialog.commands()
    assert train[1] == str(dataset) and "--epochs" not in train and train[train.index("--steps") + 1] == "50"
    dialog.close()


@pytest.mark.slow
def test_train_in_the_background_pause_resume_and_use_the_lora(window, training_setup, qtbot):
    from app.engine.training import runstate
    from app.ui.train.dialog import TrainDialog

    models, dataset, *_ = training_setup
    window.models = str(models)
    dialog = window.open_train_dialog()
    dialog.use_dataset.setChecked(True)
    dialog.dataset.setText(str(dataset))
    dialog.steps.setValue(1000)
    dialog.name.setText("ui-lora")
    dialog.start_button.click()
    runner = dialog.runner
    assert dialog.pause_button.isEnabled() and not dialog.start_button.isEnabled()
    qtbot.waitUntil(lambda: (runner.last_status or {}).get("step", 0) >= 3, timeout=240_000)
    status = runner.last_status
    assert status["pid"] != os.getpid(), "training runs in a child process"
    dialog.close()  # the run goes on without the dialog
    qtbot.waitUntil(lambda: (runstate.read_status(runner.run_dir) or {}).get("step", 0) >= status["step"] + 5,
                    timeout=120_000)

    again = TrainDialog(window, str(models))  # opened anew: it finds the run
    again.use_lora.connect(window.use_trained_lora)
    qtbot.addWidget(again)
    assert again.runner is not None and again.runner.running() and again.pause_button.isEnabled()
    with qtbot.waitSignal(again.runner.finished, timeout=240_000) as paused:
        again.pause_button.click()
    assert paused.args[0] == "paused" and again.resume_button.isEnabled()
    assert (runner.run_dir / "checkpoints").is_dir()
    step_paused = paused.args[1]["step"]
    assert 0 < step_paused < 1000

    again.resume_button.click()  # a new child process, followed by a new runner
    assert again.runner is not None and not again.resume_button.isEnabled()
    with qtbot.waitSignal(again.runner.finished, timeout=400_000) as done:
        pass
    assert done.args[0] == "done", done.args[1]
    final = done.args[1]
    assert (final["step"] == 1000 or final["stopped_early"]) and final["step"] > step_paused
    assert final["name"] == "ui-lora"
    assert again.loss_chart.series["loss"] and again.metric_chart.series["lpips"]
    assert again.samples[0].pixmap() is not None and not again.samples[0].pixmap().isNull()
    assert again.use_button.isEnabled()
    again.use_button.click()
    assert window.defurnish_panel.lora.combo.currentData() == "ui-lora"
    assert window.defurnish_panel.request_fields()["lora"] == "ui-lora"
    again.close()
