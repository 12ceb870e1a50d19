"""URL downloads against a loopback server: progress, cancel, resume, checksums, disk space, safety."""

from __future__ import annotations

import os
import threading

import pytest
from models_helpers import sha256, write_catalog

from app.engine import Catalog
from app.engine.models import transfer
from app.engine.models.downloads import fetch_url, install
from app.engine.models.transfer import ChecksumMismatch, DownloadCancelled
from app.errors import UserError

PAYLOAD = os.urandom(3 * 1024 * 1024 + 12345)


def _catalog(root, server, sha=None, size_gb=None, path="sam/test.pth"):
    text = f"""
[models.test-file]
role = "sam"
path = "{path}"
url = "{server.url('/test.pth')}"
sha256 = "{sha if sha is not None else sha256(PAYLOAD)}"
{f'size_gb = {size_gb}' if size_gb else ''}
license = "apache-2.0"
commercial_use = true
"""
    return Catalog.load(write_catalog(root, text))


def test_download_reports_progress_and_installs(tmp_path, file_server):
    file_server.add("/test.pth", PAYLOAD)
    catalog = _catalog(tmp_path / "m", file_server)
    assert catalog.status("test-file") == "missing"
    events = []
    path = install(catalog, "test-file", progress=events.append)
    assert path.read_bytes() == PAYLOAD
    assert not path.with_name(path.name + ".part").exists()
    assert catalog.status("test-file") == "installed"
    real = [e for e in events if not e.message]
    assert real[-1].done == real[-1].total == len(PAYLOAD)
    assert all(a.done <= b.done for a, b in zip(real[:-1], real[1:], strict=True))
    assert "MB" in real[-1].text() and "of" in real[-1].text()
    assert catalog.manifest("test-file")["files"]["."]["sha256"] == sha256(PAYLOAD)
    # installed: a second install does nothing
    n = file_server.count
    install(catalog, "test-file")
    assert file_server.count == n


def test_interrupted_download_resumes_with_range(tmp_path, file_server):
    served = file_server.add("/test.pth", PAYLOAD, cut_first=1_000_000)
    catalog = _catalog(tmp_path / "m", file_server)
    with pytest.raises(UserError, match="resume"):
        install(catalog, "test-file")
    part = tmp_path / "m" / "sam" / "test.pth.part"
    assert part.stat().st_size == 1_000_000
    assert not (tmp_path / "m" / "sam" / "test.pth").exists()
    assert catalog.status("test-file") == "partial"
    install(catalog, "test-file")
    assert served.requests[1]["range"] == "bytes=1000000-"
    assert (tmp_path / "m" / "sam" / "test.pth").read_bytes() == PAYLOAD


def test_cancel_keeps_part_and_resume_finishes(tmp_path, file_server):
    served = file_server.add("/test.pth", PAYLOAD, delay=0.01)  # ~0.5 s: progress events come every 0.1 s
    catalog = _catalog(tmp_path / "m", file_server)
    cancel = threading.Event()

    def progress(p):
        if p.done >= 1024 * 1024:
            cancel.set()

    with pytest.raises(DownloadCancelled):
        install(catalog, "test-file", progress=progress, cancel=cancel)
    part = tmp_path / "m" / "sam" / "test.pth.part"
    assert 0 < part.stat().st_size < len(PAYLOAD)
    have = part.stat().st_size
    install(catalog, "test-file")
    assert served.requests[-1]["range"] == f"bytes={have}-"
    assert (tmp_path / "m" / "sam" / "test.pth").read_bytes() == PAYLOAD


def test_server_ignoring_range_restarts_cleanly(tmp_path, file_server):
    file_server.add("/test.pth", PAYLOAD, cut_first=500_000, ignore_range=True)
    catalog = _catalog(tmp_path / "m", file_server)
    with pytest.raises(UserError):
        install(catalog, "test-file")
    install(catalog, "test-file")
    assert (tmp_path / "m" / "sam" / "test.pth").read_bytes() == PAYLOAD


def test_checksum_mismatch_installs_nothing(tmp_path, file_server):
    file_server.add("/test.pth", PAYLOAD)
    catalog = _catalog(tmp_path / "m", file_server, sha="0" * 64)
    with pytest.raises(ChecksumMismatch, match="nothing was installed"):
        install(catalog, "test-file")
    sam = tmp_path / "m" / "sam"
    assert not (sam / "test.pth").exists() and not (sam / "test.pth.part").exists()
    assert catalog.status("test-file") == "missing"
    assert catalog.manifest("test-file") is None


def test_disk_space_is_checked_before_any_request(tmp_path, file_server, monkeypatch):
    file_server.add("/test.pth", PAYLOAD)
    catalog = _catalog(tmp_path / "m", file_server, size_gb=2.0)
    real = transfer.shutil.disk_usage
    monkeypatch.setattr(transfer.shutil, "disk_usage",
                        lambda p: real(p)._replace(free=100 * 1024 * 1024))
    with pytest.raises(UserError, match="disk space"):
        install(catalog, "test-file")
    assert file_server.count == 0


def test_unreachable_server_and_bad_schemes(tmp_path):
    with pytest.raises(UserError, match="cannot reach"):
        fetch_url("http://127.0.0.1:9/nothing", tmp_path / "x.bin", timeout=2)
    for url in ("file:///etc/passwd", "ftp://example.org/x"):
        with pytest.raises(UserError, match="only http"):
            fetch_url(url, tmp_path / "x.bin")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("path", ["../evil.pth", "/etc/evil.pth", "sam/../../evil.pth", "C:/evil.pth", ""])
def test_catalog_paths_cannot_leave_the_models_folder(tmp_path, path):
    text = f'[models.bad]\nrole = "sam"\npath = "{path}"\nurl = "http://127.0.0.1:1/x"\n'
    with pytest.raises(UserError, match="safe relative path"):
        Catalog.load(write_catalog(tmp_path / "m", text))


def test_external_files_only_in_a_folder_catalog_and_never_written(tmp_path):
    other = tmp_path / "other.safetensors"
    other.write_bytes(b"x")
    text = f'[models.ext]\nrole = "lora"\nfile = "{other.as_posix()}"\n'
    catalog = Catalog.load(write_catalog(tmp_path / "m", text))
    assert catalog.entry("ext").external and catalog.status("ext") == "external"
    with pytest.raises(UserError, match="never writes"):
        install(catalog, "ext")
    from app.engine import remove
    remove(catalog, "ext")
    assert other.read_bytes() == b"x" and "ext" not in catalog.entries
