"""The catalog pins checksums: hub files that differ from a pin are refused, every entry says how far
it is pinned, and `models list` / `verify` / `download` show a missing pin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from models_helpers import make_hf_cache, sha256, write_catalog

from app.engine import Catalog, install, verify
from app.engine.models.transfer import ChecksumMismatch

ROOT = Path(__file__).resolve().parents[2]
REPO = "example-org/pinned-depth"
COMMIT = "89abcdef" * 5


def _files(tiny_models: Path) -> dict[str, bytes]:
    src = tiny_models / "depth" / "tiny-depth"
    return {n: (src / n).read_bytes() for n in ("config.json", "preprocessor_config.json", "model.safetensors")}


def _catalog(root: Path, pin: str) -> Catalog:
    return Catalog.load(write_catalog(root, f"""
[models.pinned-depth]
role = "depth"
path = "depth/pinned-depth"
repo = "{REPO}"
revision = "{COMMIT}"
sha256 = {{ "model.safetensors" = "{pin}" }}
files = ["config.json", "preprocessor_config.json", "model.safetensors"]
license = "apache-2.0"
"""))


def test_a_hub_file_that_differs_from_its_pin_installs_nothing(tmp_path, tiny_models):
    files = _files(tiny_models)
    cache = tmp_path / "hf"
    make_hf_cache(cache, REPO, files, commit=COMMIT)
    catalog = _catalog(tmp_path / "m", "0" * 64)
    with pytest.raises(ChecksumMismatch, match="checksum the catalog pins"):
        install(catalog, "pinned-depth", offline=True, hf_cache=cache)
    assert catalog.status("pinned-depth") == "missing"
    assert not (tmp_path / "m" / "depth" / "pinned-depth").exists()


def test_a_hub_file_matching_its_pin_installs_and_verifies_against_it(tmp_path, tiny_models):
    files = _files(tiny_models)
    cache = tmp_path / "hf"
    make_hf_cache(cache, REPO, files, commit=COMMIT)
    catalog = _catalog(tmp_path / "m", sha256(files["model.safetensors"]))
    assert catalog.entry("pinned-depth").pin == "pinned"
    path = install(catalog, "pinned-depth", offline=True, hf_cache=cache)
    assert catalog.manifest("pinned-depth")["checksum_from"] == "catalog"
    assert verify(catalog, "pinned-depth")["ok"]
    (path / "model.safetensors").write_bytes(files["model.safetensors"][:-4] + b"\0\0\0\0")
    assert not verify(catalog, "pinned-depth")["ok"]


def test_every_app_catalog_entry_says_how_far_it_is_pinned():
    catalog = Catalog.load(ROOT / "models")
    pins = {name: e.pin for name, e in catalog.entries.items() if name not in catalog.user_entries}
    assert set(pins.values()) <= {"pinned", "partly pinned", "revision only", "prefix pinned", "unpinned"}
    for name in ("sam-vit-b", "big-lama", "depth-anything-v2-small", "grounding-dino-tiny", "sd15-config",
                 "sdxl-config"):
        assert pins[name] == "pinned", name
    assert pins["sd15-inpainting"] == "partly pinned"
    lama = catalog.entry("big-lama")
    assert lama.path.endswith(".safetensors") and lama.size_bytes == 102218542, "the erase model is data"
    for e in catalog.entries.values():
        if e.source == "url":  # the whole SHA-256, or the start its publisher puts in the file name (torchvision)
            assert e.pin in ("pinned", "prefix pinned"), f"{e.name}: a plain download without a pinned SHA-256"
            assert len(e.pins.get(".", "")) == 64 or len(e.info["sha256_prefix"]) >= 8, e.name


def _cli(*args, models: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "models", *args, "--models", str(models)],
                          capture_output=True, text=True, cwd=ROOT, env=os.environ.copy(), timeout=300)


def test_list_download_and_verify_show_a_missing_pin(tmp_path):
    models = write_catalog(tmp_path / "m", """
[models.loose]
role = "lora"
path = "loras/loose.safetensors"
url = "https://example.invalid/loose.safetensors"
license = "mit"
""")
    listed = _cli("list", "--all", "--json", models=models)
    assert listed.returncode == 0, listed.stderr
    entries = {m["name"]: m for m in json.loads(listed.stdout)["models"]}
    assert entries["loose"]["pin"] == "unpinned" and entries["big-lama"]["pin"] == "pinned"
    assert "UNPINNED" in _cli("list", "--all", models=models).stdout
    got = _cli("download", "loose", "--offline", models=models)
    assert "size unknown" in got.stderr and "about 0 B" not in got.stderr
    assert "UNPINNED" in got.stderr and got.returncode == 2
    (models / "loras").mkdir()
    (models / "loras" / "loose.safetensors").write_bytes(b"\x02\0\0\0\0\0\0\0{}")
    checked = _cli("verify", "loose", models=models)
    assert "unpinned" in checked.stdout and "trusted on first use" in checked.stdout


def test_an_imported_lama_is_the_erase_model_until_the_catalogs_is_installed(tmp_path):
    from app.engine import import_path
    from app.engine.models.optional import find_optional
    from tests.hostile.makers import tiny_lama

    models = tmp_path / "m"
    models.mkdir()
    catalog = Catalog.load(models)
    (result,), _ = import_path(catalog, tiny_lama(tmp_path / "my-lama.safetensors"))
    assert (result.role, result.kind) == ("erase", "erase") and result.path.endswith("erase/my-lama.safetensors")
    name, path = find_optional(catalog, "standard", "erase")  # the set names big-lama, which is not installed
    assert name == "my-lama" and path == models / "erase" / "my-lama.safetensors"
    (models / "erase" / "big-lama.pt").write_bytes(b"PK\x03\x04 TorchScript in the old place")
    assert catalog.status("big-lama") == "missing", "the old TorchScript path is not the catalog's any more"
