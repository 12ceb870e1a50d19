"""What a batch is made of: a folder of photos, or a job file (CSV or TOML) of per-photo rows.

CSV: a header row with any of `photo,task,mask,style,room,prompt,seed,variations` (`photo`
required); empty cells take the defaults. TOML: the same keys in `[[job]]` tables, shared
values in `[defaults]`. Relative paths are relative to the job file. Every problem is a
UserError that names the file, the row and the key.
"""

from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from app.errors import UserError
from app.imaging.io import PHOTO_SUFFIXES, photos_in

TASKS = ("stage", "defurnish", "defurnish+stage")
KEYS = ("photo", "task", "mask", "style", "room", "prompt", "seed", "variations")
AUTO_MASKS = ("auto:furniture", "auto:floor")
MAX_VARIATIONS = 16


@dataclass
class JobRow:
    """One photo's line in the batch: only the values it sets itself (None = take the default)."""

    photo: Path
    where: str  # "jobs.csv row 4", for messages
    values: dict = field(default_factory=dict)  # task, mask, style, room, prompt, seed, variations


@dataclass
class JobSource:
    kind: str  # "folder", "csv" or "toml"
    path: Path
    rows: list[JobRow]
    defaults: dict = field(default_factory=dict)  # the TOML [defaults]


def read_source(path: str | Path) -> JobSource:
    """FOLDER | JOBS.toml | JOBS.csv -> rows (UserError for anything unusable)."""
    p = Path(path).expanduser()
    if p.is_dir():
        return _folder(p)
    if not p.exists():
        raise UserError(f"{p}: no such folder or job file")
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return _csv(p)
    if suffix == ".toml":
        return _toml(p)
    raise UserError(f"{p}: give a folder of photos, a .csv or a .toml job file")


def photos_source(paths: list[str | Path]) -> JobSource:
    """Photos picked one by one (the window's "Add photos"): a folder-like source without the folder."""
    photos = list(dict.fromkeys(Path(p).expanduser().resolve() for p in paths))
    if not photos:
        raise UserError("no photos chosen")
    common = Path(*Path(photos[0]).parts[:1]) if len({p.parent for p in photos}) > 1 else photos[0].parent
    return JobSource("photos", common, [JobRow(p, p.name) for p in photos])


def _folder(folder: Path) -> JobSource:
    photos = photos_in(folder)
    if not photos:
        raise UserError(f"{folder}: no photos in this folder ({', '.join(sorted(PHOTO_SUFFIXES))})")
    return JobSource("folder", folder.resolve(), [JobRow(p.resolve(), p.name) for p in photos])


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # Excel writes a byte-order mark
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read it ({exc.strerror or exc})") from None


def _csv(path: Path) -> JobSource:
    text = _text(path)
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise UserError(f"{path}: empty job file (the first line names the columns: {','.join(KEYS)})")
    try:  # spreadsheets in many locales save with ';'
        dialect = csv.Sniffer().sniff(lines[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(text.splitlines(), dialect=dialect)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    unknown = [h for h in header if h not in KEYS]
    if unknown:
        raise UserError(f"{path}: unknown column(s) {', '.join(map(repr, unknown))} (columns: {','.join(KEYS)})")
    if "photo" not in header:
        raise UserError(f"{path}: no 'photo' column (columns: {','.join(KEYS)})")
    reader.fieldnames = header
    rows = []
    for number, record in enumerate(reader, start=2):
        if None in record:
            raise UserError(f"{path} row {number}: more cells than columns")
        cells = {k: (v or "").strip() for k, v in record.items()}
        if not any(cells.values()):
            continue  # blank line
        where = f"{path.name} row {number}"
        rows.append(_row(path, where, cells))
    if not rows:
        raise UserError(f"{path}: no jobs in the file")
    return JobSource("csv", path.resolve(), rows)


def _toml(path: Path) -> JobSource:
    try:
        data = tomllib.loads(_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML ({exc})") from None
    extra = [k for k in data if k not in ("job", "defaults")]
    if extra:
        raise UserError(f"{path}: unknown table(s) {', '.join(map(repr, extra))} (use [defaults] and [[job]])")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise UserError(f"{path}: [defaults] must be a table")
    _check_keys(defaults, f"{path.name} [defaults]", allow_photo=False)
    jobs = data.get("job", [])
    if not isinstance(jobs, list) or not jobs:
        raise UserError(f"{path}: no [[job]] tables")
    rows = []
    for i, job in enumerate(jobs, start=1):
        where = f"{path.name} [[job]] {i}"
        if not isinstance(job, dict):
            raise UserError(f"{where}: must be a table")
        _check_keys(job, where, allow_photo=True)
        rows.append(_row(path, where, job))
    clean_defaults = _values(path, f"{path.name} [defaults]", defaults)
    return JobSource("toml", path.resolve(), rows, clean_defaults)


def _check_keys(table: dict, where: str, allow_photo: bool) -> None:
    allowed = KEYS if allow_photo else KEYS[1:]
    unknown = [k for k in table if k not in allowed]
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))} (keys: {', '.join(allowed)})")


def _row(job_file: Path, where: str, cells: dict) -> JobRow:
    photo = cells.get("photo")
    if photo in (None, ""):
        raise UserError(f"{where}: no photo")
    if not isinstance(photo, str):
        raise UserError(f"{where}: photo must be a file name, not {photo!r}")
    return JobRow(_relative_to(job_file, photo), where, _values(job_file, where, cells))


def _relative_to(job_file: Path, name: str) -> Path:
    p = Path(name).expanduser()
    return (p if p.is_absolute() else job_file.parent / p).resolve()


def _values(job_file: Path, where: str, cells: dict) -> dict:
    """The row's own settings, checked and typed; empty cells are left out."""
    out = {}
    for key in KEYS[1:]:
        value = cells.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        out[key] = check_value(key, value, where, job_file)
    return out


def check_value(key: str, value, where: str, job_file: Path | None = None):
    """One setting, typed and range-checked; `where` names the file/row or option in the message."""
    if key in ("seed", "variations"):
        number = _integer(value, f"{where}: {key}")
        if key == "seed" and not 0 <= number < 2**32:
            raise UserError(f"{where}: seed must be between 0 and {2**32 - 1} (got {number})")
        if key == "variations" and not 1 <= number <= MAX_VARIATIONS:
            raise UserError(f"{where}: variations must be between 1 and {MAX_VARIATIONS} (got {number})")
        return number
    if not isinstance(value, str):
        raise UserError(f"{where}: {key} must be text, not {value!r}")
    value = value.strip()
    if key == "task":
        if value not in TASKS:
            raise UserError(f"{where}: unknown task '{value}' (choose {', '.join(TASKS)})")
    elif key == "mask":
        if value.lower().startswith("auto:"):
            if value.lower() not in AUTO_MASKS:
                raise UserError(f"{where}: unknown automatic mask '{value}' (choose {', '.join(AUTO_MASKS)})")
            return value.lower()
        return str(_relative_to(job_file, value)) if job_file is not None else str(Path(value).expanduser().resolve())
    return value


def _integer(value, what: str) -> int:
    if isinstance(value, bool):
        raise UserError(f"{what} must be a whole number, not {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise UserError(f"{what} must be a whole number, not {value!r}") from None
