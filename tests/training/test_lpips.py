"""LPIPS from the real pretrained weights: the reference values, masks, the catalog and `models import`."""

from __future__ import annotations

import hashlib
import json

import cv2
import numpy as np
import pytest
from PIL import Image
from training_helpers import LPIPS_DIR, LPIPS_FEATURES, LPIPS_HEADS, ROOMS, run_cli

from app.engine.evaluation.lpips import Lpips

README_SHA256 = {LPIPS_FEATURES.name: "889a9ed0249fad79da5157ecf3125bef56243b12ec058c99296bc803ad24ec94",
                 LPIPS_HEADS.name: "255d6454292d155a069f693a111769acec003d588617b250f24775369c816e04"}


@pytest.fixture(scope="module")
def lpips():
    return Lpips(LPIPS_FEATURES, LPIPS_HEADS)


def _png(name):
    return np.asarray(Image.open(LPIPS_DIR / name).convert("RGB"))


def test_the_weights_are_the_ones_the_readme_names():
    for path in (LPIPS_FEATURES, LPIPS_HEADS):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == README_SHA256[path.name]


def test_reference_distances_match_the_lpips_package(lpips):
    """The check values of the weights' README (computed with the `lpips` package itself)."""
    ref, p0, p1 = _png("ex_ref.png"), _png("ex_p0.png"), _png("ex_p1.png")
    assert lpips.distance(ref, p0) == pytest.approx(0.7219, abs=5e-5)
    assert lpips.distance(ref, p1) == pytest.approx(0.1376, abs=5e-5)
    assert lpips.distance(ref, ref) == 0.0


def test_identical_is_zero_and_blur_grows_with_its_strength(lpips):
    room = np.asarray(Image.open(ROOMS / "empty_a.png").convert("RGB"))
    light = cv2.GaussianBlur(room, (0, 0), 1.0)
    heavy = cv2.GaussianBlur(room, (0, 0), 3.0)
    assert lpips.distance(room, room.copy()) == 0.0
    d1, d3 = lpips.distance(room, light), lpips.distance(room, heavy)
    assert 0.0 < d1 < d3 < 1.0


