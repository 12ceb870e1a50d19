"""Get catalog models onto disk: hub repositories and plain URLs, with progress, cancel and resume.

- URL sources stream into `<file>.part` with an HTTP Range resume, hash while they
  stream, and are moved into place (os.replace) only after the size and SHA-256
  check out. A cancelled or cut download keeps its .part for the next attempt;
  a checksum mismatch deletes it and installs nothing.
- Hub sources are taken from the local Hugging Face cache when it already has
  them (no network at all), else fetched file by file with huggingface_hub into a
  staging folder (which resumes and checks LFS hashes), then moved into place.
- Free disk space is checked against the entry's size before anything starts.
- Every path written is inside the models folder; names from a catalog or a
  server never leave it.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from app.engine.models.catalog import Catalog
from app.engine.models.entries import ModelEntry, is_inside, safe_relative
from app.engine.models.hub import install_from_hub
from app.engine.models.transfer import (
    CHUNK,
    ChecksumMismatch,
    Meter,
    ProgressFn,
    check_disk_space,
    human_bytes,
)
from app.errors import ModelMissing, UserError

log = logging.getLogger(__name__)

USER_AGENT = "RoomStager-model-download"


# ---- plain URLs ------------------------------------------------------------------


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    max_redirections = 8

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urllib.parse.urlsplit(newurl).scheme not in ("http", "https"):
            raise UserError(f"refusing a redirect to {newurl}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_opener = urllib.request.build_opener(_SafeRedirects)


def fetch_url(url: str, dest: Path, *, sha256: str | None = None, size: int | None = None, name: str | None = None,
              progress: ProgressFn | None = None, cancel: threading.Event | None = None,
              timeout: float = 30.0, check_space: bool = True, sha256_prefix: str | None = None) -> str:
    """Download `url` to `dest` through `dest.part`, resuming it. Returns the file's SHA-256.

    `sha256_prefix`: where the publisher pins only the start of the checksum (torchvision's file names)."""
    dest = Path(dest)
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise UserError(f"{url}: only http and https downloads are allowed")
    name = name or dest.name
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.is_file() else 0
    hasher = hashlib.sha256()
    meter = Meter(name, size, 0, progress, cancel)
    if have:  # the hash must cover the bytes already there
        meter.emit(message=f"checking the {human_bytes(have)} downloaded before")
        with open(part, "rb") as f:
            while chunk := f.read(CHUNK):
                meter.check()
                hasher.update(chunk)
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = _opener.open(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing after what we have: the .part is complete
            response = None
        else:
            raise UserError(f"download of {name} failed: the server answered {exc.code} {exc.reason} ({url})") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(f"download of {name} failed: cannot reach {urllib.parse.urlsplit(url).netloc} ({reason}). "
                        f"Check the connection and run the download again: it resumes where it stopped.") from None
    total = size
    if response is not None:
        with response:
            status = getattr(response, "status", 200)
            length = response.headers.get("Content-Length")
            length = int(length) if length and length.isdigit() else None
            mode = "ab"
            if have and status == 206:
                start = _range_start(response.headers.get("Content-Range"))
                if start != have:
                    raise UserError(f"download of {name}: the server resumed at byte {start}, not {have}; "
                                    f"delete {part} and try again")
            elif have:  # the server ignored the Range: start over
                have, hasher, mode = 0, hashlib.sha256(), "wb"
            if length is not None:
                total = have + length
            if check_space:
                check_disk_space(dest.parent, (total or size or 0) - have, name)
            meter.total, meter.done = total, have
            meter.emit()
            cut = None
            with open(part, mode) as f:
                while True:
                    meter.check()
                    try:
                        chunk = response.read(CHUNK)
                    except (http.client.HTTPException, OSError) as exc:  # connection lost, timeout
                        cut = exc
                        chunk = getattr(exc, "partial", b"") or b""
                    if chunk:
                        f.write(chunk)
                        hasher.update(chunk)
                        meter.add(len(chunk))
                    if not chunk or cut is not None or (total and meter.done > total):
                        break
                f.flush()
                os.fsync(f.fileno())
            if cut is not None:
                got = part.stat().st_size
                raise UserError(f"download of {name} was interrupted at {human_bytes(got)}"
                                f"{' of ' + human_bytes(total) if total else ''} ({cut.__class__.__name__}); "
                                f"run it again to resume")
    got = part.stat().st_size if part.exists() else 0
    meter.done = got
    meter.emit()
    if total is not None and got < total:
        raise UserError(f"download of {name} stopped at {human_bytes(got)} of {human_bytes(total)}; "
                        f"run it again to resume")
    if total is not None and got > total:
        part.unlink(missing_ok=True)
        raise UserError(f"download of {name}: the server sent more than it announced; nothing was installed")
    digest = hasher.hexdigest()
    if sha256_prefix and not sha256:
        sha256 = digest if digest.startswith(sha256_prefix.lower()) else sha256_prefix.lower().ljust(64, "?")
    if sha256 and digest.lower() != sha256.lower():
        part.unlink(missing_ok=True)
        raise ChecksumMismatch(
            f"download of {name} does not match its checksum (expected {sha256[:12]}…, got {digest[:12]}…); "
            f"the file was deleted and nothing was installed. Try again later; if it keeps failing the "
            f"server's file changed: report it."
        )
    os.replace(part, dest)
    return digest


def _range_start(content_range: str | None) -> int | None:
    m = re.match(r"bytes\s+(\d+)-", content_range or "")
    return int(m.group(1)) if m else None


# ---- catalog entries -------------------------------------------------------------


def _target(catalog: Catalog, entry: ModelEntry) -> Path:
    if entry.external:
        raise UserError(f"'{entry.name}' is a file of another tool used in place: RoomStager never writes to it")
    dest = catalog.root / entry.path
    if not safe_relative(entry.path) or not is_inside(catalog.root, dest.parent if dest.parent.exists() else catalog.root):
        raise UserError(f"'{entry.name}': its path leaves the models folder; refusing to write")
    return dest


def plan(catalog: Catalog, names: list[str]) -> list[str]:
    """Catalog models (and sets, expanded) -> the models that still need downloading, in order."""
    out: list[str] = []
    for name in names:
        if name in catalog.entries:
            models = [name]
        elif name in catalog.sets:
            models = catalog.set_downloads(name)
        else:
            known = ", ".join([*catalog.sets, *catalog.entries])
            raise UserError(f"'{name}' is neither a model nor a model set in the catalog (known: {known})")
        for m in models:
            if m not in out and not catalog.is_installed(m):
                out.append(m)
    return out


def install(catalog: Catalog, name: str, *, progress: ProgressFn | None = None,
            cancel: threading.Event | None = None, offline: bool = False,
            hf_cache: Path | str | None = None, timeout: float = 30.0) -> Path:
    """Download (or take from the local hub cache) one catalog model and install it. Returns its path."""
    entry = catalog.entry(name)
    dest = _target(catalog, entry)  # refuses files of other tools and unsafe paths
    if catalog.is_installed(name):
        return entry.local(catalog.root)
    if not entry.downloadable:
        raise ModelMissing(catalog.missing_message(name))
    needed = max(0, (entry.size_bytes or 0) - catalog.partial_bytes(entry.name))
    check_disk_space(catalog.root, needed, f"'{name}'")
    if entry.source == "url":
        if offline:
            raise UserError(f"'{name}' is a download from {urllib.parse.urlsplit(entry.info['url']).netloc} "
                            f"and the app is offline; import the file instead with `models import FILE`")
        sha = (entry.info.get("sha256") or "").strip() or None
        prefix = (entry.info.get("sha256_prefix") or "").strip() or None
        digest = fetch_url(entry.info["url"], dest, sha256=sha, name=name, progress=progress, cancel=cancel,
                           timeout=timeout, sha256_prefix=prefix)
        sha = sha or prefix
        catalog.write_manifest(name, {"source": entry.info["url"], "files": {
            ".": {"size": dest.stat().st_size, "sha256": digest}}, "checksum_from": "catalog" if sha else "first download",
            "installed": time.strftime("%Y-%m-%dT%H:%M:%S")})
    else:
        install_from_hub(catalog, entry, dest, catalog.staging_dir(name), progress=progress, cancel=cancel,
                         offline=offline, hf_cache=hf_cache)
    if not catalog.is_installed(name):
        raise UserError(f"'{name}' was downloaded but is incomplete on disk ({dest}); run `models verify {name}`")
    return dest


def check_space_for(catalog: Catalog, todo: list[str]) -> int:
    """Refuse (UserError) when the disk cannot hold these downloads; returns the bytes still to fetch
    (what interrupted downloads already hold is not fetched again)."""
    needed = sum(max(0, (catalog.entry(m).size_bytes or 0) - catalog.partial_bytes(m)) for m in todo)
    check_disk_space(catalog.root, needed, ", ".join(todo) or "nothing")
    return needed
