"""A batch whose output folder refuses writes (a full disk, a lost share): what finished stands, the
user is told which file could not be written, and a rerun after the space is freed finishes the rest
without --retry-failed."""

from __future__ import annotations

import json

from tests.batch.conftest import in_process, manifest, write_shoot

TINY = ["--models", "tiny", "--steps", "1", "--seed", "3", "--json"]


def _lines(out: str) -> dict[str, dict]:
    return {x["id"]: x for x in map(json.loads, out.splitlines())}


def test_a_full_disk_fails_the_photo_for_now_and_a_rerun_finishes_it(tmp_path, monkeypatch):
    from app.engine.batch import item as batch_item
    from app.imaging.io import PhotoError

    jobs = write_shoot(tmp_path / "photos", count=3)
    out = tmp_path / "out"
    real_write = batch_item.write_photo

    def full_for_room01(path, *args, **kwargs):
        if path.name.startswith("room01"):
            raise PhotoError(f"{path}: cannot write it (No space left on device)")
        return real_write(path, *args, **kwargs)

    monkeypatch.setattr(batch_item, "write_photo", full_for_room01)
    rc, stdout, err = in_process(["batch", str(jobs), "-o", str(out), *TINY])
    assert rc == 1
    lines = _lines(stdout)
    assert lines["room01-stage"]["reason"] == "write-failed" and "No space left" in lines["room01-stage"]["message"]
    assert lines["room00-stage"]["status"] == lines["room02-stage"]["status"] == "done"
    assert "room01-stage.png: cannot write it" in err and "Traceback" not in err
    assert not (out / "room01-stage.png").exists() and not (out / "room01-stage.png.json").exists(), \
        "no claim is left for an image that was never written"

    monkeypatch.setattr(batch_item, "write_photo", real_write)  # the space is freed
    rc, stdout, _ = in_process(["batch", str(jobs), "-o", str(out), *TINY])
    lines = _lines(stdout)
    assert rc == 0 and not lines["room01-stage"]["skipped"] and lines["room00-stage"]["skipped"]
    assert (out / "room01-stage.png").is_file() and manifest(out)["items"]["room01-stage"]["status"] == "done"


def test_a_manifest_that_cannot_be_saved_stops_the_batch_with_exit_1_not_2(tmp_path, monkeypatch):
    from app.engine.batch import manifest as batch_manifest
    from app.imaging.io import PhotoError

    jobs = write_shoot(tmp_path / "photos", count=3)
    out = tmp_path / "out"
    real_save, saves = batch_manifest.Manifest.save, []

    def save_until_full(self):
        saves.append(1)
        if len(saves) > 3:  # planned, room00 started, room00 finished: then the disk is full
            raise PhotoError(f"{self.path}: cannot write it (No space left on device)")
        real_save(self)

    monkeypatch.setattr(batch_manifest.Manifest, "save", save_until_full)
    rc, _, err = in_process(["batch", str(jobs), "-o", str(out), *TINY])
    assert rc == 1, "photos ran: not a usage error"
    assert "the batch stopped:" in err and "manifest.json: cannot write it" in err and "Traceback" not in err
    assert "not reached" in err
    monkeypatch.setattr(batch_manifest.Manifest, "save", real_save)
    assert manifest(out)["items"]["room00-stage"]["status"] == "done"
    rc, stdout, _ = in_process(["batch", str(jobs), "-o", str(out), *TINY])
    lines = _lines(stdout)
    assert rc == 0 and lines["room00-stage"]["skipped"] and sum(not x["skipped"] for x in lines.values()) == 2


def test_a_report_that_cannot_be_written_does_not_stop_the_batch(tmp_path, monkeypatch):
    from app.engine.batch import session as batch_session

    monkeypatch.setattr(batch_session, "REPORT_EVERY_S", 0.0)  # rewritten after every photo: every rewrite fails
    jobs = write_shoot(tmp_path / "photos", count=2)
    out = tmp_path / "out"
    (out / "report.html").mkdir(parents=True)  # a folder in the page's place
    rc, _, err = in_process(["batch", str(jobs), "-o", str(out), *TINY])
    assert rc == 0 and all(e["status"] == "done" for e in manifest(out)["items"].values())
    assert "2 of 2 done" in err and "no report:" in err and "report.html" in err and "Traceback" not in err
