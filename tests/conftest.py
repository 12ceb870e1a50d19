"""Shared test set-up: tiny models and caches in temporary folders, a shared engine."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

# Before anything imports the app: tiny models and caches go to a per-run folder
# that subprocesses inherit. Set ROOMSTAGER_TINY_DIR yourself to reuse one between runs.
_RUN_DIR = Path(tempfile.mkdtemp(prefix="roomstager-tests-"))
os.environ.setdefault("ROOMSTAGER_TINY_DIR", str(_RUN_DIR / "tiny"))
os.environ["ROOMSTAGER_CACHE"] = str(_RUN_DIR / "cache")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no hub in tests, ever


def draw_room(w: int = 960, h: int = 640, seed: int = 0) -> np.ndarray:
    """A synthetic room: wall, floor, a sofa-like box with a shadow, some texture."""
    import cv2

    rng = np.random.default_rng(seed)
    img = np.empty((h, w, 3), np.uint8)
    horizon = int(h * 0.58)
    img[:horizon] = (214, 206, 192)
    img[horizon:] = (132, 100, 72)
    cv2.line(img, (0, horizon), (w, horizon), (90, 80, 70), 2)
    cv2.rectangle(img, (int(w * 0.1), int(h * 0.12)), (int(w * 0.28), int(h * 0.45)), (235, 240, 250), -1)
    x0, y0, x1, y1 = int(w * 0.35), int(h * 0.45), int(w * 0.7), int(h * 0.75)
    cv2.ellipse(img, ((x0 + x1) // 2, y1 + 6), ((x1 - x0) // 2, 12), 0, 0, 360, (95, 72, 52), -1)  # shadow
    cv2.rectangle(img, (x0, y0), (x1, y1), (60, 70, 130), -1)
    noise = rng.integers(-4, 5, img.shape, dtype=np.int16)
    return np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def sofa_mask(w: int = 960, h: int = 640) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[int(h * 0.44):int(h * 0.77), int(w * 0.34):int(w * 0.71)] = True
    return m


@pytest.fixture(scope="session")
def tiny_models() -> Path:
    from app.engine import ensure_tiny_models
    return ensure_tiny_models()


@pytest.fixture(scope="session")
def engine(tiny_models):
    from app.engine import Engine
    eng = Engine(models="tiny", device="cpu")
    yield eng
    eng.shutdown()


@pytest.fixture
def room():
    return draw_room()


@pytest.fixture
def room_mask():
    return sofa_mask()


def room_like_depth(image, size=None):
    """What a depth model sees in a room: a back wall, and a floor coming nearer towards the bottom."""
    h, w = image.shape[:2] if size is None else (size[1], size[0])
    rows = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    return np.tile(np.where(rows < 0.55, 0.2, 0.2 + 3.0 * (rows - 0.55) ** 2), (1, w)).astype(np.float32)


@pytest.fixture
def room_depth(monkeypatch):
    """The tiny depth model is random and finds no floor: make it see a room, for staging-area tests."""
    from app.engine.vision.depth import DepthEstimator

    monkeypatch.setattr(DepthEstimator, "predict",
                        lambda self, image, size=None, key=None: room_like_depth(image, size))
