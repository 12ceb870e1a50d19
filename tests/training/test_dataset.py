"""`dataset`: crop-and-zoom, masks from a folder or from furnished photos, splits, the manifest."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
from PIL import Image
from training_helpers import ROOMS, run_cli

from app.engine.training import crops
from app.engine.training.manifest import read_manifest
from app.errors import UserError
from app.imaging import masks


def _png(path):
    return np.asarray(Image.open(path))


def test_crop_and_zoom_keeps_the_mask_and_never_pads():
    """A mask at the right edge of a wide photo stays in the square (no centre crop cutting it off),
    and no border is added: every output row and column comes from the photo."""
    h, w = 300, 900
    mask = np.zeros((h, w), bool)
    mask[150:280, 780:880] = True
    window = crops.mask_window(mask)
    assert window == (580, 0, 300)  # every window from 580 to 600 holds it all; the one nearest the centre
    zoomed = crops.zoom_mask(mask, window, 64)
    assert zoomed.shape == (64, 64) and zoomed.mean() == pytest.approx(mask.sum() / 300**2, rel=0.1)
    photo = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    out = crops.zoom(photo, crops.centre_window(h, w), 64)
    assert out.shape == (64, 64, 3)
    assert out[0].std() > 10 and out[-1].std() > 10 and out[:, 0].std() > 10 and out[:, -1].std() > 10


def test_shape_masks_cover_a_sensible_share():
    rng = np.random.default_rng(3)
    fractions = [crops.shape_mask(64, rng).mean() for _ in range(20)]
    assert all(0.05 <= f <= 0.35 for f in fractions) and len(set(fractions)) > 10


def test_dataset_from_masks(room_folders, tmp_path):
    empty = tmp_path / "empty"
    shutil.copytree(room_folders["empty"], empty)
    (empty / "broken.jpg").write_bytes(b"not a photo")
    before = {p.name: p.read_bytes() for p in empty.iterdir()}
    out = tmp_path / "data"
    proc = run_cli("dataset", empty, "--masks", room_folders["masks"], "-o", out, "--size", 64, "--per-photo", 2,
                   "--split", "0.5,0.5,0", "--json")
    summary = json.loads(proc.stdout)
    assert {"manifest", "train", "val", "test", "skipped"} <= set(summary)
    assert summary["manifest"] == str(out / "manifest.jsonl")
    assert [s["path"] for s in summary["skipped"]] == [str(empty / "broken.jpg")]
    assert "broken.jpg" in proc.stderr
    samples = read_manifest(out)
    assert summary["train"] + summary["val"] + summary["test"] == len(samples)
    # one room to train on (2 furniture masks + 1 warm-up shape), the other to validate (2 masks)
    assert sorted(s.kind for s in samples if s.split == "train") == ["furniture", "furniture", "shape"]
    assert sorted(s.kind for s in samples if s.split == "val") == ["furniture", "furniture"]
    assert len({s.source for s in samples if s.split == "train"} & {s.source for s in samples if s.split == "val"}) == 0
    for s in samples:
        image, mask = _png(out / s.image), _png(out / s.mask)
        assert image.shape == (64, 64, 3) and mask.shape == (64, 64) and set(np.unique(mask)) <= {0, 255}
        assert 0.002 < (mask > 0).mean() < 0.9
        assert s.sha256["image"] == hashlib.sha256((out / s.image).read_bytes()).hexdigest()
        assert s.sha256["source"] == hashlib.sha256(open(s.source, "rb").read()).hexdigest()
        assert s.mask_source == "shape" or s.mask_source.startswith(str(room_folders["masks"]))
    assert {p.name: p.read_bytes() for p in empty.iterdir()} == before, "the photos are never touched"
    again = run_cli("dataset", empty, "--masks", room_folders["masks"], "-o", out, check_rc=2)
    assert "not empty" in again.stderr and "Traceback" not in again.stderr


def test_the_same_seed_builds_the_same_dataset(room_folders, tmp_path):
    from app.engine.training.dataset_builder import DatasetOptions, build_dataset

    runs = []
    for name in ("a", "b"):
        s = build_dataset(DatasetOptions(empty_dir=str(room_folders["empty"]), masks_dir=str(room_folders["masks"]),
                                         output=str(tmp_path / name), size=64, seed=7))
        runs.append(s["manifest_sha256"])
    assert runs[0] == runs[1]


def test_dataset_from_furnished_photos_with_margin_artifacts(room_folders, tmp_path):
    """Furniture cut from furnished photos by the automatic masks (the tiny detector and segmenter
    find objects in the sunroom); the ring's real pixels pasted onto the empty room as the input."""
    furnished = tmp_path / "furnished"
    furnished.mkdir()
    shutil.copy(ROOMS / "sunroom.jpg", furnished / "sunroom.jpg")
    (furnished / "notes.png").write_bytes(b"\x89PNG broken")
    out = tmp_path / "data"
    summary = json.loads(run_cli("dataset", room_folders["empty"], "--furnished", furnished, "-o", out, "--size", 64,
                                 "--margin", 3, "--margin-artifacts", "--models", "tiny", "--json").stdout)
    assert [s["path"] for s in summary["skipped"]] == [str(furnished / "notes.png")]
    samples = [s for s in read_manifest(out) if s.kind == "furniture"]
    assert samples and all(s.mask_source == str(furnished / "sunroom.jpg") for s in samples)
    for s in samples:
        image, given, tight = _png(out / s.image), _png(out / s.input), _png(out / s.mask) > 0
        changed = (image != given).any(axis=-1)
        ring = masks.grow(tight, 3) & ~tight
        assert changed.any() and not changed[~ring].any(), "only the ring carries the furnished photo's pixels"


