"""From job rows and options to the batch's items: settings merged, outputs named, inputs hashed.

Precedence for a photo's settings: its own row, then the command line, then the job file's
[defaults], then the built-in defaults. A photo without a seed gets the batch's seed (drawn
once and kept in the manifest), so one listing's rooms share a seed and a rerun repeats it.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from app.engine.batch.jobs import MAX_VARIATIONS, TASKS, JobSource, check_value
from app.engine.diffusion.prompts import staging_prompts
from app.engine.requests import DefurnishRequest
from app.errors import UserError

BUILTIN = {"task": "stage", "mask": None, "style": "modern", "room": "living_room", "prompt": "",
           "seed": None, "variations": 1}
FORMATS = {"jpg": ".jpg", "jpeg": ".jpg", "png": ".png", "tif": ".tif", "tiff": ".tif", "webp": ".webp"}
JPEG_SUFFIXES = {".jpg", ".jpeg", ".jfif"}


@dataclass
class BatchOptions:
    """The command line's (or the window's) settings. Row settings left None are not given."""

    task: str | None = None
    mask: str | None = None  # "auto:furniture" / "auto:floor" from --auto
    style: str | None = None
    room: str | None = None
    prompt: str | None = None
    seed: int | None = None
    variations: int | None = None
    # batch-wide: they shape every result
    models: str = "auto"
    model_set: str | None = None
    device: str | None = None  # where it runs; not part of the request key
    steps: int | None = 30  # None: the model set's preset
    guidance: float | None = 7.5  # None: the model set's preset
    strength: float | None = None  # None: each task's own default
    negative: str = ""
    margin: int | None = None  # de-furnishing ring around a mask file's objects
    prefill: str = "telea"
    quality: int = 95
    format: str | None = None  # None: the photo's format family
    disclose: str | None = None  # the notice stamped on every output, None = none

    def validate(self) -> None:
        """Ranges and choices, before anything runs (UserError names the option)."""
        for key in ("task", "mask", "seed", "variations"):
            value = getattr(self, key)
            if value is not None:
                setattr(self, key, check_value(key, value, f"--{key}"))
        # the sampling options are the requests' own fields: their checks, their messages
        extra = {"strength": self.strength} if self.strength is not None else {}
        DefurnishRequest(photo=np.zeros((8, 8, 3), np.uint8), models=self.models, model_set=self.model_set,
                         steps=self.steps, guidance=self.guidance, negative=self.negative, margin_px=self.margin,
                         prefill=self.prefill, **extra).check_fields()
        if not 1 <= self.quality <= 100:
            raise UserError(f"--quality must be between 1 and 100 (got {self.quality})")
        if self.format is not None and self.format.lower() not in FORMATS:
            raise UserError(f"--format must be one of {', '.join(FORMATS)} (got {self.format!r})")
        if self.disclose is not None and not self.disclose.strip():
            raise UserError("--disclose-text must not be empty")

    def result_settings(self) -> dict:
        """What changes the pixels of every item (the request key is built from it)."""
        keep = ("models", "model_set", "steps", "guidance", "strength", "negative", "margin", "prefill",
                "quality", "format", "disclose")
        return {k: getattr(self, k) for k in keep}


@dataclass
class BatchItem:
    id: str  # "<photo stem>-<task>": the outputs' base name, unique in a batch
    photo: str
    where: str
    task: str
    mask: str | None  # a mask file, "auto:furniture", "auto:floor", None = the task's default
    style: str
    room: str
    prompt: str
    seed: int
    variations: int
    ext: str
    outputs: list[str] = field(default_factory=list)  # file names in OUT_DIR
    empty_output: str | None = None  # defurnish+stage: the emptied room
    photo_sha256: str | None = None
    mask_sha256: str | None = None
    key: str = ""  # hash of everything that decides the outputs
    owned: list[str] = field(default_factory=list)  # files in OUT_DIR the manifest says an earlier run made

    def to_payload(self) -> dict:
        return asdict(self)

    @classmethod
    def from_payload(cls, data: dict) -> BatchItem:
        return cls(**data)

    @property
    def photo_path(self) -> Path:
        return Path(self.photo)


def output_ext(photo: Path, fmt: str | None) -> str:
    """The photo's format family (JPEG in, JPEG out; anything else, PNG) unless --format says."""
    if fmt:
        return FORMATS[fmt.lower()]
    return ".jpg" if photo.suffix.lower() in JPEG_SUFFIXES else ".png"


def output_names(stem: str, task: str, ext: str, variations: int) -> list[str]:
    base = f"{stem}-{task}"
    return [f"{base}{ext}"] if variations == 1 else [f"{base}-{n}{ext}" for n in range(1, variations + 1)]


