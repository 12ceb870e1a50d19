"""The fast PNG path: bit-exact pixels, the ICC profile, EXIF and the RoomStager record in the file,
and project bundles that any zip reader opens."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
from PIL import Image, ImageCms

from app.imaging import bundle, png
from app.imaging.io import read_metadata, read_photo, write_photo


def photo(w=300, h=200, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_pixels_profile_exif_and_record_survive():
    pixels = photo()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    data = png.encode(pixels, icc=icc, exif=exif.tobytes(), text={"roomstager": '{"prompt": "café"}'})
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        assert img.format == "PNG" and img.mode == "RGB"
        assert np.array_equal(np.asarray(img), pixels)
        assert img.info["icc_profile"] == icc
        assert img.getexif()[0x010F] == "Canon"
        assert json.loads(img.info["roomstager"]) == {"prompt": "café"}


def test_write_photo_png_goes_through_it_and_reads_back(tmp_path):
    pixels = photo(64, 48, 1)
    out = write_photo(tmp_path / "out.png", pixels, metadata={"request": {"seed": 7}})
    assert np.array_equal(read_photo(out).pixels, pixels)
    assert read_metadata(out) == {"request": {"seed": 7}}
    assert json.loads((tmp_path / "out.png.json").read_text()) == {"request": {"seed": 7}}


def test_masks_and_grey_images():
    mask = np.zeros((50, 70), bool)
    mask[10:30, 20:60] = True
    with Image.open(io.BytesIO(png.encode_mask(mask))) as img:
        assert np.array_equal(np.asarray(img.convert("L")) >= 128, mask)
    grey = np.arange(50 * 70, dtype=np.uint32).reshape(50, 70).astype(np.uint8)
    with Image.open(io.BytesIO(png.encode(grey))) as img:
        assert np.array_equal(np.asarray(img), grey)


def test_a_bundle_is_an_ordinary_zip_written_whole(tmp_path):
    pixels = photo(40, 30, 2)
    src = tmp_path / "photo.jpg"
    src.write_bytes(b"jpeg bytes")
    mask = np.eye(30, 40, dtype=bool)
    out = bundle.write_zip({"photo/photo.jpg": src, "results/r1.png": pixels, "results/r1-mask.png": ("mask", mask)},
                           tmp_path / "p.rsproj", last={"project.json": b"{}"})
    with zipfile.ZipFile(out) as z:
        assert z.namelist() == ["photo/photo.jpg", "results/r1.png", "results/r1-mask.png", "project.json"]
        assert z.read("photo/photo.jpg") == b"jpeg bytes"
        with Image.open(io.BytesIO(z.read("results/r1.png"))) as img:
            assert np.array_equal(np.asarray(img), pixels)
    assert out.stat().st_mode & 0o777 != 0o600  # an ordinary file, readable like the user's others
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []
