"""Install a catalog model from a Hugging Face hub repository.

The local hub cache (the one diffusers and other local tools fill, or
`hf_cache`) is tried first, without any network: a photographer who already
has the files installs offline. Otherwise the files the catalog names are
listed (a dry run), the disk space is checked, and each file is fetched with
`hf_hub_download(local_dir=<staging>)`, which resumes interrupted files. LFS
files are checked against their SHA-256 (the hub's etag, or the cache's blob
name). The staging folder is moved into place only when everything checks out.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from pathlib import Path

from app.engine.models.catalog import Catalog
from app.engine.models.entries import ModelEntry, is_inside, safe_relative
from app.engine.models.repo_files import local_name, match_files, ship_configs
from app.engine.models.transfer import (
    ChecksumMismatch,
    DownloadCancelled,
    Meter,
    ProgressFn,
    check_disk_space,
    copy_hashed,
    sha256_file,
)
from app.errors import UserError

log = logging.getLogger(__name__)

PICKLE_SUFFIXES = (".bin", ".ckpt", ".pt", ".pth", ".pkl")
# Roles whose weights are only ever loaded from .safetensors (pickles can run code)
DIFFUSION_ROLES = ("inpaint", "controlnet-depth", "controlnet-canny", "controlnet-inpaint", "controlnet-union",
                   "lora", "config", "erase", "transformer")
FILE_SUFFIXES = (".safetensors", ".pth", ".pt", ".gguf")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
DEFAULT_FILES = ["*.json", "*/*.json", "*.txt", "*/*.txt", "*.safetensors", "*/*.safetensors"]


def install_from_hub(catalog: Catalog, entry: ModelEntry, dest: Path, stage: Path, *,
                     progress: ProgressFn | None = None, cancel: threading.Event | None = None,
                     offline: bool = False, hf_cache: Path | str | None = None) -> Path:
    repo = entry.info["repo"]
    revision = str(entry.info.get("revision") or "main")
    spec = list(entry.info.get("files") or DEFAULT_FILES)
    renames = dict(entry.info.get("rename") or {})
    meter = Meter(entry.name, entry.size_bytes, 0, progress, cancel)

    snapshot = cached_snapshot(repo, revision, hf_cache)
    if snapshot is not None:
        listing = [p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file()]
        chosen, missing = match_files(spec, listing)
        if not missing:
            _check_names(entry, chosen, renames)
            meter.emit(message="found in the local Hugging Face cache: copying")
            try:
                hashes = _copy_from_cache(snapshot, chosen, stage, meter)
            except BaseException:  # local copies are cheap to redo: leave nothing half-done behind
                shutil.rmtree(stage, ignore_errors=True)
                raise
            return _finish(catalog, entry, dest, stage, chosen, renames, f"hub-cache:{repo}@{snapshot.name}", meter,
                           hashes)
        log.info("%s: local hub cache lacks %s", entry.name, ", ".join(missing))
    if offline:
        raise UserError(
            f"'{entry.name}' ({repo}) is not in the local Hugging Face cache and the app is offline. Connect and "
            f"run `python main.py models download {entry.name}`, or import a file you have with `models import FILE`."
        )
    return _download(catalog, entry, dest, stage, repo, revision, spec, renames, meter, hf_cache)


def cached_snapshot(repo: str, revision: str, hf_cache: Path | str | None) -> Path | None:
    """The snapshot folder of repo@revision in the local hub cache, without any network; None if absent."""
    # heavy: loaded on first use, not when the app starts
    from huggingface_hub import snapshot_download

    try:
        path = snapshot_download(repo, revision=revision, cache_dir=str(hf_cache) if hf_cache else None,
                                 local_files_only=True)
    except Exception as exc:  # LocalEntryNotFoundError and friends: simply not there
        log.debug("no cached snapshot of %s@%s: %s", repo, revision, exc)
        return None
    path = Path(path)
    return path if path.is_dir() else None


def _check_names(entry: ModelEntry, chosen: list[str], renames: dict) -> None:
    """Names from the repo or the catalog must stay inside the model's folder and be safe to load."""
    for f in chosen:
        for name in (f, local_name(f, renames)):
            if not safe_relative(name):
                raise UserError(f"'{entry.name}': the repository file name {name!r} is not a safe relative path")
        if entry.role in DIFFUSION_ROLES and f.lower().endswith(PICKLE_SUFFIXES):
            raise UserError(f"'{entry.name}': refusing {f}: diffusion weights are only loaded from .safetensors")