def plan_items(source: JobSource, options: BatchOptions, batch_seed: int,
               stat_cache: dict | None = None) -> list[BatchItem]:
    """Every row as a BatchItem with its settings, outputs, input hashes and request key."""
    given = {k: getattr(options, k) for k in BUILTIN if getattr(options, k) is not None}
    items = []
    for row in source.rows:
        v = {**BUILTIN, **source.defaults, **given, **row.values}
        task = v["task"]
        if task not in TASKS:
            raise UserError(f"{row.where}: unknown task '{task}'")
        if task != "stage" and v["mask"] == "auto:floor":
            raise UserError(f"{row.where}: de-furnishing removes objects; auto:floor would repaint the floor "
                            "(use auto:furniture or a mask file)")
        if "stage" in task:
            try:  # unknown styles and rooms are usage errors, before anything runs
                staging_prompts(v["style"], v["room"])
            except UserError as exc:
                raise UserError(f"{row.where}: {exc}") from None
        variations = int(v["variations"])
        if not 1 <= variations <= MAX_VARIATIONS:
            raise UserError(f"{row.where}: variations must be between 1 and {MAX_VARIATIONS}")
        ext = output_ext(row.photo, options.format)
        stem = row.photo.stem
        item = BatchItem(
            id=f"{stem}-{task}", photo=str(row.photo), where=row.where, task=task, mask=v["mask"],
            style=v["style"], room=v["room"], prompt=v["prompt"],
            seed=int(v["seed"]) if v["seed"] is not None else int(batch_seed), variations=variations, ext=ext,
            outputs=output_names(stem, task, ext, variations),
            empty_output=f"{stem}-defurnish{ext}" if task == "defurnish+stage" else None,
        )
        items.append(item)
    _check_collisions(items)
    _hash_inputs(items, stat_cache if stat_cache is not None else {})
    settings = options.result_settings()
    for item in items:
        item.key = request_key(item, settings)
    return items


def _check_collisions(items: list[BatchItem]) -> None:
    """Two items writing one file is a usage error (case-insensitive: Windows and macOS folders)."""
    owner: dict[str, BatchItem] = {}
    for item in items:
        names = [item.id, *item.outputs, *([item.empty_output] if item.empty_output else [])]
        for name in dict.fromkeys(n.lower() for n in names):
            other = owner.get(name)
            if other is not None and other is not item:
                raise UserError(f"{other.where} and {item.where} would both write '{name}': give the photos "
                                "different names, or put both settings in one row as variations")
            owner[name] = item


def check_not_inputs(items: list[BatchItem], out_dir: Path) -> None:
    """No output may land on a photo or mask of the batch (exit 2 before anything runs)."""
    inputs = {Path(i.photo).resolve(): i for i in items}
    inputs.update({Path(i.mask).resolve(): i for i in items if i.mask and not i.mask.startswith("auto:")})
    for item in items:
        for name in [*item.outputs, *([item.empty_output] if item.empty_output else [])]:
            target = (out_dir / name).resolve()
            if target in inputs:
                raise UserError(f"{item.where}: its output {target} would replace an input of "
                                f"{inputs[target].where}; choose another output folder")


def request_key(item: BatchItem, settings: dict) -> str:
    fields = {k: getattr(item, k) for k in ("task", "mask", "mask_sha256", "style", "room", "prompt", "seed",
                                               "variations", "ext", "photo_sha256")}
    fields["mask"] = None if fields["mask"] and not fields["mask"].startswith("auto:") else fields["mask"]
    text = json.dumps({"item": fields, "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _hash_inputs(items: list[BatchItem], cache: dict) -> None:
    """sha256 of each photo and mask file; unchanged files (same size and mtime) reuse the cache."""
    paths = {Path(i.photo) for i in items} | {Path(i.mask) for i in items if i.mask and not i.mask.startswith("auto:")}
    with ThreadPoolExecutor(max_workers=4) as pool:  # hashlib lets go of the GIL
        digests = dict(zip(paths, pool.map(lambda p: file_sha256(p, cache), paths), strict=True))
    for item in items:
        item.photo_sha256 = digests[Path(item.photo)]
        if item.mask and not item.mask.startswith("auto:"):
            item.mask_sha256 = digests[Path(item.mask)]


def file_sha256(path: Path, cache: dict | None = None) -> str | None:
    """The file's sha256, None when it cannot be read (the item then fails with the reason)."""
    try:
        st = path.stat()
    except OSError:
        return None
    stamp = [st.st_size, st.st_mtime_ns]
    hit = (cache or {}).get(str(path))
    if hit and hit[:2] == stamp:
        return hit[2]
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError:
        return None
    if cache is not None:
        cache[str(path)] = [*stamp, h.hexdigest()]
    return h.hexdigest()
