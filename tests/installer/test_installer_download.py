"""firstrun's online path against a package index served on 127.0.0.1: lookup, progress, hash, install."""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest
from firstrun import fetch, gpu, run, wheels
from installer_testkit import ODD_NAME, PINS, write_fake_torch_pair


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A PEP 503 index laid out like download.pytorch.org/whl/<build>/<package>/, files elsewhere."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")  # a proxy set for PyPI must not see loopback
    root = tmp_path / "www"
    files = root / "files"
    pairs = {
        label: write_fake_torch_pair(files, label, cuda, avail)
        for label, cuda, avail in [("cpu", None, False)]
    }
    for label, paths in pairs.items():
        for package, path in zip(("torch", "torchvision"), paths, strict=True):
            page = root / "whl" / label / package
            page.mkdir(parents=True)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            href = f"../../../files/{quote(path.name)}#sha256={digest}"
            (page / "index.html").write_text(
                f'<html><body><a href="{href}">{path.name}</a><br/></body></html>'
            )
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/whl", files
    finally:
        server.shutdown()
        server.server_close()


def test_index_page_parsing_resolves_urls_and_hashes() -> None:
    html = (
        '<a href="/whl/cu130/torch-2.13.0%2Bcu130-cp311-cp311-win_amd64.whl#sha256=ABCDEF">x</a>'
        '<a href="torch-2.13.0%2Bcu130-cp312-cp312-win_amd64.whl">y</a><a href="notes.txt">z</a>'
    )
    found = wheels.parse_index_page(html, "https://download.pytorch.org/whl/cu130/torch/")
    assert [(r.url, r.sha256, r.wheel.local) for r in found] == [
        (
            "https://download.pytorch.org/whl/cu130/torch-2.13.0%2Bcu130-cp311-cp311-win_amd64.whl",
            "abcdef",
            "cu130",
        ),
        (
            "https://download.pytorch.org/whl/cu130/torch/torch-2.13.0%2Bcu130-cp312-cp312-win_amd64.whl",
            None,
            "cu130",
        ),
    ]


def test_download_checks_the_hash_and_reports_progress(index, tmp_path: Path) -> None:
    base, files = index
    remote = wheels.find_on_index(base, PINS, "cpu", wheels.interpreter_tags())
    lines: list[str] = []
    got = fetch.download(
        remote["torch"].url, tmp_path / ODD_NAME / "t.whl", remote["torch"].sha256, say=lines.append
    )
    assert got.read_bytes() == (files / remote["torch"].wheel.filename).read_bytes()
    assert lines[-1].endswith("downloaded") and any("(100%)" in line for line in lines)

    again: list[str] = []
    fetch.download(remote["torch"].url, got, remote["torch"].sha256, say=again.append)
    assert again == ["t.whl: already downloaded"]

    bad = tmp_path / "bad.whl"
    with pytest.raises(fetch.DownloadError, match="damaged"):
        fetch.download(remote["torch"].url, bad, "0" * 64, say=lambda line: None)
    assert not bad.exists() and not bad.with_name("bad.whl.part").exists()


def test_missing_build_on_the_index_is_a_clear_error(index) -> None:
    base, _ = index
    with pytest.raises(OSError):  # HTTP 404 for a build folder that is not there
        wheels.find_on_index(base, PINS, "cu130", wheels.interpreter_tags())
    with pytest.raises(LookupError, match="2.99.0"):
        wheels.find_on_index(base, {**PINS, "torch": "2.99.0"}, "cpu", wheels.interpreter_tags())


def test_firstrun_downloads_installs_and_verifies(index, tmp_path: Path, bare_venv: Path, capsys) -> None:
    base, _ = index
    pins = tmp_path / "pins.json"
    pins.write_text(json.dumps(PINS))
    state = tmp_path / ODD_NAME / "state"
    argv = ["--index-url", base, "--python", str(bare_venv), "--state-dir", str(state), "--pins", str(pins)]
    code = run.main(argv, detector=lambda: gpu.Detection([], "none"))
    assert code == 0
    out = capsys.readouterr().out
    assert "Downloading torch-2.13.0+cpu-py3-none-any.whl" in out
    assert json.loads((state / "result.json").read_text(encoding="utf-8"))["torch"]["version"] == "2.13.0+cpu"
    assert not (state / "downloads").exists()  # gigabytes are not left behind once installed
