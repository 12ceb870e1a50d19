"""Repaint fixtures: a synthetic room whose label map is known, and a semantic segmenter that
sees it (the tiny model's random weights give random labels; its `predict` is the seam)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.automask.automask_rooms import ID2LABEL, draw_room


@pytest.fixture
def labelled_room():
    return draw_room(320, 240, seed=4)


@pytest.fixture
def seeing_semantic(monkeypatch):
    """teach(photo, labels): the installed semantic segmenter returns `labels` for that photo."""
    from app.engine.automask import objects as amo
    from app.engine.vision.semantic import SemanticSegmenter

    known: dict[bytes, np.ndarray] = {}

    def predict(self, photo, key=None):
        labels = known.get(np.ascontiguousarray(photo).tobytes())
        if labels is None:
            raise AssertionError("the segmenter was asked about a photo the test did not teach it")
        return amo.SegMap(labels.astype(np.int32), dict(ID2LABEL), np.full(labels.shape, 0.9, np.float32))

    monkeypatch.setattr(SemanticSegmenter, "predict", predict)

    def teach(photo: np.ndarray, labels: np.ndarray) -> None:
        known[np.ascontiguousarray(photo).tobytes()] = labels

    return teach
