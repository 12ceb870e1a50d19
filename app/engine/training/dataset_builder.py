"""`dataset`: photos -> a training dataset (manifest.py describes the folder).

De-furnishing: every empty-room photo is a target; furniture masks come from a folder
of masks (any size, white = object) or are cut from furnished photos with the app's
automatic masks (detector + SAM, semantic segmentation), each with its margin ring.
Optionally the furnished photo's real pixels in the ring are pasted onto the empty
room (the study's "margin mask" experiment: the model sees shadows and fragments
just outside its mask and learns not to grow furniture from them). Training photos
also get synthetic shape masks for the warm-up share of a run.

Staging: the staged photos are the targets, their furniture the masks; where an
empty photo of the same room exists (same name, or the staged name starting with
it: room1.jpg <- room1_staged.jpg) it is the model's input ("paired"), else the staged
photo itself is ("pseudo", the staging study's pseudo-staged data).

Photos are split into train / val / test by room, so no room is in two splits.
Unreadable photos are listed and skipped; the folder is written beside its final
place and moved there at the end, so a half-built dataset never looks like one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from app import __version__
from app.engine.requests import AutoMaskRequest
from app.engine.training import crops
from app.engine.training.manifest import SUMMARY, Sample, manifest_hash, sha256_file, write_manifest
from app.errors import UserError
from app.imaging import masks
from app.imaging.io import PhotoError, photos_in, read_photo, write_mask, write_photo

MIN_MASK_FRACTION = 0.002  # a mask that keeps less than this of the square after cropping is not used


@dataclass
class DatasetOptions:
    empty_dir: str
    output: str
    furnished: str | None = None  # furnished (de-furnishing) or staged (staging) photos
    masks_dir: str | None = None
    task: str = "defurnish"
    margin: int | None = None  # ring at the training size; None: 20 px at 1024, scaled
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    size: int = 512
    per_photo: int = 1  # furniture masks per empty photo (de-furnishing)
    shapes: bool = True  # synthetic shape masks for the warm-up (de-furnishing training photos)
    margin_artifacts: bool = False
    models: str = "auto"
    model_set: str | None = None
    device: str | None = None

    def validate(self) -> DatasetOptions:
        if self.task not in ("defurnish", "stage"):
            raise UserError(f"--task must be defurnish or stage (got {self.task!r})")
        if (self.furnished is None) == (self.masks_dir is None) and self.task == "defurnish":
            raise UserError("give either --furnished FURNISHED_DIR or --masks MASK_DIR (one of them)")
        if self.task == "stage" and self.furnished is None:
            raise UserError("--task stage needs --furnished STAGED_DIR (the staged photos)")
        if not (64 <= self.size <= 2048 and self.size % 8 == 0):
            raise UserError(f"--size must be a multiple of 8 from 64 to 2048 (got {self.size})")
        if len(self.split) != 3 or any(not np.isfinite(v) or v < 0 for v in self.split) or sum(self.split) <= 0:
            raise UserError("--split needs three fractions >= 0 for train, val and test, e.g. 0.8,0.1,0.1")
        if self.split[0] <= 0:
            raise UserError("--split: the training share must be above 0")
        if self.margin is not None and not 0 <= self.margin <= self.size // 4:
            raise UserError(f"--margin must be from 0 to {self.size // 4} px at --size {self.size}")
        if not 1 <= self.per_photo <= 64:
            raise UserError("--per-photo must be from 1 to 64")
        if self.margin_artifacts and (self.furnished is None or self.task != "defurnish"):
            raise UserError("--margin-artifacts needs --furnished photos (their real pixels) and --task defurnish")
        for flag, folder in (("EMPTY_DIR", self.empty_dir), ("--furnished", self.furnished),
                             ("--masks", self.masks_dir)):
            if folder is not None and not Path(folder).is_dir():
                raise UserError(f"{folder}: not a folder ({flag})")
        out = Path(self.output)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise UserError(f"{out}: exists and is not empty; choose a new folder for the dataset")
        return self

    def margin_px(self) -> int:
        return self.margin if self.margin is not None else masks.scale_px(20, (self.size, self.size))


def photos_of(folder: str | Path | None) -> list[Path]:
    return [] if folder is None else photos_in(folder)


def _reason(path: Path, exc: Exception) -> str:
    return str(exc).removeprefix(f"{path}: ")


class _Writer:
    """Writes the PNGs and collects samples, into a staging folder beside the destination."""

    def __init__(self, staging: Path):
        self.root = staging
        self.samples: list[Sample] = []
        self._hashes: dict[str, str] = {}
        for sub in ("images", "masks", "inputs"):
            (staging / sub).mkdir(parents=True)

    def source_hash(self, path: Path) -> str:
        key = str(path)
        if key not in self._hashes:
            self._hashes[key] = sha256_file(path)
        return self._hashes[key]

    def add(self, *, image, mask, split, kind, source: Path, mask_source: str, input_image=None) -> None:
        sid = f"{len(self.samples) + 1:06d}"
        rels = {"image": f"images/{sid}.png", "mask": f"masks/{sid}.png"}
        write_photo(self.root / rels["image"], image, sidecar=False)
        write_mask(self.root / rels["mask"], mask)
        if input_image is not None:
            rels["input"] = f"inputs/{sid}.png"
            write_photo(self.root / rels["input"], input_image, sidecar=False)
        digests = {k: sha256_file(self.root / v) for k, v in rels.items()}
        digests["source"] = self.source_hash(source)
        self.samples.append(Sample(id=sid, image=rels["image"], mask=rels["mask"], input=rels.get("input"),
                                   split=split, kind=kind, source=str(source), mask_source=mask_source,
                                   sha256=digests))


def assign_splits(groups: list[str], fractions, seed: int) -> dict[str, str]:
    """Room -> split, seeded. A split with a share above 0 gets at least one room as long as
    training keeps one (validation first, then test)."""
    order = list(groups)
    np.random.default_rng(seed).shuffle(order)
    n = len(order)
    total = float(sum(fractions))
    counts = [0, int(round(n * fractions[1] / total)), int(round(n * fractions[2] / total))]
    for i in (1, 2):
        if fractions[i] > 0 and counts[i] == 0:
            counts[i] = 1
    while counts[1] + counts[2] > max(0, n - 1):  # training keeps at least one room
        counts[2 if counts[2] > 0 else 1] -= 1
    counts[0] = n - counts[1] - counts[2]
    out, start = {}, 0
    for split, count in zip(("train", "val", "test"), counts, strict=True):
        for g in order[start:start + count]:
            out[g] = split
        start += count
    return out


def build_dataset(opts: DatasetOptions, engine=None, progress=None) -> dict:
    """Build the dataset; returns dataset.json's content (counts, skipped photos, paths)."""
    opts.validate()
    out = Path(opts.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-building-", dir=out.parent))
    skipped: list[dict] = []
    try:
        writer = _Writer(staging)
        if opts.task == "defurnish":
            _build_defurnish(opts, engine, writer, skipped, progress)
        else:
            _build_stage(opts, engine, writer, skipped, progress)
        if not writer.samples:
            raise UserError(f"no usable photo in {opts.empty_dir}"
                            + (f" / {opts.furnished}" if opts.furnished else "")
                            + ": nothing to build a dataset from (see the skipped photos above)"
                            + "".join(f"\n  skipped {s['path']}: {s['reason']}" for s in skipped[:20]))
        write_manifest(staging, writer.samples)
        summary = _summary(opts, writer.samples, skipped, staging)
        (staging / SUMMARY).write_text(json.dumps(summary, indent=2), encoding="utf-8")
        if out.exists():
            out.rmdir()  # validated empty
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    summary["manifest"] = str(out / "manifest.jsonl")
    return summary


def _summary(opts: DatasetOptions, samples: list[Sample], skipped: list[dict], folder: Path) -> dict:
    counts = {split: sum(1 for s in samples if s.split == split) for split in ("train", "val", "test")}
    kinds = {k: sum(1 for s in samples if s.kind == k) for k in sorted({s.kind for s in samples})}
    options = asdict(opts)
    options["split"] = list(opts.split)
    return {"manifest": "manifest.jsonl", "manifest_sha256": manifest_hash(folder), **counts, "kinds": kinds,
            "skipped": skipped, "task": opts.task, "size": opts.size, "margin_px": opts.margin_px(),
            "options": options, "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "app": f"RoomStager {__version__}"}


# ---- de-furnishing ----------------------------------------------------------------------


def _build_defurnish(opts: DatasetOptions, engine, writer: _Writer, skipped: list[dict], progress) -> None:
    empties = photos_of(opts.empty_dir)
    if not empties:
        raise UserError(f"{opts.empty_dir}: no photos (jpg, png, tif, webp, heic) in it")
    size, margin = opts.size, opts.margin_px()
    pool = (_masks_from_folder(opts, skipped, progress) if opts.masks_dir
            else _masks_from_furnished(opts, engine, skipped, progress))
    if not pool:
        raise UserError("no usable furniture mask: "
                        + (f"{opts.masks_dir} has no readable mask with white objects" if opts.masks_dir else
                           f"no furniture was found in the photos of {opts.furnished}")
                        + "".join(f"\n  skipped {s['path']}: {s['reason']}" for s in skipped[:20]))
    rooms = []
    for path in empties:
        try:
            pixels = read_photo(path).pixels
        except PhotoError as exc:
            skipped.append({"path": str(path), "reason": _reason(path, exc)})
            continue
        rooms.append((path, crops.zoom(pixels, crops.centre_window(*pixels.shape[:2]), size)))
    splits = assign_splits([str(p) for p, _ in rooms], opts.split, opts.seed)
    rng = np.random.default_rng([opts.seed, 1])
    for index, (path, room) in enumerate(rooms):
        if progress:
            progress(index, len(rooms), f"writing {path.name}")
        split = splits[str(path)]
        for _ in range(opts.per_photo):
            tight, source, furnished = pool[int(rng.integers(len(pool)))]
            ring = masks.grow(tight, margin)
            if opts.margin_artifacts:
                given = crops.paste_margin(room, furnished, tight, ring)
                writer.add(image=room, mask=tight, split=split, kind="furniture", source=path,
                           mask_source=source, input_image=given)
            else:
                writer.add(image=room, mask=ring, split=split, kind="furniture", source=path, mask_source=source)
        if opts.shapes and split == "train":
            writer.add(image=room, mask=crops.shape_mask(size, rng), split=split, kind="shape", source=path,
                       mask_source="shape")


def _masks_from_folder(opts: DatasetOptions, skipped: list[dict], progress) -> list:
    files = photos_of(opts.masks_dir)
    pool = []
    for i, path in enumerate(files):
        if progress:
            progress(i, len(files), f"reading mask {path.name}")
        try:
            mask = crops.read_any_mask(path)
        except PhotoError as exc:
            skipped.append({"path": str(path), "reason": _reason(path, exc)})
            continue
        zoomed = crops.zoom_mask(mask, crops.mask_window(mask), opts.size)
        if zoomed.mean() < MIN_MASK_FRACTION:
            skipped.append({"path": str(path), "reason": "the mask is empty (white = object)"})
            continue
        pool.append((zoomed, str(path), None))
    return pool


def _masks_from_furnished(opts: DatasetOptions, engine, skipped: list[dict], progress) -> list:
    """(tight mask, source, furnished pixels) at the training size, from the app's automatic masks."""
    pool = []
    files = photos_of(opts.furnished)
    if not files:
        raise UserError(f"{opts.furnished}: no photos (jpg, png, tif, webp, heic) in it")
    for i, path in enumerate(files):
        if progress:
            progress(i, len(files), f"finding furniture in {path.name}")
        found = _furniture(opts, engine, path, skipped)
        if found is None:
            continue
        pixels, tight = found
        window = crops.mask_window(tight)
        z_tight = crops.zoom_mask(tight, window, opts.size)
        if z_tight.mean() < MIN_MASK_FRACTION:
            skipped.append({"path": str(path), "reason": "the furniture found lies outside the square crop"})
            continue
        pool.append((z_tight, str(path), crops.zoom(pixels, window, opts.size)))
    return pool


def _furniture(opts: DatasetOptions, engine, path: Path, skipped: list[dict]):
    """(pixels reduced for speed, tight furniture mask) of one photo, or None (listed as skipped)."""
    try:
        pixels = read_photo(path).pixels
    except PhotoError as exc:
        skipped.append({"path": str(path), "reason": _reason(path, exc)})
        return None
    work = max(1024, 2 * opts.size)  # the masks are used at the training size: no need for 24 MP
    h, w = pixels.shape[:2]
    if max(h, w) > work:
        s = work / max(h, w)
        pixels = cv2.resize(pixels, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    result = engine.run(AutoMaskRequest(photo=pixels, photo_path=str(path), models=opts.models,
                                           model_set=opts.model_set, device=opts.device, target="furniture",
                                           margin_px=0))
    tight = np.zeros(pixels.shape[:2], bool)
    for obj in result.objects:
        if obj.selected:
            tight |= obj.mask
    if not tight.any():
        skipped.append({"path": str(path), "reason": result.message or "no furniture found"})
        return None
    return pixels, tight


# ---- staging ----------------------------------------------------------------------------


def empty_match(staged: Path, empties: list[Path]) -> Path | None:
    """The empty photo of the same room: the same name, or the longest name the staged one starts
    with followed by a separator (room1 <- room1_staged, room1-2)."""
    best = None
    for e in empties:
        s, t = staged.stem.lower(), e.stem.lower()
        if s == t or (s.startswith(t) and s[len(t)] in "_- ."):
            if best is None or len(e.stem) > len(best.stem):
                best = e
    return best


def _build_stage(opts: DatasetOptions, engine, writer: _Writer, skipped: list[dict], progress) -> None:
    staged = photos_of(opts.furnished)
    if not staged:
        raise UserError(f"{opts.furnished}: no staged photos (jpg, png, tif, webp, heic) in it")
    empties = photos_of(opts.empty_dir)
    mask_files = {p.stem.lower(): p for p in photos_of(opts.masks_dir)}
    items = []
    for i, path in enumerate(staged):
        if progress:
            progress(i, len(staged), f"finding furniture in {path.name}")
        if mask_files:
            mpath = mask_files.get(path.stem.lower())
            if mpath is None:
                skipped.append({"path": str(path), "reason": f"no mask named {path.stem}.* in {opts.masks_dir}"})
                continue
            try:
                pixels, tight = read_photo(path).pixels, crops.read_any_mask(mpath)
            except PhotoError as exc:
                skipped.append({"path": str(path), "reason": _reason(path, exc)})
                continue
            if tight.shape != pixels.shape[:2]:
                tight = cv2.resize(tight.astype(np.float32), pixels.shape[1::-1], interpolation=cv2.INTER_AREA) >= 0.5
            source = str(mpath)
        else:
            found = _furniture(opts, engine, path, skipped)
            if found is None:
                continue
            pixels, tight = found
            source = "automatic"
        # only the training-size crops are kept: a shoot of 24 MP photos would not fit in memory whole
        window = crops.mask_window(tight)
        image = crops.zoom(pixels, window, opts.size)
        mask = masks.grow(crops.zoom_mask(tight, window, opts.size), opts.margin_px())
        items.append((path, pixels.shape[:2], window, image, mask, source, empty_match(path, empties)))
        del pixels, tight
    splits = assign_splits(sorted({str(item[-1] or item[0]) for item in items}), opts.split, opts.seed)
    for path, (h, w), window, image, mask, source, empty in items:
        group = str(empty or path)
        given = None
        if empty is not None:
            try:
                room = read_photo(empty).pixels
            except PhotoError as exc:
                skipped.append({"path": str(empty), "reason": _reason(empty, exc)})
                empty = None
            else:
                room = cv2.resize(room, (w, h), interpolation=cv2.INTER_AREA)
                given = crops.zoom(room, window, opts.size)
        writer.add(image=image, mask=mask, split=splits[group],
                   kind="paired" if given is not None else "pseudo", source=path, mask_source=source,
                   input_image=given)
