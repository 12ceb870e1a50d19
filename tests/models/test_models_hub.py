"""Hub sources resolved from a local Hugging Face cache with no network, and the shipped configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from models_helpers import make_hf_cache, write_catalog

from app.engine import Catalog, install
from app.engine.models.entries import APP_CATALOG, CONFIGS_DIR, is_config_folder
from app.engine.models.transfer import ChecksumMismatch
from app.errors import UserError

REPO = "example-org/tiny-depth-hf"


def _depth_files(tiny_models: Path) -> dict[str, bytes]:
    src = tiny_models / "depth" / "tiny-depth"
    return {
        "config.json": (src / "config.json").read_bytes(),
        "preprocessor_config.json": (src / "preprocessor_config.json").read_bytes(),
        "model.fp16.safetensors": (src / "model.safetensors").read_bytes(),  # stored as model.safetensors
        "pytorch_model.bin": b"not fetched: the catalog does not name it",
        "README.md": b"# tiny",
    }


def _catalog(root: Path) -> Catalog:
    return Catalog.load(write_catalog(root, f"""
[models.hub-depth]
role = "depth"
path = "depth/hub-depth"
repo = "{REPO}"
revision = "main"
files = ["config.json", "preprocessor_config.json", ["model.fp16.safetensors", "model.safetensors"]]
license = "apache-2.0"
commercial_use = true
"""))


def test_hub_model_installs_offline_from_the_local_cache(tmp_path, tiny_models):
    cache = tmp_path / "hf"
    make_hf_cache(cache, REPO, _depth_files(tiny_models))
    catalog = _catalog(tmp_path / "m")
    events = []
    path = install(catalog, "hub-depth", offline=True, hf_cache=cache, progress=events.append)
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors", "preprocessor_config.json"]
    assert (path / "model.safetensors").read_bytes() == (tiny_models / "depth" / "tiny-depth" / "model.safetensors").read_bytes()
    assert catalog.status("hub-depth") == "installed"
    assert catalog.manifest("hub-depth")["source"].startswith(f"hub-cache:{REPO}@")
    assert not (tmp_path / "m" / ".roomstager" / "downloads" / "hub-depth.part").exists()
    # what was installed is a loadable model
    import numpy as np

    from app.engine.vision.depth import DepthEstimator

    depth = DepthEstimator(path, "cpu", __import__("torch").float32).predict(np.zeros((64, 96, 3), np.uint8))
    assert depth.shape == (64, 96)
    from app.engine import verify
    assert verify(catalog, "hub-depth")["ok"]
    (path / "model.safetensors").write_bytes(b"\0" * 16)
    result = verify(catalog, "hub-depth")
    assert not result["ok"] and any("model.safetensors" in p for p in result["problems"])


def test_damaged_cache_blob_is_refused(tmp_path, tiny_models):
    cache = tmp_path / "hf"
    snap = make_hf_cache(cache, REPO, _depth_files(tiny_models))
    blob = (snap / "model.fp16.safetensors").resolve()
    blob.write_bytes(blob.read_bytes()[:-4] + b"oops")
    catalog = _catalog(tmp_path / "m")
    with pytest.raises(ChecksumMismatch):
        install(catalog, "hub-depth", offline=True, hf_cache=cache)
    assert catalog.status("hub-depth") == "missing"
    assert not (tmp_path / "m" / "depth" / "hub-depth").exists()


def test_offline_without_cache_names_the_ways_out(tmp_path):
    catalog = _catalog(tmp_path / "m")
    with pytest.raises(UserError, match="offline") as err:
        install(catalog, "hub-depth", offline=True, hf_cache=tmp_path / "empty-cache")
    assert "models download hub-depth" in str(err.value) and "models import" in str(err.value)


def test_repo_file_names_cannot_escape(tmp_path, tiny_models):
    cache = tmp_path / "hf"
    make_hf_cache(cache, REPO, {"config.json": b"{}", "model.safetensors": b"x"})
    catalog = Catalog.load(write_catalog(tmp_path / "m", f"""
