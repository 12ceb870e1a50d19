"""The app catalog's SAM 3 entry: what it fetches from facebook/sam3 (never the pickle), how its licence
is shown, and that what it installs loads through the real SAM 3 loader."""

from __future__ import annotations

from test_models_hub import FakeHub

from app.engine.models.catalog import Catalog
from app.engine.models.downloads import install


def _hub_listing(tiny_models) -> dict[str, bytes]:
    """facebook/sam3's file names, with the tiny SAM 3's contents where the loader reads them."""
    src = tiny_models / "segmenter" / "tiny-sam3"
    files = {p.name: p.read_bytes() for p in src.iterdir() if p.is_file()}
    files.update({"merges.txt": b"#version: 0.2\n", "LICENSE": b"SAM License\n", "README.md": b"# SAM 3",
                  "sam3.pt": b"a pickle: never fetched", ".gitattributes": b"*.pt filter=lfs"})
    return files


def test_sam3_installs_from_the_hub_without_the_pickle_and_loads(tmp_path, tiny_models, monkeypatch):
    import huggingface_hub

    from app.engine.automask.text_masks import set_text_model
    from app.engine.vision.sam3 import load_sam3

    hub = FakeHub(_hub_listing(tiny_models))
    monkeypatch.setattr(huggingface_hub, "snapshot_download", hub.snapshot_download)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hub.hf_hub_download)
    catalog = Catalog.load(tmp_path / "models")
    entry = catalog.entry("sam3")
    assert entry.info["repo"] == "facebook/sam3" and entry.role == "text-segmenter"
    path = install(catalog, "sam3", hf_cache=tmp_path / "empty")
    assert "sam3.pt" not in hub.fetched and "README.md" not in hub.fetched
    assert {"config.json", "processor_config.json", "tokenizer.json", "model.safetensors", "LICENSE"} <= set(hub.fetched)
    assert (path / "LICENSE").is_file(), "the licence travels with the weights"
    model, processor = load_sam3(path)
    assert model.config.model_type == "sam3" and processor.tokenizer is not None
    assert set_text_model(catalog, "standard") == ("sam3", path), "the standard set names it: automasks use it"
    assert set_text_model(catalog, "light") is None


def test_sam3_licence_is_shown_with_its_terms(tmp_path):
    catalog = Catalog.load(tmp_path)
    info = catalog.describe("sam3")
    assert info["license"] == "sam-license" and info["commercial_use"] is True
    assert "gated" in info["license_note"] and "military" in info["license_note"]
    assert info["size_bytes"] > 3 * 2**30
    for s in ("standard", "high"):
        assert catalog.sets[s]["text_segmenter"] == "sam3"
        assert "sam3" not in catalog.set_models(s), "optional: `models download standard` does not fetch 3.4 GB"
        assert catalog.describe_set(s)["commercial_use"]


def test_tiny_catalog_has_a_set_with_sam3(tiny_models):
    catalog = Catalog.load(tiny_models)
    assert catalog.sets["tiny-sam3"]["text_segmenter"] == "tiny-sam3" and catalog.is_installed("tiny-sam3")
    assert "text_segmenter" not in catalog.sets["tiny"], "the plain tiny set keeps the detector path"
