"""read_photo / write_photo / read_mask / write_mask on odd files made in tmp_path."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageCms

from app.errors import UserError
from app.imaging import io as imio
from app.imaging.io import Photo, PhotoError, read_mask, read_metadata, read_photo, write_mask, write_photo

ORIENT = ExifTags.Base.Orientation
T = Image.Transpose
# What exif_transpose applies for each orientation, and its inverse (to build the stored file).
APPLY = {
    2: T.FLIP_LEFT_RIGHT,
    3: T.ROTATE_180,
    4: T.FLIP_TOP_BOTTOM,
    5: T.TRANSPOSE,
    6: T.ROTATE_270,
    7: T.TRANSVERSE,
    8: T.ROTATE_90,
}
INVERSE = {**APPLY, 6: T.ROTATE_90, 8: T.ROTATE_270}


def upright_pattern(w: int = 48, h: int = 32) -> np.ndarray:
    """Non-square, no symmetry: a gradient per channel plus a marker block top-left."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x * 7 + y * 3) % 256], axis=2).astype(np.uint8)
    img[2:8, 2:10] = (255, 0, 0)
    return img


def exif_bytes(orientation: int = 1, **extra) -> bytes:
    ex = Image.Exif()
    ex[ORIENT] = orientation
    ex[ExifTags.Base.Make] = "TestCam"
    ex[ExifTags.IFD.Exif] = {ExifTags.Base.DateTimeOriginal: "2024:05:06 07:08:09"}
    for k, v in extra.items():
        ex[getattr(ExifTags.Base, k)] = v
    return ex.tobytes()


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# ---------------------------------------------------------------- orientation


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_reads_upright_png_exact(tmp_path, orientation):
    up = upright_pattern()
    stored = Image.fromarray(up)
    if orientation in INVERSE:
        stored = stored.transpose(INVERSE[orientation])
    f = tmp_path / f"o{orientation}.png"
    stored.save(f, exif=exif_bytes(orientation))
    photo = read_photo(f)
    assert photo.size == (48, 32)
    np.testing.assert_array_equal(photo.pixels, up)
    with Image.open(f) as im:  # same as Pillow's reference behaviour
        np.testing.assert_array_equal(
            photo.pixels,
            np.asarray(im.transpose(APPLY[orientation]).convert("RGB"))
            if orientation in APPLY
            else np.asarray(im.convert("RGB")),
        )


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_orientation_jpeg_size_and_marker(tmp_path, orientation):
    up = upright_pattern(96, 64)
    stored = Image.fromarray(up).transpose(INVERSE[orientation])
    f = tmp_path / "o.jpg"
    stored.save(f, exif=exif_bytes(orientation), quality=95)
    photo = read_photo(f)
    assert photo.size == (96, 64)
    assert np.abs(photo.pixels.astype(int) - up).mean() < 4
    assert photo.pixels[4, 5, 0] > 200 and photo.pixels[4, 5, 1] < 60  # red marker top-left


def test_exif_kept_with_orientation_reset(tmp_path):
    up = upright_pattern(96, 64)
    f = tmp_path / "cam.jpg"
    Image.fromarray(up).transpose(T.ROTATE_90).save(f, exif=exif_bytes(6))
    photo = read_photo(f)
    ex = Image.Exif()
    ex.load(photo.exif)
    assert ex[ORIENT] == 1 and ex[ExifTags.Base.Make] == "TestCam"
    out = write_photo(tmp_path / "out" / "staged.jpg", photo.pixels, source=photo)
    with Image.open(out) as im:
        assert im.size == (96, 64)
        e = im.getexif()
        assert e[ORIENT] == 1
        assert e[ExifTags.Base.Make] == "TestCam"
        assert e.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] == "2024:05:06 07:08:09"
    # reading the output again must not rotate it a second time
    assert read_photo(out).size == (96, 64)