def test_staging_pairs_and_pseudo_staged(room_folders, tmp_path):
    """Staged photos with an empty photo of the same room are pairs (that photo is the input); the
    others are pseudo-staged (their own photo is the input)."""
    masks = tmp_path / "masks"
    masks.mkdir()
    for i in range(2):
        shutil.copy(ROOMS / f"empty_a_mask{i}.png", masks / f"empty_a_staged{i}.png")
    staged = tmp_path / "staged"
    shutil.copytree(room_folders["staged"], staged)
    shutil.copy(ROOMS / "empty_b_staged.png", staged / "other_room.png")
    shutil.copy(ROOMS / "empty_b_mask.png", masks / "other_room.png")
    out = tmp_path / "data"
    run_cli("dataset", room_folders["empty"], "--task", "stage", "--furnished", staged, "--masks", masks, "-o", out,
            "--size", 64, "--split", "1,0,0")
    samples = {s.source.split("/")[-1]: s for s in read_manifest(out)}
    assert samples["empty_a_staged0.png"].kind == "paired" and samples["other_room.png"].kind == "pseudo"
    pair = samples["empty_a_staged1.png"]
    target, given, mask = _png(out / pair.image), _png(out / pair.input), _png(out / pair.mask) > 0
    diff = np.abs(target.astype(int) - given.astype(int)).max(axis=-1)
    assert diff[mask].mean() > 3 * diff[~mask].mean(), "the rooms differ where the furniture was staged"
    assert samples["other_room.png"].input is None


def test_bad_options_name_the_problem(room_folders, tmp_path):
    from app.engine.training.dataset_builder import DatasetOptions

    for kwargs, words in (({"size": 100}, "--size"), ({"split": (0, 1, 0)}, "--split"),
                          ({"masks_dir": None}, "--furnished"), ({"margin_artifacts": True}, "--margin-artifacts")):
        opts = DatasetOptions(empty_dir=str(room_folders["empty"]), output=str(tmp_path / "x"),
                              **{"masks_dir": str(room_folders["masks"]), **kwargs})
        with pytest.raises(UserError, match=words):
            opts.validate()
    proc = run_cli("dataset", tmp_path / "nowhere", "--masks", room_folders["masks"], "-o", tmp_path / "d", check_rc=2)
    assert "nowhere" in proc.stderr and "not a folder" in proc.stderr
