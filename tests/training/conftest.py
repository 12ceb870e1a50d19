"""Fixtures for LPIPS and LoRA training: a tiny models folder with the real LPIPS weights imported,
datasets built from the real room photos, and one CPU thread (the tiny models' operations are so
small that thread hand-offs cost more than the arithmetic, and results stay bit-reproducible)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from training_helpers import LPIPS_FEATURES, LPIPS_HEADS, ROOMS


@pytest.fixture
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def lpips_models(tiny_models, tmp_path_factory) -> Path:
    """A copy of the tiny models folder with the real LPIPS files imported by `models import`."""
    from app.engine.models.catalog import Catalog
    from app.engine.models.importer import import_path

    dest = tmp_path_factory.mktemp("models") / "tiny-lpips"
    shutil.copytree(tiny_models, dest)
    catalog = Catalog.load(dest)
    for f in (LPIPS_FEATURES, LPIPS_HEADS):
        import_path(catalog, f)
    return dest


@pytest.fixture(scope="session")
def room_folders(tmp_path_factory) -> dict[str, Path]:
    """The real empty rooms, their furniture masks, and staged versions of room A."""
    root = tmp_path_factory.mktemp("rooms")
    folders = {k: root / k for k in ("empty", "masks", "staged")}
    for f in folders.values():
        f.mkdir()
    for name in ("empty_a.png", "empty_b.png"):
        shutil.copy(ROOMS / name, folders["empty"] / name)
    for name in ("empty_a_mask0.png", "empty_a_mask1.png", "empty_a_mask2.png", "empty_b_mask.png"):
        shutil.copy(ROOMS / name, folders["masks"] / name)
    for i in range(2):
        shutil.copy(ROOMS / f"empty_a_staged{i}.png", folders["staged"] / f"empty_a_staged{i}.png")
    return folders


@pytest.fixture(scope="session")
def small_dataset(room_folders, tmp_path_factory) -> Path:
    """A 64 px de-furnishing dataset from the real rooms: one room to train on, one to validate."""
    from app.engine.training.dataset_builder import DatasetOptions, build_dataset

    out = tmp_path_factory.mktemp("datasets") / "rooms64"
    build_dataset(DatasetOptions(empty_dir=str(room_folders["empty"]), masks_dir=str(room_folders["masks"]),
                                 output=str(out), size=64, per_photo=2))
    return out


@pytest.fixture(scope="session")
def train_only_dataset(room_folders, tmp_path_factory) -> Path:
    """The same rooms, all for training (no validation: runs need no LPIPS and validate nothing)."""
    from app.engine.training.dataset_builder import DatasetOptions, build_dataset

    out = tmp_path_factory.mktemp("datasets") / "train64"
    build_dataset(DatasetOptions(empty_dir=str(room_folders["empty"]), masks_dir=str(room_folders["masks"]),
                                 output=str(out), size=64, split=(1, 0, 0)))
    return out
