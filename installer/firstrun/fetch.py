"""Download one large file with progress lines, resume and a sha256 check.

torch CUDA wheels are 2-3 GB; studio connections drop. A partial download is kept as
`<name>.part` and continued with an HTTP Range request when the server allows it.
Progress goes out as whole lines (no carriage returns) because the installer window
shows our output line by line.
"""

from __future__ import annotations

import hashlib
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

CHUNK = 1 << 20


class DownloadError(Exception):
    pass


def human(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit in ("B", "KB") else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def download(
    url: str,
    dest: Path,
    sha256: str | None,
    say: Callable[[str], None] = print,
    label: str | None = None,
    timeout: float = 60,
) -> Path:
    """Fetch `url` to `dest` (skipped when dest already has the right hash); returns dest."""
    label = label or dest.name
    if dest.exists() and sha256 and sha256_of(dest) == sha256:
        say(f"{label}: already downloaded")
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "RoomStager-setup"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if have and response.status != 206:  # the server ignored Range: start over
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else None
        _stream(response, part, have, total, label, say)
    if total is not None and part.stat().st_size != total:
        raise DownloadError(
            f"{label}: the download stopped early ({human(part.stat().st_size)} of {human(total)})"
        )
    if sha256:
        actual = sha256_of(part)
        if actual != sha256:
            part.unlink()
            raise DownloadError(
                f"{label}: the downloaded file is damaged (sha256 {actual[:12]}..., expected {sha256[:12]}...)"
            )
    part.replace(dest)
    return dest


def _stream(
    response, part: Path, have: int, total: int | None, label: str, say: Callable[[str], None]
) -> None:
    start = last_time = time.monotonic()
    last_percent = -100
    done = have
    with part.open("ab" if have else "wb") as out:
        while block := response.read(CHUNK):
            out.write(block)
            done += len(block)
            now = time.monotonic()
            percent = int(done * 100 / total) if total else -1
            if percent >= last_percent + 5 or now - last_time >= 15:
                speed = (done - have) / max(now - start, 1e-6)
                of = f" of {human(total)} ({percent}%)" if total else ""
                say(f"{label}: {human(done)}{of}, {human(speed)}/s")
                last_percent, last_time = percent, now
    say(f"{label}: {human(done)} downloaded")
