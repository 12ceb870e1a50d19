"""Fixtures for the model catalog, download and import tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from models_helpers import FileServer


@pytest.fixture
def file_server():
    server = FileServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tiny_copy(tiny_models, tmp_path_factory) -> Path:
    """A writable copy of the tiny models folder (imports write its catalog.toml)."""
    dest = tmp_path_factory.mktemp("models") / "tiny"
    shutil.copytree(tiny_models, dest)
    return dest
