"""Every environment variable and built-in default RoomStager reads, in one place.

Each setting is read when asked for (not at import), so tests and subprocesses can
set the environment first. Defaults that several layers share (the margin ring,
mask growth and feathering, the photo size limit) live here once.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from app.errors import UserError

APP_ROOT = Path(__file__).resolve().parents[1]
RESOURCES = APP_ROOT / "resources"

# ---- defaults shared by the engine, the commands and the window -------------------------

MARGIN_AT_1024 = 20  # px of ring around removed objects at a 1024 px long side (the research used ~20 px)
GROW_AT_1024 = 10  # px an edit mask grows before inpainting, at a 1024 px long side
FEATHER_AT_1024 = 10  # px of feathered blend at the mask edge, at a 1024 px long side
MAX_MARGIN_AT_1024 = 100  # the largest ring the window offers
DEFAULT_MAX_MEGAPIXELS = 120.0
DEFAULT_SAM_CACHE_MB = 2048.0  # about 500 photos with SAM 1, 125 with SAM 2


def _number(name: str, default: float) -> float:
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{name}={text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise UserError(f"{name}={text!r} must be a positive number")
    return value


def _path(name: str) -> Path | None:
    text = os.environ.get(name)
    return Path(text).expanduser() if text else None


# ---- environment ----------------------------------------------------------------------


def models_dir() -> Path:
    """The user's models folder: $ROOMSTAGER_MODELS, else models/ beside the app."""
    return _path("ROOMSTAGER_MODELS") or APP_ROOT / "models"


def cache_dir() -> Path:
    """Caches (SAM embeddings): $ROOMSTAGER_CACHE, else $XDG_CACHE_HOME/roomstager or ~/.cache/roomstager."""
    return _path("ROOMSTAGER_CACHE") or (_path("XDG_CACHE_HOME") or Path.home() / ".cache") / "roomstager"


def tiny_models_base() -> Path:
    """Where the tiny test models are written: $ROOMSTAGER_TINY_DIR, else the temp folder."""
    return _path("ROOMSTAGER_TINY_DIR") or Path(tempfile.gettempdir()) / "roomstager-tiny"


def data_dir() -> Path | None:
    """Autosaves and the window's own files: $ROOMSTAGER_DATA (None: the platform's app-data folder)."""
    return _path("ROOMSTAGER_DATA")


def max_pixels() -> int:
    """The photo size limit: 120 MP unless $ROOMSTAGER_MAX_MEGAPIXELS says otherwise."""
    return int(_number("ROOMSTAGER_MAX_MEGAPIXELS", DEFAULT_MAX_MEGAPIXELS) * 1_000_000)


def sam_cache_bytes() -> int:
    """Bytes the on-disk embeddings of one SAM model may take: $ROOMSTAGER_SAM_CACHE_MB (default 2 GB)."""
    try:
        return int(_number("ROOMSTAGER_SAM_CACHE_MB", DEFAULT_SAM_CACHE_MB) * 2**20)
    except UserError:
        return int(DEFAULT_SAM_CACHE_MB * 2**20)  # a bad budget must not stop click selection


def batch_fault() -> str | None:
    """$ROOMSTAGER_BATCH_TEST_DIE = "ITEM_ID:MARKER": a test hook, the Ray actor holding ITEM_ID dies once."""
    return os.environ.get("ROOMSTAGER_BATCH_TEST_DIE") or None


def debug() -> bool:
    """$ROOMSTAGER_DEBUG: tracebacks and debug logs in the commands."""
    return bool(os.environ.get("ROOMSTAGER_DEBUG"))

