"""Helpers for the model tests: a loopback file server, fake safetensors files, catalogs.

`FileServer` is a loopback HTTP server (127.0.0.1 only) serving in-memory files
with HTTP Range support. It can cut a response short (an interrupted download),
ignore Range, or serve slowly; it answers a bounded number of requests and
shuts itself down after a while even if a test forgets to.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

MAX_REQUESTS = 500
LIFETIME_S = 120


@dataclass
class ServedFile:
    data: bytes
    cut_first: int | None = None  # send only this many body bytes on the first request, then drop
    ignore_range: bool = False
    delay: float = 0.0  # seconds per 64 KiB block
    requests: list[dict] = field(default_factory=list)


class FileServer:
    def __init__(self):
        self.files: dict[str, ServedFile] = {}
        self.count = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                server.count += 1
                f = server.files.get(self.path)
                if server.count > MAX_REQUESTS or f is None:
                    self.send_response(404 if f is None else 503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                rng = self.headers.get("Range")
                f.requests.append({"range": rng})
                data, start = f.data, 0
                if rng and not f.ignore_range:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Type", "application/octet-stream")
                cut = f.cut_first if len(f.requests) == 1 else None
                if cut is not None:
                    self.send_header("Connection", "close")
                self.end_headers()
                to_send = body if cut is None else body[:cut]
                for i in range(0, len(to_send), 65536):
                    if f.delay:
                        time.sleep(f.delay)
                    try:
                        self.wfile.write(to_send[i:i + 65536])
                    except (BrokenPipeError, ConnectionResetError):
                        return
                if cut is not None:
                    self.wfile.flush()
                    self.close_connection = True

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self._timer = threading.Timer(LIFETIME_S, self.stop)
        self._timer.daemon = True
        self._timer.start()

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, path: str, data: bytes, **kw) -> ServedFile:
        self.files[path] = ServedFile(data, **kw)
        return self.files[path]

    def url(self, path: str) -> str:
        return self.base + path

    def stop(self) -> None:
        self._timer.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fake_safetensors(tensors: dict[str, list[int]], dtype: str = "F16") -> bytes:
    """A valid safetensors file with zero data: any key names and shapes, without torch."""
    width = {"F16": 2, "F32": 4, "BF16": 2}[dtype]
    header, offset = {}, 0
    for name, shape in tensors.items():
        n = width
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + bytes(offset)


def write_catalog(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "catalog.toml").write_text(text, encoding="utf-8")
    return root


def make_hf_cache(cache: Path, repo: str, files: dict[str, bytes], commit: str = "0123456789abcdef" * 2 + "01234567",
                  symlinks: bool = True) -> Path:
    """A Hugging Face hub cache holding repo@main as huggingface_hub lays it out (blobs, snapshots, refs)."""
    import os

    folder = cache / ("models--" + repo.replace("/", "--"))
    snap = folder / "snapshots" / commit
    (folder / "blobs").mkdir(parents=True, exist_ok=True)
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / "main").write_text(commit)
    for name, data in files.items():
        blob = folder / "blobs" / hashlib.sha256(data).hexdigest()  # LFS blobs are named by their SHA-256
        blob.write_bytes(data)
        target = snap / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if symlinks:
            os.symlink(os.path.relpath(blob, target.parent), target)
        else:
            target.write_bytes(data)
    return snap