[models.evil]
role = "depth"
path = "depth/evil"
repo = "{REPO}"
files = ["config.json", "model.safetensors"]
rename = {{ "model.safetensors" = "../../outside.safetensors" }}
"""))
    with pytest.raises(UserError, match="not a safe relative path"):
        install(catalog, "evil", offline=True, hf_cache=cache)
    assert not (tmp_path / "outside.safetensors").exists()


def test_config_entry_combines_hub_tokenizer_and_shipped_configs(tmp_path, tiny_models):
    """`sd15-config` fetches only the tokenizer; the JSON configs come from resources/model_configs."""
    tok = tiny_models / "inpaint" / "tiny-sd15-inpainting" / "tokenizer"
    files = {f"tokenizer/{p.name}": p.read_bytes() for p in tok.iterdir()}
    files["tokenizer/special_tokens_map.json"] = b"{}"
    cache = tmp_path / "hf"
    app = Catalog.load(tmp_path / "m")
    entry = app.entry("sd15-config")
    make_hf_cache(cache, entry.info["repo"], files, commit=entry.info["revision"])  # the catalog pins a commit
    path = install(app, "sd15-config", offline=True, hf_cache=cache)
    assert is_config_folder(path) and app.is_installed("sd15-config")
    assert json.loads((path / "unet" / "config.json").read_text())["in_channels"] == 9
    assert (path / "tokenizer" / "vocab.json").is_file()


@pytest.mark.parametrize("name, expected", [
    ("sd15-inpainting", {"unet": 859.54e6, "vae": 83.65e6, "text_encoder": 123.06e6}),
    ("sdxl-inpainting", {"unet": 2567.5e6, "vae": 83.65e6, "text_encoder": 123.06e6, "text_encoder_2": 694.66e6}),
])
def test_shipped_configs_describe_the_real_architectures(name, expected):
    """Built on the meta device (no memory): parameter counts match the published models."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    folder = CONFIGS_DIR / name
    with torch.device("meta"):
        models = {
            "unet": UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(folder / "unet")),
            "vae": AutoencoderKL.from_config(AutoencoderKL.load_config(folder / "vae")),
            "text_encoder": CLIPTextModel(CLIPTextConfig.from_pretrained(folder / "text_encoder")),
        }
        if "text_encoder_2" in expected:
            models["text_encoder_2"] = CLIPTextModelWithProjection(CLIPTextConfig.from_pretrained(folder / "text_encoder_2"))
    for part, count in expected.items():
        n = sum(p.numel() for p in models[part].parameters())
        assert abs(n - count) / count < 0.003, (part, n)


def test_app_catalog_is_complete_and_honest():
    catalog = Catalog.load(APP_CATALOG.parent)
    assert {"standard", "high"} <= set(catalog.sets)
    for name, e in catalog.entries.items():
        assert e.role in ("inpaint", "controlnet-depth", "controlnet-canny", "controlnet-inpaint", "controlnet-union",
                          "sam", "depth", "metric-depth", "detector", "segmenter", "text-segmenter", "erase",
                          "lora", "config", "transformer", "lpips-backbone", "lpips-heads"), name
        assert e.license and e.commercial_use is not None, name
        assert e.size_bytes, name
        assert e.source in ("hub", "url"), name
        rev = str(e.info.get("revision", "main"))
        assert rev == "main" or (len(rev) == 40 and all(c in "0123456789abcdef" for c in rev)), name
        if e.role in ("inpaint", "controlnet-depth", "controlnet-canny", "controlnet-inpaint", "controlnet-union"):
            assert e.arch in ("sd15", "sdxl", "flux", "zimage"), name
            flat = [f for item in e.info.get("files", []) for f in (item if isinstance(item, list) else [item])]
            assert not any(f.endswith((".bin", ".ckpt", ".pt", ".pth")) for f in flat), name
    for s in ("standard", "high"):
        assert catalog.describe_set(s)["commercial_use"]
    assert catalog.entry("depth-anything-v2-base").commercial_use is False
    assert catalog.entry("depth-pro").commercial_use is False  # Apple's research licence
    assert catalog.sets["standard"]["metric_depth"] == "depth-anything-v2-metric-indoor-small"
    flux = [n for n in catalog.entries if "flux" in n.lower()]
    assert flux and all(catalog.entry(n).commercial_use is False for n in flux), "FLUX [dev] is non-commercial"
    assert not catalog.describe_set("best")["commercial_use"] and catalog.describe_set("best-commercial")["commercial_use"]
    assert catalog.recommend_set(6.0) == "standard" and catalog.recommend_set(7.8) == "standard"
    assert catalog.recommend_set(12.0) == "high" and catalog.recommend_set(16.0) == "best-commercial"
    assert catalog.recommend_set(24.0) == "best-commercial", "commercial work: never a non-commercial set"
    assert catalog.recommend_set(24.0, commercial=False) == "best"
    assert catalog.recommend_set(16.0, commercial=False) == "best-16gb"
    assert catalog.recommend_set(None) == "light"  # CPU-only: the light SAM encoder