def test_oversized_maker_note_dropped_for_jpeg(tmp_path):
    ex = Image.Exif()
    ex[ExifTags.Base.Make] = "TestCam"
    ex[ExifTags.IFD.Exif] = {
        ExifTags.Base.MakerNote: b"\x01" * 70_000,
        ExifTags.Base.DateTimeOriginal: "2024:05:06 07:08:09",
    }
    Image.fromarray(upright_pattern()).save(tmp_path / "big.png", exif=ex.tobytes())
    photo = read_photo(tmp_path / "big.png")
    out = write_photo(tmp_path / "out.jpg", photo.pixels, source=photo)
    with Image.open(out) as im:
        e = im.getexif()
        assert e[ExifTags.Base.Make] == "TestCam"
        assert ExifTags.Base.MakerNote not in e.get_ifd(ExifTags.IFD.Exif)


def test_tiff_layout_tags_do_not_leak_into_exif(tmp_path):
    f = tmp_path / "scan.tif"
    Image.fromarray(upright_pattern()).save(f, exif=exif_bytes(1))
    photo = read_photo(f)
    ex = Image.Exif()
    ex.load(photo.exif)
    assert ex[ExifTags.Base.Make] == "TestCam"
    assert ExifTags.Base.StripOffsets not in ex and ExifTags.Base.ImageWidth not in ex


# ---------------------------------------------------------------- modes


def test_cmyk_jpeg_converts_to_rgb(tmp_path):
    cmyk = np.zeros((16, 40, 4), np.uint8)
    cmyk[:, :10] = (255, 0, 0, 0)  # cyan
    cmyk[:, 10:20] = (0, 255, 0, 0)  # magenta
    cmyk[:, 20:30] = (0, 0, 0, 255)  # black
    cmyk[:, 30:] = (0, 0, 0, 0)  # white
    f = tmp_path / "print.jpg"
    Image.fromarray(cmyk, "CMYK").save(f, quality=100)
    photo = read_photo(f)
    assert photo.mode == "CMYK" and photo.pixels.dtype == np.uint8 and photo.pixels.shape == (16, 40, 3)
    px = photo.pixels[8].astype(int)
    assert np.abs(px[5] - (0, 255, 255)).max() < 12
    assert np.abs(px[15] - (255, 0, 255)).max() < 12
    assert px[25].max() < 12 and px[35].min() > 243


def test_cmyk_with_non_cmyk_profile_drops_it(tmp_path):
    f = tmp_path / "odd.jpg"
    Image.new("CMYK", (8, 8), (0, 0, 0, 0)).save(f, icc_profile=srgb_icc())
    photo = read_photo(f)
    assert photo.icc_profile is None  # an RGB profile cannot have described CMYK data
    assert photo.pixels.min() > 240


def _png16_rgb(path: Path, arr: np.ndarray) -> None:
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _tiff48(path: Path, arr: np.ndarray) -> None:
    """A baseline little-endian 16-bit-per-channel RGB TIFF (Pillow cannot write one)."""
    h, w, _ = arr.shape
    data = arr.astype("<u2").tobytes()
    entries = [
        (256, 4, 1, w),
        (257, 4, 1, h),
        (258, 3, 3, None),
        (259, 3, 1, 1),
        (262, 3, 1, 2),
        (273, 4, 1, None),
        (277, 3, 1, 3),
        (278, 4, 1, h),
        (279, 4, 1, len(data)),
        (284, 3, 1, 1),
    ]
    ifd_size = 2 + 12 * len(entries) + 4
    bps_at = 8 + ifd_size
    data_at = bps_at + 6
    ifd = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        if tag == 258:
            value = bps_at
        if tag == 273:
            value = data_at
        ifd += (
            struct.pack("<HHIHH", tag, typ, count, value, 0)
            if typ == 3
            else struct.pack("<HHII", tag, typ, count, value)
        )
    path.write_bytes(
        b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00\x00\x00\x00" + struct.pack("<HHH", 16, 16, 16) + data
    )


