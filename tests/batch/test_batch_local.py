"""The batch on one machine, run as a user runs it (`python main.py batch ...`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.batch.conftest import (
    COMMON,
    ROOT,
    in_process,
    manifest,
    one_thread_env,
    pixels,
    run_main,
    write_shoot,
)


def test_batch_equals_single_stage_runs_with_format_metadata_and_report(shoot, local_batch, single_runs):
    photos = sorted(shoot.parent.glob("room*.*"))
    assert len(photos) == 12
    for photo in photos:
        name = f"{photo.stem}-stage{'.jpg' if photo.suffix == '.jpg' else '.png'}"  # JPEG in, JPEG out; PNG in, PNG out
        out = local_batch / name
        assert np.array_equal(pixels(out), pixels(single_runs / name)), f"{name} differs from a single stage run"
        with Image.open(out) as img, Image.open(photo) as src:
            assert img.size == src.size, "full resolution"
            if photo.suffix == ".jpg":
                assert img.format == "JPEG"
                assert img.info.get("icc_profile") == src.info["icc_profile"], "ICC profile kept"
                assert img.getexif().get(0x010F) == "TestCam", "EXIF kept"
            else:
                assert img.format == "PNG"
        sidecar = json.loads((local_batch / f"{name}.json").read_text())
        assert sidecar["request"]["seed"] == 11 and sidecar["request"]["steps"] == 2
        assert sidecar["batch"]["original"]["path"] == str(photo), "the unaltered original is referenced"
    m = manifest(local_batch)
    entry = m["items"]["room03-stage"]
    assert entry["status"] == "done" and entry["style"] == "scandinavian" and entry["attempts"] == 1
    assert len(entry["photo_sha256"]) == 64 and entry["outputs"][0]["file"] == "room03-stage.png"
    report = (local_batch / "report.html").read_text()
    assert report.count('class="item"') == 12 and "room03-stage-before.jpg" in report
    for entry in m["items"].values():
        assert (local_batch / entry["thumb"]).is_file() and (local_batch / entry["outputs"][0]["thumb"]).is_file()


def test_rerun_skips_finished_items_without_loading_a_model(shoot, local_batch):
    stamps = {p.name: p.stat().st_mtime_ns for p in local_batch.glob("room*-stage.*")}
    t0 = time.perf_counter()
    proc = run_main("batch", shoot, "-o", local_batch, *COMMON, "--json")
    assert time.perf_counter() - t0 < 20
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert len(lines) == 12 and all(x["skipped"] and x["status"] == "done" for x in lines)
    assert {p.name: p.stat().st_mtime_ns for p in local_batch.glob("room*-stage.*")} == stamps, "nothing rewritten"


@pytest.mark.slow
def test_sigkill_halfway_then_rerun_redoes_only_the_item_cut_off(shoot, local_batch, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "batch", str(shoot), "-o", str(out), *COMMON],
                            cwd=ROOT, env=one_thread_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cut, reads = None, 0
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                m = manifest(out)  # read while it is being rewritten: it must always parse
            except FileNotFoundError:
                time.sleep(0.05)
                continue
            reads += 1
            items = m["items"]
            done = [k for k, v in items.items() if v["status"] == "done"]
            running = [k for k, v in items.items() if v["status"] == "running"]
            if len(done) >= 6 and running and not list(out.glob(f"{running[0]}.*")):  # cut before it wrote
                proc.send_signal(signal.SIGKILL)
                cut, finished_first = running[0], set(done)
                break
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.wait()
    assert cut is not None, "the batch ended before it could be cut off"
    assert reads > 10
    m = manifest(out)  # what the kill left: readable, the cut-off item still 'running'
    assert m["items"][cut]["status"] == "running"
    stamps = {f: (out / m["items"][f]["outputs"][0]["file"]).stat().st_mtime_ns for f in finished_first}

    proc = run_main("batch", shoot, "-o", out, *COMMON, "--json")
    lines = {x["id"]: x for x in map(json.loads, proc.stdout.splitlines())}
    redone = {k for k, v in lines.items() if not v["skipped"]}
    assert finished_first.isdisjoint(redone), "a finished item was processed again"
    assert cut in redone and len(redone) == 12 - len(finished_first)
    m = manifest(out)
    assert m["items"][cut]["attempts"] == 2 and [r["status"] for r in m["items"][cut]["runs"]] == ["interrupted", "done"]
    assert all(m["items"][f]["attempts"] == 1 for f in finished_first)
    assert {f: (out / m["items"][f]["outputs"][0]["file"]).stat().st_mtime_ns for f in finished_first} == stamps
    for entry in m["items"].values():
        name = entry["outputs"][0]["file"]
        assert np.array_equal(pixels(out / name), pixels(local_batch / name)), f"{name}: not what an uninterrupted run made"


def test_bad_photo_and_nothing_found_are_reported_and_the_rest_done(tmp_path, seeing_semantic, capsys):
    from automask_rooms import draw_room as automask_room

    from app.cli import main
    from app.imaging.io import read_photo, write_photo

    photos = tmp_path / "photos"
    photos.mkdir()
    for name, furnished in (("a-furnished.png", True), ("b-empty.png", False)):
        room = automask_room(240, 180, seed=2, with_furniture=furnished)
        write_photo(photos / name, room.photo)
        seeing_semantic(read_photo(photos / name).pixels, room.labels)
    good = (photos / "a-furnished.png").read_bytes()
    (photos / "c-cut.jpg").write_bytes(b"\xff\xd8\xff\xe0" + good[:200])  # a JPEG that stops short
    out = tmp_path / "out"
    argv = ["batch", str(photos), "-o", str(out), "--task", "defurnish", "--models", "tiny", "--steps", "1",
            "--seed", "3", "--json"]
    rc = main(argv)
    captured = capsys.readouterr()
    assert rc == 1
    lines = {x["id"]: x for x in map(json.loads, captured.out.splitlines())}
    assert lines["a-furnished-defurnish"]["status"] == "done"
    assert (out / "a-furnished-defurnish.png").is_file()
    assert lines["b-empty-defurnish"]["reason"] == "nothing-found" and "No furniture" in lines["b-empty-defurnish"]["message"]
    assert lines["c-cut-defurnish"]["reason"] == "bad-photo" and "c-cut.jpg" in lines["c-cut-defurnish"]["message"]
    assert "b-empty-defurnish (nothing-found)" in captured.err and "c-cut-defurnish (bad-photo)" in captured.err
    assert "Traceback" not in captured.err
    report = (out / "report.html").read_text()
    assert "nothing-found" in report and "bad-photo" in report

    # a rerun keeps those failures (their photos did not change) and redoes nothing ...
    assert main(argv) == 1
    lines = {x["id"]: x for x in map(json.loads, capsys.readouterr().out.splitlines())}
    assert all(x["skipped"] for x in lines.values())
    # ... until the photo is fixed, or --retry-failed asks for it
    (photos / "c-cut.jpg").write_bytes((photos / "a-furnished.png").read_bytes())
    assert main(argv + ["--retry-failed"]) == 1  # the empty room still has nothing to remove
    lines = {x["id"]: x for x in map(json.loads, capsys.readouterr().out.splitlines())}
    assert lines["c-cut-defurnish"]["status"] == "done" and not lines["c-cut-defurnish"]["skipped"]
    assert not lines["b-empty-defurnish"]["skipped"] and lines["a-furnished-defurnish"]["skipped"]
    assert manifest(out)["items"]["b-empty-defurnish"]["attempts"] == 2


def test_changed_settings_are_detected_and_redone(tmp_path, capsys):
    from app.cli import main

    jobs = write_shoot(tmp_path / "photos", count=2)
    out = tmp_path / "out"
    base = ["batch", str(jobs), "-o", str(out), "--models", "tiny", "--steps", "1", "--json"]
    assert main(base) == 0
    capsys.readouterr()
    seeds = {e["seeds"][0] for e in manifest(out)["items"].values()}
    assert len(seeds) == 1, "without --seed one seed is drawn for the whole listing"
    assert main(base + ["--room", "bedroom"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert all(not x["skipped"] for x in lines) and manifest(out)["items"]["room00-stage"]["room"] == "bedroom"
    assert {e["seeds"][0] for e in manifest(out)["items"].values()} == seeds, "the batch seed is kept"
    Image.fromarray(np.zeros((160, 224, 3), np.uint8)).save(jobs.parent / "room01.png")  # the photo changes
    assert main(base + ["--room", "bedroom"]) == 0
    lines = {x["id"]: x for x in map(json.loads, capsys.readouterr().out.splitlines())}
    assert lines["room00-stage"]["skipped"] and not lines["room01-stage"]["skipped"]


def test_toml_defaults_defurnish_then_stage_and_disclosure(tmp_path, capsys):
    from app.cli import main

    write_shoot(tmp_path / "photos", count=2)
    jobs = tmp_path / "photos" / "listing.toml"
    jobs.write_text('[defaults]\ntask = "defurnish+stage"\nstyle = "coastal"\nvariations = 2\n\n'
                    '[[job]]\nphoto = "room00.jpg"\nmask = "masks/room00.png"\n\n'
                    '[[job]]\nphoto = "room01.png"\nmask = "masks/room01.png"\ntask = "defurnish"\nvariations = 1\n')
    runs = {}
    for name, flag in (("stamped", ["--disclose"]), ("plain", [])):
        out = tmp_path / name
        rc = main(["batch", str(jobs), "-o", str(out), "--models", "tiny", "--steps", "1", "--seed", "4", "--json",
                   *flag])
        captured = capsys.readouterr()
        assert rc == 1, "the tiny depth model finds no floor to stage on (reported, not hidden)"
        runs[name] = {x["id"]: x for x in map(json.loads, captured.out.splitlines())}
    lines = runs["stamped"]
    assert lines["room01-defurnish"]["status"] == "done"
    assert lines["room01-defurnish"]["outputs"] == [str(tmp_path / "stamped" / "room01-defurnish.png")]
    staged = lines["room00-defurnish+stage"]
    assert staged["status"] == "failed" and "floor" in staged["message"] and staged["reason"] == "rejected"
    assert (tmp_path / "stamped" / "room00-defurnish.jpg").is_file(), "the emptied room is kept when staging fails"
    side = json.loads((tmp_path / "stamped" / "room01-defurnish.png.json").read_text())
    assert side["batch"]["disclosure"] == "Virtually staged"
    differs = (pixels(tmp_path / "stamped" / "room01-defurnish.png")
               != pixels(tmp_path / "plain" / "room01-defurnish.png")).any(axis=-1)
    assert differs.any() and not differs[:100].any() and not differs[:, :100].any(), "only the corner notice differs"


def test_defurnish_then_stage_makes_both_outputs(tmp_path, capsys, room_depth):
    from app.cli import main

    jobs = write_shoot(tmp_path / "photos", count=1, task="")  # the rows leave the task to the command line
    out = tmp_path / "out"
    rc = main(["batch", str(jobs), "-o", str(out), "--task", "defurnish+stage", "--variations", "2", "--models",
               "tiny", "--steps", "1", "--seed", "4", "--json"])
    assert rc == 0, capsys.readouterr().err
    line = json.loads(capsys.readouterr().out)
    names = [Path(p).name for p in line["outputs"]]
    assert names == ["room00-defurnish+stage-1.jpg", "room00-defurnish+stage-2.jpg"]
    assert line["empty"] == [str(out / "room00-defurnish.jpg")] and line["seeds"] == [4, 5]


@pytest.mark.parametrize("content, message", [
    ("photo,colour\nroom00.jpg,red\n", "'colour'"),
    ("task\nstage\n", "no 'photo' column"),
    ("photo,task\nroom00.jpg,paint\n", "row 2: unknown task 'paint'"),
    ("photo,seed\nroom00.jpg,abc\n", "row 2: seed must be a whole number"),
    ("photo,variations\nroom00.jpg,40\n", "variations must be between 1 and 16"),
    ("photo,mask\nroom00.jpg,auto:sofa\n", "unknown automatic mask"),
    ("photo,task,mask\nroom00.jpg,defurnish,auto:floor\n", "auto:floor would repaint"),
    ("photo\nroom00.jpg\nroom00.jpg\n", "would both write 'room00-stage"),
    ("photo,style\nroom00.jpg,gothic\n", "row 2: unknown style 'gothic'"),
])
def test_bad_job_files_exit_2_naming_the_row(tmp_path, content, message):
    write_shoot(tmp_path / "p", count=1)
    (tmp_path / "p" / "jobs.csv").write_text(content)
    rc, _, err = in_process(["batch", str(tmp_path / "p" / "jobs.csv"), "-o", str(tmp_path / "o"), "--models", "tiny"])
    assert rc == 2 and message in err and "Traceback" not in err, err


def test_usage_errors_and_a_busy_output_folder_exit_2(tmp_path):
    from filelock import FileLock

    jobs = write_shoot(tmp_path / "p", count=1)
    cases = [
        (["batch", str(tmp_path / "nowhere"), "-o", str(tmp_path / "o")], "no such folder"),
        (["batch", str(tmp_path / "p"), "-o", str(tmp_path / "p")], "other than the photos' folder"),
        (["batch", str(jobs), "-o", str(tmp_path / "o"), "--steps", "0"], "--steps"),
        (["batch", str(jobs), "-o", str(tmp_path / "o"), "--seed", "-1"], "seed"),
        (["batch", str(jobs)], "-o"),
    ]
    for argv, message in cases:
        rc, _, err = in_process(argv)
        assert rc == 2 and message in err, (argv, err)
    (tmp_path / "busy").mkdir()
    with FileLock(str(tmp_path / "busy" / ".manifest.lock")):
        rc, _, err = in_process(["batch", str(jobs), "-o", str(tmp_path / "busy"), "--models", "tiny"])
    assert rc == 2 and "another batch" in err


def test_a_file_the_batch_did_not_make_is_never_overwritten(tmp_path, capsys):
    from app.cli import main

    jobs = write_shoot(tmp_path / "photos", count=1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "room00-stage.jpg").write_bytes(b"the photographer's own edit")
    assert main(["batch", str(jobs), "-o", str(out), "--models", "tiny", "--steps", "1"]) == 1
    assert (out / "room00-stage.jpg").read_bytes() == b"the photographer's own edit"
    assert "not made by this batch" in capsys.readouterr().err


def test_stage_gains_disclose(tmp_path):
    from app.cli import main
    from tests.conftest import draw_room

    photo, mask = tmp_path / "room.png", tmp_path / "mask.png"
    Image.fromarray(draw_room(320, 240)).save(photo)
    m = np.zeros((240, 320), np.uint8)
    m[120:200, 100:220] = 255
    Image.fromarray(m).save(mask)
    for flag, name in (([], "plain.png"), (["--disclose"], "stamped.png")):
        assert main(["stage", str(photo), "--mask", str(mask), "--models", "tiny", "--steps", "1", "--seed", "1",
                     "-o", str(tmp_path / name), *flag]) == 0
    plain, stamped = pixels(tmp_path / "plain.png"), pixels(tmp_path / "stamped.png")
    differs = (plain != stamped).any(axis=-1)
    assert differs.any() and differs[:, :160].sum() == 0, "only the bottom-right notice differs"
    assert json.loads((tmp_path / "stamped.png.json").read_text())["disclosure"] == "Virtually staged"


def test_the_local_batch_never_imports_ray(tmp_path):
    jobs = write_shoot(tmp_path / "photos", count=1)
    code = ("import sys; from app.cli import main\n"
            f"rc = main(['batch', {str(jobs)!r}, '-o', {str(tmp_path / 'out')!r}, '--models', 'tiny', '--steps', '1'])\n"
            "assert rc == 0 and 'ray' not in sys.modules, sorted(m for m in sys.modules if m.startswith('ray'))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=one_thread_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert os.path.isfile(tmp_path / "out" / "room00-stage.jpg")


def test_bench_batch_quick_reports_throughput():
    proc = run_main("bench", "--batch", "--quick", "--no-ray", "--photos", "2", "--json")
    report = json.loads(proc.stdout)["batch"]
    assert report["local_1w_done"] == 2 and report["local_1w_photos_per_min"] > 0
    assert 0 < report["local_1w_outside_model_s"] <= report["local_1w_photo_s"]


def test_two_photos_in_flight_share_one_engine_and_give_the_same_pixels(tmp_path, capsys):
    from app.cli import main

    jobs = write_shoot(tmp_path / "photos", count=3)
    for workers in ("1", "2"):
        assert main(["batch", str(jobs), "-o", str(tmp_path / workers), "--models", "tiny", "--steps", "1",
                     "--seed", "8", "--workers", workers]) == 0
    capsys.readouterr()
    for name in ("room00-stage.jpg", "room01-stage.png", "room02-stage.jpg"):
        assert np.array_equal(pixels(tmp_path / "1" / name), pixels(tmp_path / "2" / name))
    workers = {e["worker"] for e in manifest(tmp_path / "2")["items"].values()}
    assert len(workers) == 1, "one process, one engine"


def test_outputs_written_before_the_manifest_caught_up_are_adopted_not_made_again(tmp_path, capsys):
    """A kill between writing a photo's outputs and saving the manifest (the Ray driver saves at most
    every half second): the sidecars carry the request key, so the rerun takes the outputs as done."""
    from app.cli import main

    jobs = write_shoot(tmp_path / "photos", count=2)
    out = tmp_path / "out"
    argv = ["batch", str(jobs), "-o", str(out), "--models", "tiny", "--steps", "1", "--seed", "2", "--json"]
    assert main(argv) == 0
    capsys.readouterr()
    data = manifest(out)
    entry = data["items"]["room01-stage"]
    entry.update(status="running", outputs=None)  # what the manifest said when the kill came
    entry["runs"][-1]["status"] = "running"
    (out / "manifest.json").write_text(json.dumps(data))
    stamp = (out / "room01-stage.png").stat().st_mtime_ns
    assert main(argv) == 0
    lines = {x["id"]: x for x in map(json.loads, capsys.readouterr().out.splitlines())}
    assert lines["room01-stage"]["skipped"] and lines["room01-stage"]["status"] == "done"
    assert (out / "room01-stage.png").stat().st_mtime_ns == stamp
    assert manifest(out)["items"]["room01-stage"]["message"] == "recovered from the outputs on disk"
    (out / "room01-stage.png").unlink()  # killed after the sidecar, before the image: made again
    data = manifest(out)
    data["items"]["room01-stage"].update(status="running", outputs=None)
    (out / "manifest.json").write_text(json.dumps(data))
    assert main(argv) == 0
    lines = {x["id"]: x for x in map(json.loads, capsys.readouterr().out.splitlines())}
    assert not lines["room01-stage"]["skipped"] and (out / "room01-stage.png").is_file()


def test_report_is_kept_up_to_date_while_the_batch_runs(tmp_path, monkeypatch):
    """A studio looks at report.html during a long shoot: it shows what is finished so far."""
    from app.engine.batch import session as batch_session
    from app.engine.batch.plan import BatchOptions

    monkeypatch.setattr(batch_session, "REPORT_EVERY_S", 0.0)
    jobs = write_shoot(tmp_path / "photos", count=3)
    out = tmp_path / "out"
    seen: dict[str, str] = {}

    def listener(event):
        if event.kind == "started":  # what the page says as each photo begins
            page = out / "report.html"
            seen[event.item.id] = page.read_text(encoding="utf-8") if page.exists() else ""

    session = batch_session.BatchSession(jobs, BatchOptions(models="tiny", steps=1, seed=5), out, listener=listener)
    session.prepare()
    session.run(workers=1)
    assert seen["room00-stage"] == "", "nothing finished, no page yet"
    assert "1 of 3 done" in seen["room01-stage"] and "2 of 3 done" in seen["room02-stage"]
    assert seen["room02-stage"].count('class="badge done"') == 2
    session.close()
    assert "3 of 3 done" in (out / "report.html").read_text(encoding="utf-8")