def _copy_from_cache(snapshot: Path, chosen: list[str], stage: Path, meter: Meter) -> dict[str, str]:
    hashes = {}
    meter.total = sum((snapshot / f).stat().st_size for f in chosen)
    for f in chosen:
        src = snapshot / f
        real = Path(os.path.realpath(src))
        target = stage / f
        target.parent.mkdir(parents=True, exist_ok=True)
        meter.file = f
        tmp = target.with_name(target.name + ".copy")
        digest = copy_hashed(real, tmp, meter)
        blob = real.name
        if _SHA256.match(blob) and digest != blob:  # LFS blobs are named by their SHA-256
            tmp.unlink(missing_ok=True)
            raise ChecksumMismatch(f"{f} in the local hub cache is damaged (checksum mismatch); nothing was installed")
        os.replace(tmp, target)
        hashes[f] = digest
    return hashes


def _bar_class(meter: Meter):
    # heavy: loaded on first use, not when the app starts
    from tqdm.auto import tqdm

    class Bar(tqdm):  # huggingface_hub reports bytes through a tqdm class: forward them, and cancel
        def __init__(self, *args, **kwargs):
            kwargs.pop("name", None)
            kwargs["disable"] = True
            initial = kwargs.get("initial") or 0
            super().__init__(*args, **kwargs)
            if initial:
                meter.add(int(initial))

        def update(self, n=1):
            if n:
                meter.add(int(n))
            return True

        # Xet downloads report network bytes and bytes written separately: count the written ones only.
        def update_transfer(self, n=1):
            return None

        def set_transfer_postfix_str(self, *args, **kwargs):
            return None

    return Bar


def _download(catalog, entry, dest, stage, repo, revision, spec, renames, meter, hf_cache) -> Path:
    # heavy: loaded on first use, not when the app starts
    from huggingface_hub import hf_hub_download, snapshot_download

    patterns = [p for item in spec for p in (item if isinstance(item, list) else [item])]
    meter.emit(message=f"asking the hub for {repo}")
    try:
        infos = snapshot_download(repo, revision=revision, allow_patterns=patterns, dry_run=True,
                                  cache_dir=str(hf_cache) if hf_cache else None)
    except DownloadCancelled:
        raise
    except Exception as exc:
        raise _hub_error(entry, repo, exc) from None
    listing = {i.filename: i for i in infos}
    chosen, missing = match_files(spec, list(listing))
    if missing:
        raise UserError(f"'{entry.name}': {repo}@{revision} has no {', '.join(missing)}; the catalog entry needs updating")
    _check_names(entry, chosen, renames)
    commit = infos[0].commit_hash if infos else revision
    sizes = {f: int(listing[f].file_size or 0) for f in chosen}
    meter.total = sum(sizes.values()) or entry.size_bytes
    have = sum((stage / f).stat().st_size for f in chosen if (stage / f).is_file())
    check_disk_space(catalog.root, (meter.total or 0) - have, f"'{entry.name}'")
    stage.mkdir(parents=True, exist_ok=True)
    done, hashes = 0, {}
    bar = _bar_class(meter)
    for f in chosen:
        meter.file, meter.done = f, done
        meter.check()
        try:
            hf_hub_download(repo, f, revision=commit, local_dir=str(stage), tqdm_class=bar,
                            cache_dir=str(hf_cache) if hf_cache else None)
        except DownloadCancelled:
            raise
        except Exception as exc:
            raise _hub_error(entry, repo, exc) from None
        done += sizes[f]
        meter.done = done
        digest = _verify_lfs(stage, f)
        if digest:
            hashes[f] = digest
    return _finish(catalog, entry, dest, stage, chosen, renames, f"hub:{repo}@{commit}", meter, hashes)


