"""Writing a set of named files (a project) into one zip, atomically, encoding its images in parallel.

A file's value says how it becomes bytes:
  bytes              as they are
  Path               the file's bytes (a copy of the original photo)
  ndarray            an RGB image, as a fast lossless PNG (png.encode)
  ("mask", ndarray)  a mask, as a grey PNG (png.encode_mask)
The encoders release the interpreter, so several images encode at once on several cores
while the window stays responsive.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from app.errors import UserError

from . import _files, png

_POOL = ThreadPoolExecutor(max_workers=max(1, min(4, (os.cpu_count() or 2) - 1)), thread_name_prefix="roomstager-encode")


def encode(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, Path):
        return value.read_bytes()
    if isinstance(value, tuple) and value[0] == "mask":
        return png.encode_mask(value[1])
    return png.encode(value)


def write_zip(files: Mapping[str, Any], path: Path, last: Mapping[str, bytes] = ()) -> Path:
    """Write `files` (then `last`, e.g. the index that names them) into a zip at `path`, atomically.
    Stored, not deflated: the PNGs inside are compressed already."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
            for name, data in zip(files, _POOL.map(encode, files.values()), strict=True):
                z.writestr(name, data)
            for name, data in dict(last).items():
                z.writestr(name, data)
        os.chmod(tmp, _files.new_file_mode(path))  # mkstemp makes 0600 files; a project is an ordinary file
        os.replace(tmp, path)
    except OSError as exc:
        raise UserError(f"{path}: cannot save it ({exc.strerror or exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path