@pytest.mark.parametrize("writer,suffix", [(_png16_rgb, ".png"), (_tiff48, ".tif")])
def test_48_bit_rgb_scales_to_8_bit(tmp_path, writer, suffix):
    v8 = np.array([[[0, 100, 255], [37, 200, 128]]], np.uint16)
    f = tmp_path / f"deep{suffix}"
    writer(f, v8 * 257)
    photo = read_photo(f)
    np.testing.assert_array_equal(photo.pixels, v8.astype(np.uint8))


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_grey_scaled_not_clipped(tmp_path, suffix):
    v = np.array([[0, 257 * 100, 257 * 200, 65535, 300]], np.uint16)
    f = tmp_path / f"grey16{suffix}"
    Image.fromarray(v).save(f)
    with Image.open(f) as im:
        assert im.mode.startswith("I")
    photo = read_photo(f)
    assert photo.mode.startswith("I")
    np.testing.assert_array_equal(photo.pixels[0, :, 0], [0, 100, 200, 255, 1])
    np.testing.assert_array_equal(photo.pixels[..., 0], photo.pixels[..., 2])


def test_grayscale_and_palette(tmp_path):
    g = np.arange(60, dtype=np.uint8).reshape(6, 10) * 4
    Image.fromarray(g, "L").save(tmp_path / "g.png")
    p = read_photo(tmp_path / "g.png")
    assert p.mode == "L" and p.pixels.shape == (6, 10, 3)
    np.testing.assert_array_equal(p.pixels[..., 1], g)

    pal = Image.fromarray(upright_pattern()).quantize(16)
    pal.save(tmp_path / "p.png")
    q = read_photo(tmp_path / "p.png")
    assert q.mode == "P"
    np.testing.assert_array_equal(q.pixels, np.asarray(pal.convert("RGB")))


def test_palette_transparency_and_rgba_composite_onto_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 0)  # fully transparent red -> white
    rgba[0, 1] = (0, 0, 255, 255)  # opaque blue
    rgba[0, 2] = (0, 0, 0, 128)  # half black -> mid grey
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    p = read_photo(tmp_path / "a.png")
    assert p.mode == "RGBA"
    assert tuple(p.pixels[0, 0]) == (255, 255, 255)
    assert tuple(p.pixels[0, 1]) == (0, 0, 255)
    assert abs(int(p.pixels[0, 2, 0]) - 127) <= 1

    im = Image.new("P", (4, 4), 1)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.putpixel((0, 0), 0)
    im.save(tmp_path / "t.png", transparency=0)
    q = read_photo(tmp_path / "t.png")
    assert tuple(q.pixels[0, 0]) == (255, 255, 255) and tuple(q.pixels[1, 1]) == (255, 0, 0)

    Image.fromarray(np.dstack([np.full((3, 3), 0, np.uint8), np.full((3, 3), 0, np.uint8)]), "LA").save(
        tmp_path / "la.png"
    )
    assert read_photo(tmp_path / "la.png").pixels.min() == 255


def test_webp_lossless(tmp_path):
    up = upright_pattern()
    Image.fromarray(up).save(tmp_path / "w.webp", lossless=True)
    p = read_photo(tmp_path / "w.webp")
    assert p.format == "WEBP"
    np.testing.assert_array_equal(p.pixels, up)


