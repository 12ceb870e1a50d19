"""Samples as tensors, and the order they are trained in.

The order is a pure function of (seed, how many samples were drawn so far): epoch e
of a stream is a seeded permutation, and every process takes its own slice of each
global batch. So a resumed run draws exactly the samples the uninterrupted one would
have, whatever the number of processes before and after.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from app.engine.training.manifest import Sample
from app.errors import UserError
from app.imaging.io import PhotoError, read_mask, read_photo


class SampleStore:
    """Reads a dataset's PNGs once and hands out batches: pixels and masked input in [-1, 1], mask 0/1."""
    def __init__(self, folder: Path | str, samples: list[Sample]):
        self.folder = Path(folder)
        self.samples = samples
        self._cache: dict[str, tuple] = {}
        self.size: int | None = None

    def arrays(self, sample: Sample) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(target RGB, mask bool, input RGB) of a sample, read once."""
        if sample.id not in self._cache:
            try:
                image = read_photo(self.folder / sample.image).pixels
                h, w = image.shape[:2]
                mask = read_mask(self.folder / sample.mask, (w, h))
                given = read_photo(self.folder / sample.input).pixels if sample.input else image
            except PhotoError as exc:
                raise UserError(f"dataset sample {sample.id}: {exc}") from None
            if h != w or given.shape != image.shape or (self.size is not None and h != self.size):
                raise UserError(f"dataset sample {sample.id}: its pictures are not squares of one size "
                                f"({w}x{h}); rebuild the dataset with `python main.py dataset`")
            self.size = h
            self._cache[sample.id] = (image, mask, given)
        return self._cache[sample.id]

    def batch(self, indices: list[int]) -> dict:
        pixels, masks, masked = [], [], []
        for i in indices:
            image, mask, given = self.arrays(self.samples[i])
            keep = ~mask[..., None]
            pixels.append(image)
            masks.append(mask)
            masked.append(np.where(keep, given, 127.5))  # masked pixels -> 0 in [-1, 1]

        def rgb(arrays):
            return torch.from_numpy(np.stack(arrays).astype(np.float32) / 127.5 - 1.0).permute(0, 3, 1, 2)

        return {"pixels": rgb(pixels), "masked": rgb(masked),
                "mask": torch.from_numpy(np.stack(masks).astype(np.float32))[:, None]}


class Stream:
    """An endless seeded order over n samples: epoch e is a permutation seeded by (seed, salt, e)."""
    def __init__(self, n: int, seed: int, salt: int):
        self.n, self.seed, self.salt = n, seed, salt
        self._epochs: dict[int, np.ndarray] = {}

    def _order(self, epoch: int) -> np.ndarray:
        if epoch not in self._epochs:
            self._epochs = {epoch: np.random.default_rng([self.seed, self.salt, epoch]).permutation(self.n)}
        return self._epochs[epoch]

    def take(self, position: int, count: int) -> list[int]:
        out = []
        for p in range(position, position + count):
            out.append(int(self._order(p // self.n)[p % self.n]))
        return out


def step_generator(seed: int, step: int, micro: int, rank: int):
    """The CPU generator of one micro-batch: noise, timesteps and VAE samples depend on nothing else."""
    return torch.Generator("cpu").manual_seed(int(np.random.SeedSequence([seed, step, micro, rank]).generate_state(1)[0]))