def test_inside_a_mask_only_the_masked_pixels_count(lpips):
    room = np.asarray(Image.open(ROOMS / "empty_b.png").convert("RGB"))
    h, w = room.shape[:2]
    region = np.zeros((h, w), bool)
    region[h // 2:, : w // 2] = True
    damaged = room.copy()
    damaged[region] = cv2.GaussianBlur(room, (0, 0), 4.0)[region]
    inside = lpips.distance(room, damaged, region)
    outside = lpips.distance(room, damaged, ~region)
    assert inside > 2 * outside > 0  # the far side only sees the blur through the context of its box
    assert lpips.distance(room, room, region) == 0.0
    assert lpips.distance(room, damaged, np.zeros((h, w), bool)) is None


def test_models_import_recognises_both_files_and_the_catalog_offers_lpips(lpips_models):
    from app.engine.evaluation.lpips_catalog import load_lpips
    from app.engine.models.catalog import Catalog

    catalog = Catalog.load(lpips_models)
    roles = {e.role for n, e in catalog.entries.items() if n in catalog.user_entries}
    assert {"lpips-backbone", "lpips-heads"} <= roles
    lp = load_lpips(catalog)
    ref, p1 = _png("ex_ref.png"), _png("ex_p1.png")
    assert lp.distance(ref, p1) == pytest.approx(0.1376, abs=5e-5)


def test_the_official_pth_layouts_are_recognised_as_data(tmp_path):
    """torchvision's whole-AlexNet file (`features.N`, `classifier.N`) and the lpips heads .pth,
    read with weights_only=True, load into the same network and give the same distances."""
    import torch
    from safetensors.torch import load_file

    from app.engine.models.checkpoint_info import inspect_file

    features = load_file(str(LPIPS_FEATURES))
    whole = {f"features.{k}": v for k, v in features.items()}
    whole["classifier.1.weight"] = torch.zeros(4096, 9216)
    torch.save(whole, tmp_path / "alexnet-owt-7be5be79.pth")
    torch.save(load_file(str(LPIPS_HEADS)), tmp_path / "alex.pth")
    assert inspect_file(tmp_path / "alexnet-owt-7be5be79.pth").kind == "lpips-backbone"
    assert inspect_file(tmp_path / "alex.pth").kind == "lpips-heads"
    torch.save({"lin0.model.1.weight": torch.zeros(1, 3, 1, 1)}, tmp_path / "other.pth")
    assert not inspect_file(tmp_path / "other.pth").usable
    lp = Lpips(tmp_path / "alexnet-owt-7be5be79.pth", tmp_path / "alex.pth")
    assert lp.distance(_png("ex_ref.png"), _png("ex_p0.png")) == pytest.approx(0.7219, abs=5e-5)

    from app.engine.evaluation.lpips_catalog import load_lpips
    from app.engine.models.catalog import Catalog
    from app.engine.models.importer import import_path

    (tmp_path / "models").mkdir()
    catalog = Catalog.load(tmp_path / "models")
    for name, role, licence in (("alexnet-owt-7be5be79.pth", "lpips-backbone", "bsd-3-clause"),
                                ("alex.pth", "lpips-heads", "bsd-2-clause")):
        (result,), skipped = import_path(catalog, tmp_path / name)
        assert result.role == role and not skipped and catalog.entry(result.name).license == licence
        assert (tmp_path / "models" / "lpips").is_dir()
    assert load_lpips(catalog).distance(_png("ex_ref.png"), _png("ex_p1.png")) == pytest.approx(0.1376, abs=5e-5)


def test_the_catalog_names_the_official_sources_with_pinned_checksums():
    from app.engine.models.catalog import Catalog

    catalog = Catalog.load(LPIPS_DIR)  # any folder: the app's own entries are always there
    backbone, heads = catalog.entry("lpips-alexnet"), catalog.entry("lpips-alex-v0.1")
    assert backbone.role == "lpips-backbone" and heads.role == "lpips-heads"
    assert backbone.info["url"] == "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"
    assert backbone.info["sha256_prefix"] == "7be5be79"
    assert heads.info["url"].endswith("/lpips/weights/v0.1/alex.pth")
    assert len(heads.info["sha256"]) == 64 and backbone.downloadable and heads.downloadable


def test_a_download_pinned_by_a_checksum_prefix_is_refused_when_it_differs(tmp_path):
    """torchvision pins the first 8 hex digits of the SHA-256; a different file is never installed."""
    import http.server
    import threading

    from app.engine.models.downloads import ChecksumMismatch, fetch_url

    body = b"weights" * 1000
    digest = hashlib.sha256(body).hexdigest()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/alexnet.pth"
    try:
        with pytest.raises(ChecksumMismatch):
            fetch_url(url, tmp_path / "bad.pth", sha256_prefix="7be5be79")
        assert not (tmp_path / "bad.pth").exists() and not (tmp_path / "bad.pth.part").exists()
        assert fetch_url(url, tmp_path / "good.pth", sha256_prefix=digest[:8]) == digest
        assert (tmp_path / "good.pth").read_bytes() == body
    finally:
        server.shutdown()


def test_eval_defurnish_reports_a_real_lpips(lpips_models, room_folders, tmp_path):
    """Identical pictures measure 0 (the unchanged input with --no-paste), the de-furnished ones more."""
    report_path = tmp_path / "report.json"
    run_cli("eval-defurnish", room_folders["empty"], "--masks", room_folders["masks"], "-o", report_path,
            "--models", lpips_models, "--steps", 2, "--no-paste", "--no-detector", "--max-side", 160)
    report = json.loads(report_path.read_text())
    assert report["lpips"]["available"] is True
    s = report["summary"]
    assert s["input_mask_region"]["lpips"] == 0.0  # the input is the empty room itself
    assert 0.0 < s["mask_region"]["lpips"] <= 1.5 and 0.0 < s["whole"]["lpips"] < s["mask_region"]["lpips"]


def test_eval_defurnish_without_lpips_says_how_to_get_it(room_folders, tmp_path):
    proc = run_cli("eval-defurnish", room_folders["empty"], "-o", tmp_path / "r.json", "--models", "tiny",
                   "--steps", 1, check_rc=2)
    assert "LPIPS" in proc.stderr and "models download lpips-alexnet" in proc.stderr
    assert "models import" in proc.stderr and "Traceback" not in proc.stderr