def test_heic(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    up = upright_pattern(64, 48)
    Image.fromarray(up).save(tmp_path / "phone.heic", quality=95, exif=exif_bytes(1))
    p = read_photo(tmp_path / "phone.heic")
    assert p.size == (64, 48) and p.pixels.dtype == np.uint8
    assert np.abs(p.pixels.astype(int) - up).mean() < 8
    assert p.format in ("HEIF", "HEIC")


def test_icc_profile_kept_through_read_and_write(tmp_path):
    icc = srgb_icc()
    Image.fromarray(upright_pattern()).save(tmp_path / "in.jpg", icc_profile=icc)
    photo = read_photo(tmp_path / "in.jpg")
    assert photo.icc_profile == icc
    for suffix in (".jpg", ".png", ".tif", ".webp"):
        out = write_photo(tmp_path / f"out{suffix}", photo.pixels, source=photo)
        with Image.open(out) as im:
            assert im.info.get("icc_profile") == icc, suffix


# ---------------------------------------------------------------- bad input


def test_bad_files_raise_photo_error_naming_the_file(tmp_path):
    missing = tmp_path / "missing_one.jpg"
    empty = tmp_path / "empty_one.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes_one.jpg"
    text.write_text("not an image at all\n" * 20)
    good = tmp_path / "good.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (200, 300, 3), np.uint8)).save(good)
    trunc = tmp_path / "cut_one.jpg"
    trunc.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    png = tmp_path / "good.png"
    Image.fromarray(upright_pattern()).save(png)
    trunc_png = tmp_path / "cut_two.png"
    trunc_png.write_bytes(png.read_bytes()[:-40])
    for f, words in [
        (missing, "no such file"),
        (empty, "empty"),
        (text, "not an image"),
        (trunc, "truncated"),
        (trunc_png, "truncated"),
        (tmp_path, "not a file"),
    ]:
        with pytest.raises(PhotoError) as err:
            read_photo(f)
        assert str(f) in str(err.value) and words in str(err.value)
        assert isinstance(err.value, UserError)
        assert err.value.__cause__ is None  # no Pillow traceback chained for the user


def test_oversized_checked_before_decoding(tmp_path, monkeypatch):
    f = tmp_path / "huge.png"
    Image.new("RGB", (400, 300)).save(f)
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("decoded an oversized image"))
    with pytest.raises(PhotoError, match=r"huge\.png: 0\.12 megapixels is over the 0\.1 megapixel limit"):
        read_photo(f, max_pixels=100_000)