def _verify_lfs(stage: Path, f: str) -> str | None:
    meta = stage / ".cache" / "huggingface" / "download" / (f + ".metadata")
    try:
        lines = meta.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    etag = lines[1].strip().strip('"') if len(lines) > 1 else ""
    if _SHA256.match(etag):
        if sha256_file(stage / f) != etag:
            (stage / f).unlink(missing_ok=True)
            meta.unlink(missing_ok=True)
            raise ChecksumMismatch(f"{f} does not match the hub's checksum; it was deleted and nothing was installed")
        return etag
    return None


def _hub_error(entry: ModelEntry, repo: str, exc: Exception) -> UserError:
    kind = exc.__class__.__name__
    if "Gated" in kind or "401" in str(exc) or "403" in str(exc):
        why = "the repository needs a Hugging Face login and accepted terms"
    elif "RepositoryNotFound" in kind or "RevisionNotFound" in kind or "404" in str(exc):
        why = "the repository or revision was not found"
    elif "Offline" in kind or "LocalEntryNotFound" in kind:
        why = "the hub cannot be reached (offline)"
    else:
        why = f"{kind}: {exc}"
    return UserError(f"download of '{entry.name}' from {repo} failed: {why}. Run the download again to resume it, "
                     f"or import a file you have with `python main.py models import FILE`.")


def _finish(catalog: Catalog, entry: ModelEntry, dest: Path, stage: Path, chosen: list[str], renames: dict,
            source: str, meter: Meter, hashes: dict[str, str] | None = None) -> Path:
    meter.emit(message="checking and installing")
    hashes = dict(hashes or {})
    for f in chosen:  # the catalog's own checksums first: the hub's are only as good as the hub
        want = entry.pins.get(f)
        if want and (hashes.get(f) or sha256_file(stage / f)) != want:
            shutil.rmtree(stage, ignore_errors=True)
            raise ChecksumMismatch(f"'{entry.name}': {f} does not match the checksum the catalog pins; it was "
                                   f"deleted and nothing was installed")
    files: dict[str, str | None] = {}
    for f in chosen:
        name = local_name(f, renames)
        if name != f:
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(stage / f, stage / name)
        files[name] = (hashes or {}).get(f)
    shutil.rmtree(stage / ".cache", ignore_errors=True)
    ship_configs(entry, stage)
    manifest = {}
    for name in files:
        p = stage / name
        manifest[name] = {"size": p.stat().st_size, "sha256": files.get(name) or sha256_file(p)}
    single = entry.path.lower().endswith(FILE_SUFFIXES)
    if single and len(files) != 1:
        raise UserError(f"'{entry.name}': a single-file entry matched {len(files)} repository files")
    pinned = str(entry.info.get("sha256") or "").lower()
    if single and pinned and next(iter(manifest.values()))["sha256"] != pinned:
        shutil.rmtree(stage, ignore_errors=True)
        raise UserError(f"'{entry.name}': the downloaded file does not match the catalog's pinned SHA-256; "
                        f"nothing was installed")
    src = stage / next(iter(files)) if single else stage
    if not is_inside(catalog.root, stage):
        raise UserError(f"'{entry.name}': staging folder outside the models folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():  # an incomplete earlier install: replace it
        old = dest.with_name(dest.name + ".old")
        os.replace(dest, old)
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)
    os.replace(src, dest)
    if single:
        shutil.rmtree(stage, ignore_errors=True)
    key = "." if single else None
    catalog.write_manifest(entry.name, {
        "source": source, "installed": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "files": {key: next(iter(manifest.values()))} if single else manifest,
        "checksum_from": "catalog" if entry.pin == "pinned" else "hub", "pin": entry.pin,
    })
    meter.done = sum(v["size"] for v in manifest.values())
    meter.emit()
    return dest
