"""A training dataset on disk: PNG files and a JSON-lines manifest that says what each one is.

    DATASET_DIR/manifest.jsonl   one sample per line (below)
    DATASET_DIR/dataset.json     counts, skipped photos, the options it was built with
    DATASET_DIR/images/*.png     targets: the empty room (de-furnishing) or the staged room (staging)
    DATASET_DIR/masks/*.png      white = the region the model repaints
    DATASET_DIR/inputs/*.png     the photo the model is given, where it differs from the target

A sample: {"id", "image", "mask", "input" (or null), "split" (train / val / test),
"kind" (furniture, shape, paired, pseudo), "source", "mask_source", "sha256": {file: digest}}.
Paths are relative to the dataset folder, so a dataset can be moved or shared as it is;
the manifest's own hash names the dataset in the LoRA's metadata.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.errors import UserError

MANIFEST = "manifest.jsonl"
SUMMARY = "dataset.json"
SPLITS = ("train", "val", "test")
KINDS = ("furniture", "shape", "paired", "pseudo")


@dataclass
class Sample:
    id: str
    image: str
    mask: str
    split: str
    kind: str
    source: str
    mask_source: str = ""
    input: str | None = None
    sha256: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def write_manifest(folder: Path, samples: list[Sample]) -> Path:
    path = Path(folder) / MANIFEST
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for s in samples:
            f.write(s.to_json() + "\n")
    return path


def manifest_hash(folder: Path) -> str:
    return sha256_file(Path(folder) / MANIFEST)


def read_manifest(folder: Path | str, check_files: bool = True) -> list[Sample]:
    """The samples of a dataset folder; UserError naming the line and the problem when it is not one."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not folder.is_dir():
        raise UserError(f"{folder}: not a dataset folder (build one with `python main.py dataset ...`)")
    if not path.is_file():
        raise UserError(f"{folder}: no {MANIFEST} in it (build a dataset with `python main.py dataset ...`)")
    samples = []
    root = folder.resolve()
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                sample = Sample(**{k: raw[k] for k in raw if k in Sample.__dataclass_fields__})
            except (ValueError, TypeError) as exc:
                raise UserError(f"{path}, line {number}: not a sample ({exc})") from None
            if sample.split not in SPLITS or sample.kind not in KINDS:
                raise UserError(f"{path}, line {number}: unknown split {sample.split!r} or kind {sample.kind!r}")
            for rel in filter(None, (sample.image, sample.mask, sample.input)):
                target = (folder / rel).resolve()
                if root not in target.parents:
                    raise UserError(f"{path}, line {number}: {rel} lies outside the dataset folder")
                if check_files and not target.is_file():
                    raise UserError(f"{path}, line {number}: {rel} is missing")
            samples.append(sample)
    if not samples:
        raise UserError(f"{path}: the dataset has no samples")
    return samples
