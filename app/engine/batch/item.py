"""One batch item, start to finish, on an engine: the same code runs locally and in a Ray actor.

read the photo -> its mask (a file, an automatic mask, or the task's default) -> the engine
job(s) -> the disclosure stamp -> full-resolution outputs with EXIF/ICC and a request sidecar
-> before/after thumbnails. A problem with this item becomes a failed record with its reason
and message, never an exception: the batch goes on.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from app import __version__
from app.engine.batch.plan import BatchItem, BatchOptions
from app.engine.events import Progress
from app.engine.requests import AutoMaskRequest, DefurnishRequest, StageRequest, photo_fields
from app.errors import JobCancelled, UserError
from app.imaging import disclosure
from app.imaging.io import PhotoError, read_mask, read_photo, replace_file, write_photo

log = logging.getLogger(__name__)

THUMB_SIDE = 480  # px, long side: sharp on a laptop screen, ~40 kB each
REPORT_DIR = "report"
# Reasons that say nothing about the photo itself: worth another try (bounded). "exists": a file
# the batch did not make was in the way, and may have been moved since. "write-failed": the output
# folder refused a write (a full disk, a lost share), which the user can put right before a rerun.
TRANSIENT = ("error", "worker-died", "interrupted", "exists", "write-failed")

ProgressFn = Callable[[int, int, str], None]


class NothingFound(UserError):
    """An automatic mask came back empty: there is nothing to remove or nothing to stage on."""


class _Failed(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def sidecar_claim(output: Path, key: str | None = None) -> str | None:
    """The batch item id recorded in `output`'s sidecar (None when absent or, with `key`, another request)."""
    try:
        data = json.loads(Path(str(output) + ".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    batch = data.get("batch") if isinstance(data, dict) else None
    if not isinstance(batch, dict):
        return None
    if key is not None and batch.get("request_key") != key:
        return None
    return batch.get("item")


class ItemRunner:
    """Runs items on one engine; holds no per-item state, so one runner serves many threads."""

    def __init__(self, engine, options: BatchOptions, out_dir: Path, max_pixels: int | None = None):
        self.engine = engine
        self.options = options
        self.out_dir = Path(out_dir)
        self.max_pixels = max_pixels

    def run(self, item: BatchItem, progress: ProgressFn | None = None,
            cancel: threading.Event | None = None) -> dict:
        """The item's record for the manifest (status "done" or "failed"). Raises JobCancelled only."""
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        record = {"id": item.id, "worker": worker_name(), "started": time.time()}
        try:
            self._check_targets(item)
            photo = self._read(item, timings)
            record["size"] = list(photo.size)
            record.update(self._process(item, photo, timings, progress, cancel))
            record["status"], record["reason"], record["message"] = "done", None, ""
        except JobCancelled:
            raise
        except _Failed as exc:
            record.update(status="failed", reason=exc.reason, message=str(exc))
        except NothingFound as exc:
            record.update(status="failed", reason="nothing-found", message=str(exc))
        except UserError as exc:
            record.update(status="failed", reason="rejected", message=str(exc))
        except Exception as exc:  # a bug or a crash in the engine: recorded, retried a bounded number of times
            log.exception("batch item %s failed", item.id)
            record.update(status="failed", reason="error", message=f"{exc.__class__.__name__}: {exc}")
        timings["total_s"] = time.perf_counter() - t0
        model = timings.get("diffusion_s", 0.0) + timings.get("guides_s", 0.0) + timings.get("automask_s", 0.0)
        timings["outside_model_s"] = max(0.0, timings["total_s"] - model)
        record["timings"] = {k: round(v, 4) for k, v in timings.items()}
        record["ended"] = time.time()
        return record

    # ---- steps -----------------------------------------------------------------------

    def _check_targets(self, item: BatchItem) -> None:
        """Never write over a file this batch did not make (the user's own, or another batch's)."""
        for name in [*item.outputs, *([item.empty_output] if item.empty_output else [])]:
            target = self.out_dir / name
            if target.exists() and name not in item.owned and sidecar_claim(target) != item.id:
                raise _Failed("exists", f"{target}: already exists and was not made by this batch; "
                                          "move it away or choose another output folder")

    def _read(self, item: BatchItem, timings: dict):
        t = time.perf_counter()
        try:
            photo = read_photo(item.photo_path, max_pixels=self.max_pixels)
        except PhotoError as exc:
            raise _Failed("bad-photo", str(exc)) from None
        timings["read_s"] = time.perf_counter() - t
        return photo

    def _mask(self, item: BatchItem, photo, default: str | None, timings: dict, progress, cancel):
        """(mask or None, whether it came with its margin ring)."""
        spec = item.mask or default
        if spec is None:
            return None, False
        t = time.perf_counter()
        if spec.startswith("auto:"):
            target = spec.split(":", 1)[1]
            request = AutoMaskRequest(**photo_fields(photo, self.options), target=target, margin_px=self.options.margin)
            result = self._job(request, progress, cancel)
            timings["automask_s"] = time.perf_counter() - t
            if not result.mask.any():
                raise NothingFound(result.message or f"no {target} was found")
            return result.mask, True
        try:
            mask = read_mask(Path(spec), photo.size)
        except PhotoError as exc:
            raise _Failed("bad-mask", str(exc)) from None
        timings["mask_s"] = time.perf_counter() - t
        if not mask.any():
            raise _Failed("bad-mask", f"{spec}: the mask is empty (white = edit)")
        return mask, False

    def _fields(self, item: BatchItem, photo, prompt: str, variations: int, pixels: np.ndarray | None = None) -> dict:
        """The request fields `stage` / `defurnish` on the command line would use for the same options
        (`pixels`: other pixels of the same photo, the emptied room)."""
        o = self.options
        fields = dict(photo_fields(photo, o), prompt=prompt, negative=o.negative, steps=o.steps, guidance=o.guidance,
                      seed=item.seed, variations=variations)
        if pixels is not None:
            fields["photo"] = pixels
        if o.strength is not None:
            fields["strength"] = o.strength
        return fields

    def _process(self, item: BatchItem, photo, timings: dict, progress, cancel) -> dict:
        t = time.perf_counter()
        written: dict = {"thumb": self._thumb(photo.pixels, f"{item.id}-before")}
        timings["thumbs_s"] = time.perf_counter() - t
        if item.task in ("defurnish", "defurnish+stage"):
            mask, ringed = self._mask(item, photo, "auto:furniture", timings, progress, cancel)
            staged_after = item.task == "defurnish+stage"
            prompt = "" if staged_after else item.prompt
            request = DefurnishRequest(**self._fields(item, photo, prompt, 1 if staged_after else item.variations),
                                          mask=mask, margin_px=0 if ringed else self.options.margin,
                                          prefill=self.options.prefill)
            result = self._job(request, progress, cancel)
            _add_timings(timings, result.timings)
            written["device"] = result.timings.get("device")
            names = [item.empty_output] if staged_after else item.outputs
            written["empty" if staged_after else "outputs"] = self._write(item, photo, request, result, names, timings)
            if not staged_after:
                return written
            empty = result.images[0]
            request = StageRequest(**self._fields(item, photo, item.prompt, item.variations, pixels=empty), mask=None,
                                      style=item.style, room=item.room)
        else:
            mask, _ = self._mask(item, photo, None, timings, progress, cancel)
            request = StageRequest(**self._fields(item, photo, item.prompt, item.variations),
                                      mask=mask, style=item.style, room=item.room)
        result = self._job(request, progress, cancel)
        _add_timings(timings, result.timings)
        written["device"] = result.timings.get("device")
        written["outputs"] = self._write(item, photo, request, result, item.outputs, timings)
        return written

    def _job(self, request, progress: ProgressFn | None, cancel: threading.Event | None):
        """Run one request on the engine, passing progress on and honouring the cancel flag."""

        def sink(event):
            if progress is not None and isinstance(event, Progress):
                progress(event.step, event.total, event.message)

        job = self.engine.submit(request, sink)
        while True:
            if cancel is not None and cancel.is_set():
                job.cancel()
            try:
                return job.future.result(timeout=0.2)
            except FutureTimeout:
                continue

    def _write(self, item: BatchItem, photo, request, result, names: list[str], timings: dict) -> list[dict]:
        t = time.perf_counter()
        record = request.to_dict()
        protect = [photo.path, *([Path(item.mask)] if item.mask and not item.mask.startswith("auto:") else [])]
        text = self.options.disclose
        batch = {"item": item.id, "request_key": item.key, "manifest": "manifest.json",
                 "original": {"path": item.photo, "sha256": item.photo_sha256}, "disclosure": text}
        out = []
        for name, image, seed in zip(names, result.images, result.seeds, strict=True):
            if text:
                image = disclosure.stamp(image, text)
            meta = {"app": f"RoomStager {__version__}", "request": {**record, "seed": seed}, "seed": seed,
                    "batch": batch}
            # the sidecar goes first (write_photo writes it again after the image): an image on disk
            # always has the sidecar that says it is this batch's, even after a kill between the two
            sidecar = json.dumps(meta, default=str).encode("utf-8")
            target = self.out_dir / name
            claim = Path(f"{target}.json")
            had_claim = claim.exists()
            try:
                replace_file(claim, lambda f, data=sidecar: f.write(data))
                write_photo(target, image, source=photo, quality=self.options.quality, metadata=meta,
                            protect=protect)
                thumb = self._thumb(image, Path(name).stem)
            except PhotoError as exc:
                if not had_claim and not target.exists():  # a claim on an image that was never written
                    claim.unlink(missing_ok=True)
                raise _Failed("write-failed", str(exc)) from None
            out.append({"file": name, "seed": int(seed), "thumb": thumb})
        timings["write_s"] = timings.get("write_s", 0.0) + time.perf_counter() - t
        return out

    def _thumb(self, pixels: np.ndarray, stem: str) -> str:
        """A small JPEG under OUT_DIR/report/ for the report and the window's list; returns its relative path."""
        h, w = pixels.shape[:2]
        scale = min(1.0, THUMB_SIDE / max(h, w))
        small = cv2.resize(pixels, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        rel = f"{REPORT_DIR}/{stem}.jpg"
        image = Image.fromarray(small)
        replace_file(self.out_dir / rel, lambda f: image.save(f, format="JPEG", quality=82))
        return rel


def warm_up(engine, options: BatchOptions) -> None:
    """Load the models a batch needs with one tiny job, before the first photo. A problem here
    (a missing model, say) is left for the items, where it is reported per photo."""
    photo = np.full((64, 64, 3), 128, np.uint8)
    mask = np.zeros((64, 64), bool)
    mask[16:48, 16:48] = True
    try:
        engine.run(StageRequest(photo=photo, mask=mask, models=options.models, model_set=options.model_set,
                                   device=options.device, steps=1, seed=0))
    except Exception as exc:  # noqa: BLE001 - reported by the first item instead
        log.info("warm-up job failed: %s", exc)


def _add_timings(total: dict, more: dict) -> None:
    for k, v in (more or {}).items():
        if isinstance(v, (int, float)) and k.endswith("_s") and k != "total_s":
            total[k] = total.get(k, 0.0) + float(v)
