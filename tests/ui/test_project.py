"""Project files and crash recovery: save / open keeps mask, history, settings and results;
after the process is killed, the next start offers the autosave back."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QMessageBox
from uihelpers import open_photo, paint, run, setup_stage, wait_job

HERE = Path(__file__).resolve().parent


def test_save_and_open_a_project_keeps_everything(qtbot, make_window, room_file, tmp_path):
    window = make_window()
    doc = open_photo(qtbot, window, room_file)
    setup_stage(window, variations=1)
    window.stage_panel.prompt.setPlainText("oak sideboard")
    paint(doc)
    handle = window.stage()
    wait_job(qtbot, handle)
    doc.begin_stroke(100, 100, 25, 0.5, False)
    doc.end_stroke()
    doc.invert()
    window.undo_action.trigger()  # leave one entry to redo
    states = [doc.mask.copy()]
    project = run(qtbot, window, window.save_project(path=tmp_path / "room.rsproj"))
    assert project.is_file() and not window.isWindowModified()
    count, index = doc.stack.count(), doc.stack.index()
    result = doc.results[0]

    other = make_window()
    run(qtbot, other, other.open_project(project))
    new = other.doc
    assert np.array_equal(new.mask, doc.mask)
    assert (new.stack.count(), new.stack.index()) == (count, index)
    assert new.params["stage"]["prompt"] == "oak sideboard"
    assert other.stage_panel.prompt.toPlainText() == "oak sideboard"
    assert len(new.results) == 1 and np.array_equal(new.results[0].image, result.image)
    assert new.results[0].seed == result.seed and new.results[0].request.style == result.request.style
    assert np.array_equal(new.results[0].request.mask, result.request.mask)
    other.redo_action.trigger()
    assert np.array_equal(new.mask, 255 - states[0])
    other.undo_action.trigger()
    other.undo_action.trigger()
    other.undo_action.trigger()
    doc.stack.setIndex(index - 2)
    assert np.array_equal(new.mask, doc.mask)


def test_autosave_restores_work_after_the_process_is_killed(qtbot, make_window, room_file, tmp_path):
    env = dict(os.environ, ROOMSTAGER_TEST_SETTINGS=str(tmp_path / "child-settings"), QT_QPA_PLATFORM="offscreen")
    child = subprocess.Popen([sys.executable, str(HERE / "autosave_child.py"), str(room_file)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=HERE.parents[1])
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(child.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=120)
    try:
        assert line and line[0].startswith("SAVED"), f"the child did not autosave: {line}"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    _, digest, before_last, count = line[0].split()
    assert child.returncode == -signal.SIGKILL

    window = make_window()
    asked = []

    def answer(title, text, *args, **kwargs):
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    window.ask = answer
    task = window.check_autosave()
    assert task is not None and "living-room.png" in asked[0]
    qtbot.waitUntil(task.done, timeout=60_000)
    doc = window.doc
    assert doc is not None and doc.path == room_file
    assert hashlib.sha256(doc.mask.tobytes()).hexdigest() == digest
    assert doc.stack.count() == int(count)
    assert window.stage_panel.prompt.toPlainText() == "a green velvet sofa"
    window.undo_action.trigger()
    assert hashlib.sha256(doc.mask.tobytes()).hexdigest() == before_last
    assert window.messages.last.text == "Restored your work on living-room.png"  # named, not the folder's id
    # the old session folder is gone once the new one has saved; nothing is offered twice
    assert make_window().check_autosave() is None


def test_clean_close_leaves_no_autosave(qtbot, make_window, room_file):
    window = make_window()
    doc = open_photo(qtbot, window, room_file)
    paint(doc)
    window.autosaver.save_now()
    window.autosaver.wait()
    folder = window.autosaver.folder
    assert (folder / "project.json").is_file()
    window.close()
    assert not folder.exists()


def test_a_version_1_project_still_opens(qapp):
    """A project saved before the engine moved into rooms: results, their requests, the applied base,
    settings and the undo history all come back."""
    from app.engine import JobKind, StageRequest
    from app.ui import project_file

    data = project_file.read_project(Path(__file__).parents[1] / "fixtures" / "v1-empty-b.rsproj")
    doc = project_file.build_document(data)
    assert doc.size == (333, 332) and data.meta["version"] == 1
    (result,) = doc.results
    assert result.kind == JobKind.STAGE and isinstance(result.request, StageRequest)
    assert (result.request.style, result.request.room, result.request.seed) == ("scandinavian", "bedroom", 7)
    assert result.request.mask.sum() == 100 * 150 and doc.mask_bool().sum() == 100 * 150
    assert doc.base_id == result.id and np.array_equal(doc.base, result.image)
    assert doc.params["stage"]["prompt"] == "oak bed"
    assert doc.stack.count() == 2 and doc.stack.text(0) == "Paint bed area"
    doc.stack.undo()  # un-apply the result
    assert doc.base_id == "original"
    doc.stack.undo()  # un-paint
    assert not doc.mask.any()
