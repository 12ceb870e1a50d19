"""Fixtures for the automatic-mask tests: synthetic rooms, and a semantic model that
'sees' the room's true label map (the tiny models' random weights give random labels,
so the logic is checked through the real engine path with the answer known)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from automask_rooms import ID, ID2LABEL, draw_room


@pytest.fixture
def furnished_room():
    return draw_room(320, 240, seed=1)


@pytest.fixture
def seeing_semantic(monkeypatch):
    """Make the installed semantic segmenter return a chosen label map (photo content -> labels)."""
    from app.engine.automask import objects as amo
    from app.engine.vision.semantic import SemanticSegmenter

    known: dict[bytes, np.ndarray] = {}

    def predict(self, photo, key=None):
        labels = known.get(photo.tobytes())
        if labels is None:
            labels = np.full(photo.shape[:2], ID["wall"], np.int32)
        small = cv2.resize(labels, (photo.shape[1] // 2, photo.shape[0] // 2), interpolation=cv2.INTER_NEAREST)
        return amo.SegMap(small.astype(np.int32), dict(ID2LABEL), np.full(small.shape, 0.8, np.float32))

    monkeypatch.setattr(SemanticSegmenter, "predict", predict)

    def teach(photo: np.ndarray, labels: np.ndarray) -> None:
        known[photo.tobytes()] = labels

    return teach
