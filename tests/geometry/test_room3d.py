"""The room in 3D: measurements of a box room of known size, the camera from EXIF, the mesh files,
the metric depth models of the tiny set, and the command line."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
import trimesh
from PIL import ExifTags, Image

import app.cli.common  # noqa: F401  (imported at collection: ProgressPrinter binds sys.stderr when imported)
from app.cli import main
from app.engine import Room3DRequest
from app.engine.geometry.camera import focal_35mm_from_exif, focal_px_from_35mm, make_intrinsics
from app.engine.geometry.synthetic import BoxRoom
from app.errors import UserError


@pytest.fixture
def seeing_depth(monkeypatch):
    """teach(photo, depth, fov): the metric depth model returns this depth (and field of view) for that photo."""
    from app.engine.geometry.metric_depth import MetricDepth

    known: dict[bytes, tuple[np.ndarray, float | None]] = {}
    asked: list[float | None] = []

    def predict(self, photo, focal_px=None):
        asked.append(focal_px)
        return known[np.ascontiguousarray(photo).tobytes()]

    monkeypatch.setattr(MetricDepth, "predict", predict)

    def teach(photo, depth, fov=None):
        known[np.ascontiguousarray(photo).tobytes()] = (depth, fov)

    teach.asked = asked
    return teach


def within(value, truth, tolerance=0.05):
    return value is not None and abs(value - truth) <= tolerance * truth


@pytest.mark.parametrize("room", [
    BoxRoom(),
    BoxRoom(width=3.2, length=6.0, height=3.0, camera=(-0.6, 1.2, 0.1), yaw_deg=-20.0, pitch_deg=-4.0),
], ids=["turned-right", "turned-left"])
def test_box_room_floor_height_and_area_within_5_percent(engine, seeing_depth, room):
    photo, depth, focal = room.render(640, 480, hfov_deg=90.0)
    seeing_depth(photo, depth, 90.0)
    result = engine.run(Room3DRequest(photo=photo, models="tiny", model_set="tiny", max_side=640))
    m = result.measurements
    assert within(m["camera_height_m"], room.camera[1]), m
    assert within(m["height_m"], room.height), m
    assert within(m["floor_area_m2"], room.width * room.length), m
    assert within(m["width_m"], room.width) and within(m["length_m"], room.length), m
    assert m["camera"]["source"] == "model" and m["focal_px"] == pytest.approx(focal, rel=1e-6)
    # the floor plane is y = 0: every floor pixel's vertex lies on it, every ceiling pixel's at the height
    floor_px = (photo == (150, 110, 70)).all(axis=-1).reshape(-1)
    ceiling_px = (photo == (240, 240, 236)).all(axis=-1).reshape(-1)
    y = result.vertices[:, 1]
    assert np.abs(y[floor_px]).max() < 0.02 and np.abs(y[ceiling_px] - room.height).max() < 0.05
    assert result.faces is not None and len(result.faces) > len(result.vertices)


def test_exif_focal_length_sets_the_intrinsics(tmp_path):
    photo = Image.fromarray(np.zeros((400, 600, 3), np.uint8))
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.FocalLengthIn35mmFilm] = 24
    photo.save(tmp_path / "a.jpg", exif=exif)
    from app.imaging.io import read_photo

    f35 = focal_35mm_from_exif(read_photo(tmp_path / "a.jpg").exif)
    assert f35 == 24
    cam = make_intrinsics((600, 400), focal_35mm=f35, hfov_deg=50.0)
    # 24 mm on a 3:2 frame: f_px = 24 / 36 x width, and the EXIF wins over the model's estimate
    assert cam.source == "exif" and cam.fx == pytest.approx(24 / 36 * 600, rel=1e-6)
    assert make_intrinsics((600, 400), focal_35mm=48).fx == pytest.approx(2 * cam.fx)
    assert cam.hfov_deg == pytest.approx(math.degrees(2 * math.atan(18 / 24)), rel=1e-6)
    assert make_intrinsics((600, 400), hfov_deg=90.0).fx == pytest.approx(300.0) and \
        make_intrinsics((600, 400)).source == "default"
    # no 35 mm tag: the real focal length and the sensor size from the focal-plane resolution
    exif = Image.Exif()
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub.update({ExifTags.Base.FocalLength: 6.0, ExifTags.Base.FocalPlaneXResolution: 600 / 7.2,
                ExifTags.Base.FocalPlaneYResolution: 400 / 4.8, ExifTags.Base.FocalPlaneResolutionUnit: 4,
                ExifTags.Base.ExifImageWidth: 600, ExifTags.Base.ExifImageHeight: 400})
    assert focal_35mm_from_exif(exif.tobytes()) == pytest.approx(30.0, rel=1e-3)  # a 7.2 x 4.8 mm sensor: crop 5
    assert focal_35mm_from_exif(None) is None and focal_35mm_from_exif(b"not exif") is None


def test_exif_focal_reaches_the_depth_model_and_the_mesh(engine, seeing_depth):
    room = BoxRoom()
    photo, depth, _ = room.render(600, 400, hfov_deg=90.0)
    seeing_depth(photo, depth, 70.0)
    result = engine.run(Room3DRequest(photo=photo, models="tiny", model_set="tiny", focal_35mm=18.0, max_side=300))
    expected = focal_px_from_35mm(18.0, (600, 400))
    assert seeing_depth.asked[-1] == pytest.approx(expected), "Depth Pro scales its depth with the known focal"
    assert result.measurements["focal_px"] == pytest.approx(expected, abs=0.01)
    assert result.measurements["camera"]["source"] == "exif"


def test_the_tiny_metric_depth_models_load_from_the_catalog_and_predict(engine):
    from app.engine.geometry.metric_depth import MetricDepth
    from app.engine.models.optional import find_optional as find_model

    catalog = engine.models.catalog("tiny")
    assert find_model(catalog, "tiny", "metric_depth")[0] == "tiny-depth-pro"
    photo = np.random.default_rng(0).integers(0, 255, (90, 160, 3), dtype=np.uint8)
    for name, has_fov in (("tiny-depth-pro", True), ("tiny-depth-anything-metric", False)):
        model = MetricDepth(catalog.require(name), "cpu", __import__("torch").float32)
        depth, fov = model.predict(photo, focal_px=120.0)
        assert depth.shape == (90, 160) and depth.dtype == np.float32 and np.isfinite(depth).all()
        assert (depth >= 0.05).all() and (depth <= 200).all()
        assert (model.kind == "depth_pro") == has_fov
    with pytest.raises(UserError, match="relative depth model"):
        MetricDepth(catalog.require("tiny-depth"), "cpu", __import__("torch").float32)


def test_without_a_floor_the_model_is_built_but_not_measured(engine, seeing_depth):
    photo = np.full((120, 160, 3), 200, np.uint8)
    seeing_depth(photo, np.full((120, 160), 2.0, np.float32), None)  # a flat wall, straight ahead
    result = engine.run(Room3DRequest(photo=photo, models="tiny", model_set="tiny"))
    assert result.measurements["floor_area_m2"] is None and "floor" in result.measurements["note"]
    assert len(result.vertices) == 120 * 160 and result.vertices[:, 2].max() < 0


# ---- the command line and the files ------------------------------------------------------------


@pytest.fixture
def room_files(tmp_path):
    room = BoxRoom()
    photo, _, _ = room.render(480, 320, hfov_deg=80.0)
    Image.fromarray(photo).save(tmp_path / "room.png")
    staged = photo.copy()
    staged[200:280, 150:330] = (30, 90, 200)  # "a blue sofa"
    Image.fromarray(staged).save(tmp_path / "staged.png")
    return tmp_path, photo, staged


def grid_colours(image, grid):
    return cv2.resize(image, tuple(grid), interpolation=cv2.INTER_AREA).reshape(-1, 3)


def test_glb_loads_back_in_trimesh_with_the_photos_colours(room_files, capsys):
    folder, photo, staged = room_files
    out = folder / "room.glb"
    rc = main(["room3d", str(folder / "room.png"), "--models", "tiny", "--resolution", "240", "-o", str(out),
               "--json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert {"output", "vertices", "height_m", "floor_area_m2", "focal_px"} <= set(report)
    assert report["output"] == str(out) and report["vertices"] == 240 * 160
    scene = trimesh.load(out)
    (mesh,) = scene.geometry.values()
    assert isinstance(mesh, trimesh.Trimesh) and len(mesh.vertices) == 240 * 160 and len(mesh.faces) > 0
    colours = np.asarray(mesh.visual.vertex_colors)[:, :3]
    assert np.array_equal(colours, grid_colours(photo, (240, 160)))
    sidecar = json.loads((folder / "room.glb.json").read_text(encoding="utf-8"))
    assert sidecar["request"]["kind"] == "room3d" and sidecar["measurements"]["note"]  # random weights: no floor

    # a staged result: the same geometry, the result's colours
    rc = main(["room3d", str(folder / "room.png"), "--result", str(folder / "staged.png"), "--models", "tiny",
               "--resolution", "240", "-o", str(folder / "staged.ply"), "--points"])
    assert rc == 0
    cloud = trimesh.load(folder / "staged.ply")
    assert isinstance(cloud, trimesh.PointCloud)
    assert np.allclose(np.asarray(cloud.vertices), np.asarray(mesh.vertices), atol=1e-5)
    assert np.array_equal(np.asarray(cloud.colors)[:, :3], grid_colours(staged, (240, 160)))


@pytest.mark.parametrize("args, message", [
    (["-o", "room.obj"], "write a .glb or a .ply file"),
    (["--result", "small.png", "-o", "r.glb"], "small.png: the result is 40x30 but room.png is 480x320"),
    (["--resolution", "10", "-o", "r.glb"], "--resolution must be between 64 and 4096 (got 10)"),
    (["--focal-35mm", "-3", "-o", "r.glb"], "--focal-35mm must be in [4, 2000] (got -3)"),
    (["-o", "room.png.json"], "write a .glb or a .ply"),
])
def test_room3d_bad_input_exits_2_naming_the_problem(room_files, capsys, monkeypatch, args, message):
    folder, _, _ = room_files
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(folder / "small.png")
    monkeypatch.chdir(folder)
    rc = main(["room3d", str(folder / "room.png"), "--models", "tiny", *args])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err