class FakeHub:
    """Stands in for huggingface_hub's network calls: a dry-run listing and hf_hub_download into local_dir."""

    def __init__(self, files: dict[str, bytes], bad_etag: str | None = None):
        self.files, self.bad_etag, self.fetched = files, bad_etag, []

    def snapshot_download(self, repo, *, revision=None, allow_patterns=None, dry_run=False, local_files_only=False,
                          **kw):
        import fnmatch

        from huggingface_hub.file_download import DryRunFileInfo

        if local_files_only:
            raise FileNotFoundError("not cached")
        assert dry_run
        return [DryRunFileInfo(commit_hash="c" * 40, file_size=len(d), filename=f, local_path="", is_cached=False,
                               will_download=True)
                for f, d in self.files.items() if any(fnmatch.fnmatchcase(f, p) for p in allow_patterns)]

    def hf_hub_download(self, repo, filename, *, revision=None, local_dir=None, tqdm_class=None, **kw):
        import hashlib

        assert revision == "c" * 40
        data = self.files[filename]
        target = Path(local_dir) / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        bar = tqdm_class(total=len(data), initial=0, desc=filename, unit="B", name="huggingface_hub.hf_hub_download")
        with open(target, "wb") as f:
            for i in range(0, len(data), 4096):
                f.write(data[i:i + 4096])
                bar.update(len(data[i:i + 4096]))
        meta = Path(local_dir) / ".cache" / "huggingface" / "download" / (filename + ".metadata")
        meta.parent.mkdir(parents=True, exist_ok=True)
        etag = self.bad_etag if filename == "model.safetensors" and self.bad_etag else hashlib.sha256(data).hexdigest()
        meta.write_text(f"{'c' * 40}\n{etag}\n0\n")
        self.fetched.append(filename)
        return str(target)


def test_online_hub_download_picks_alternatives_and_verifies_lfs(tmp_path, tiny_models, monkeypatch):
    import huggingface_hub

    files = _depth_files(tiny_models)
    files["model.safetensors"] = files.pop("model.fp16.safetensors")  # this repo has no fp16 file
    hub = FakeHub(files)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", hub.snapshot_download)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hub.hf_hub_download)
    catalog = _catalog(tmp_path / "m")
    events = []
    path = install(catalog, "hub-depth", hf_cache=tmp_path / "empty", progress=events.append)
    assert sorted(hub.fetched) == ["config.json", "model.safetensors", "preprocessor_config.json"]
    assert not (path / ".cache").exists() and (path / "model.safetensors").read_bytes() == files["model.safetensors"]
    assert catalog.manifest("hub-depth")["source"] == f"hub:{REPO}@{'c' * 40}"
    assert max(e.done for e in events) == sum(len(files[f]) for f in hub.fetched)

    bad = FakeHub(files, bad_etag="0" * 64)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", bad.hf_hub_download)
    catalog2 = _catalog(tmp_path / "m2")
    with pytest.raises(ChecksumMismatch):
        install(catalog2, "hub-depth", hf_cache=tmp_path / "empty")
    assert not (tmp_path / "m2" / "depth" / "hub-depth").exists()


def test_online_hub_download_cancel_keeps_staging(tmp_path, tiny_models, monkeypatch):
    import threading

    import huggingface_hub

    from app.engine import DownloadCancelled
    hub = FakeHub(_depth_files(tiny_models))
    monkeypatch.setattr(huggingface_hub, "snapshot_download", hub.snapshot_download)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hub.hf_hub_download)
    catalog = _catalog(tmp_path / "m")
    cancel = threading.Event()
    original = hub.hf_hub_download

    def cancel_on_weights(repo, filename, **kw):
        if filename.startswith("model"):
            cancel.set()
        return original(repo, filename, **kw)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", cancel_on_weights)
    with pytest.raises(DownloadCancelled):
        install(catalog, "hub-depth", hf_cache=tmp_path / "empty", cancel=cancel)
    assert catalog.status("hub-depth") == "partial"
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hub.hf_hub_download)
    install(catalog, "hub-depth", hf_cache=tmp_path / "empty")
    assert catalog.status("hub-depth") == "installed"