def _png_header_only(path: Path, w: int, h: int) -> None:
    """A PNG that claims w x h but holds almost no data: only the header may be read."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("w,h,mp", [(13000, 10000, "130.0"), (20000, 15000, "300.0")])
def test_default_limit_on_huge_headers(tmp_path, w, h, mp):
    f = tmp_path / "photo.png"
    _png_header_only(f, w, h)
    with pytest.raises(PhotoError) as err:
        read_photo(f)
    assert str(err.value) == f"{f}: {mp} megapixels is over the 120 megapixel limit"
    assert err.value.__cause__ is None


def test_pillow_bomb_error_never_leaks(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow refuses > 2000 px itself
    f = tmp_path / "bomb.png"
    Image.new("RGB", (100, 100)).save(f)
    with pytest.raises(PhotoError, match="bomb.png"):
        read_photo(f, max_pixels=500)
    # and our own, larger limit is honoured instead of Pillow's default
    assert read_photo(f, max_pixels=20_000).size == (100, 100)


# ---------------------------------------------------------------- writing


def test_write_refuses_source_and_protected_paths(tmp_path):
    src = tmp_path / "room.jpg"
    Image.fromarray(upright_pattern()).save(src)
    before = src.read_bytes()
    photo = read_photo(src)
    for target in (src, tmp_path / "." / "room.jpg"):
        with pytest.raises(PhotoError, match="room.jpg"):
            write_photo(target, photo.pixels, source=photo)
    other = tmp_path / "keep.png"
    other.write_bytes(b"x")
    with pytest.raises(PhotoError, match="keep.png"):
        write_photo(other, photo.pixels, protect=[other])
    if hasattr(os, "symlink"):
        link = tmp_path / "link.jpg"
        link.symlink_to(src)
        with pytest.raises(PhotoError):
            write_photo(link, photo.pixels, source=photo)
    assert src.read_bytes() == before and other.read_bytes() == b"x"


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    px = upright_pattern()
    out = write_photo(tmp_path / "a" / "b" / "out.jpg", px, metadata={"seed": 1})
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.jpg", "out.jpg.json"]
    old = out.read_bytes()

    def boom(self, fp, *a, **k):
        fp.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(PhotoError, match="out.jpg.*No space left"):
        write_photo(out, px)
    assert out.read_bytes() == old  # the earlier file is intact
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.jpg", "out.jpg.json"]


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"])
def test_metadata_in_file_and_sidecar(tmp_path, suffix):
    meta = {"job": "stage", "prompt": 'a "modern" <living> room, ünïcode', "seed": 42, "weights": [1.0, 0.3]}
    Image.fromarray(upright_pattern()).save(tmp_path / "src.jpg", exif=exif_bytes(1))
    source = read_photo(tmp_path / "src.jpg")
    out = write_photo(tmp_path / f"staged{suffix}", source.pixels, source=source, metadata=meta)
    side = tmp_path / f"staged{suffix}.json"
    assert json.loads(side.read_text(encoding="utf-8")) == meta
    assert read_metadata(out) == meta
    again = read_photo(out)
    assert again.size == (48, 32)
    ex = Image.Exif()
    ex.load(again.exif)
    assert ex[ExifTags.Base.Make] == "TestCam"  # EXIF carried alongside the record


def test_no_sidecar_when_disabled_or_no_metadata(tmp_path):
    write_photo(tmp_path / "a.png", upright_pattern(), metadata={"x": 1}, sidecar=False)
    write_photo(tmp_path / "b.png", upright_pattern())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]
    assert read_metadata(tmp_path / "a.png") == {"x": 1}
    assert read_metadata(tmp_path / "b.png") is None


def test_lossless_formats_roundtrip_and_jpeg_quality(tmp_path):
    px = np.random.default_rng(2).integers(0, 256, (40, 50, 3), np.uint8)
    for suffix in (".png", ".tif"):
        np.testing.assert_array_equal(read_photo(write_photo(tmp_path / f"x{suffix}", px)).pixels, px)
    smooth = upright_pattern(200, 120)
    jpg = read_photo(write_photo(tmp_path / "x.jpg", smooth)).pixels
    assert np.abs(jpg.astype(int) - smooth).mean() < 2.5
    with Image.open(tmp_path / "x.jpg") as im:
        from PIL import JpegImagePlugin

        assert JpegImagePlugin.get_sampling(im) == 0  # 4:4:4


def test_write_rejects_unknown_suffix(tmp_path):
    with pytest.raises(PhotoError, match=r"out\.bmp"):
        write_photo(tmp_path / "out.bmp", upright_pattern())


# ---------------------------------------------------------------- masks


def test_mask_roundtrip_threshold_and_orientation(tmp_path):
    m = np.zeros((30, 40), bool)
    m[5:20, 8:30] = True
    f = write_mask(tmp_path / "m" / "mask.png", m)
    with Image.open(f) as im:
        assert im.mode == "L" and set(np.unique(np.asarray(im))) == {0, 255}
    np.testing.assert_array_equal(read_mask(f, (40, 30)), m)

    g = np.array([[0, 127, 128, 255]], np.uint8)
    Image.fromarray(g, "L").save(tmp_path / "t.png")
    assert read_mask(tmp_path / "t.png", (4, 1)).tolist() == [[False, False, True, True]]

    # stored rotated with an orientation tag: read upright, like the photo
    Image.fromarray(m).transpose(T.ROTATE_90).save(tmp_path / "r.jpg", exif=exif_bytes(6), quality=100)
    np.testing.assert_array_equal(read_mask(tmp_path / "r.jpg", (40, 30)), m)


def test_mask_with_alpha_transparent_is_keep(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[:2, :, 3] = 255  # top half opaque white strokes, bottom half transparent white
    Image.fromarray(rgba, "RGBA").save(tmp_path / "brush.png")
    m = read_mask(tmp_path / "brush.png", (4, 4))
    assert m[:2].all() and not m[2:].any()


def test_mask_size_mismatch_names_both_sizes(tmp_path):
    Image.new("L", (64, 48)).save(tmp_path / "mask.png")
    with pytest.raises(PhotoError) as err:
        read_mask(tmp_path / "mask.png", (120, 80))
    assert "mask.png is 64x48 but the photo is 120x80" in str(err.value)
    with pytest.raises(PhotoError, match="empty"):
        (tmp_path / "z.png").write_bytes(b"")
        read_mask(tmp_path / "z.png", (1, 1))


def test_photo_dataclass():
    p = Photo(
        pixels=np.zeros((5, 7, 3), np.uint8), path=None, icc_profile=None, exif=None, format="PNG", mode="RGB"
    )
    assert p.size == (7, 5)
    assert issubclass(imio.PhotoError, UserError)
