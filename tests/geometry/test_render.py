"""The 3D view's point renderer and the planes it rests on (pure numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine.geometry.planes import ceiling_height, floor_plane, level_frame, manhattan_yaw
from app.engine.geometry.render import BACKGROUND, Orbit, home_orbit, render_points


def test_the_nearest_point_wins_and_points_behind_the_eye_are_not_drawn():
    orbit = Orbit(target=(0.0, 0.0, -5.0), distance=5.0)  # eye at the origin looking along -Z
    vertices = np.array([[0, 0, -3], [0, 0, -6], [0, 0, 2]], np.float32)  # near red, far blue, behind green
    colors = np.array([[255, 0, 0], [0, 0, 255], [0, 255, 0]], np.uint8)
    for order in ([0, 1, 2], [1, 0, 2], [2, 1, 0]):
        image = render_points(vertices[order], colors[order], orbit, (41, 31), point_px=2)
        assert tuple(image[15, 20]) == (255, 0, 0)
        assert not (image == (0, 255, 0)).all(axis=-1).any()
        assert (image == BACKGROUND).all(axis=-1).sum() == 41 * 31 - 4


def test_orbit_turns_around_the_target():
    orbit = Orbit(target=(0.0, 1.0, -2.0), yaw=np.pi / 2, distance=3.0)
    assert np.allclose(orbit.eye(), [3.0, 1.0, -2.0])
    view = orbit.view()
    target_in_view = view[:, :3] @ np.array([0.0, 1.0, -2.0]) + view[:, 3]
    assert np.allclose(target_in_view, [0, 0, -3.0])
    assert home_orbit(np.zeros((0, 3), np.float32)) == Orbit(), "an empty room starts from the default view"
    room = np.array([[0.0, 1.0, -4.0], [1.0, 1.5, -6.0], [-1.0, 0.2, -5.0]], np.float32)
    home = home_orbit(room)
    # half the 60th-percentile depth (5.2 m) back from it, at the points' median height
    assert np.isclose(home.distance, 2.6) and np.allclose(home.target, (0.0, 1.0, -2.3))


def test_floor_ransac_ignores_walls_and_clutter():
    rng = np.random.default_rng(1)
    # camera coordinates (y down): a floor 1.4 m below, tilted 10 degrees; a wall; random clutter
    tilt = np.radians(10)
    x, z = rng.uniform(-2, 2, 3000), rng.uniform(1, 6, 3000)
    floor = np.stack([x, 1.4 / np.cos(tilt) - np.tan(tilt) * z + rng.normal(0, 0.005, 3000), z], 1)
    wall = np.stack([rng.uniform(-2, 2, 2000), rng.uniform(-1, 1.4, 2000), np.full(2000, 6.0)], 1)
    clutter = rng.uniform([-2, -1, 1], [2, 1.4, 6], (1500, 3))
    points = np.concatenate([floor, wall, clutter])
    n, d, inliers = floor_plane(points, threshold=0.02)
    assert np.degrees(np.arccos(abs(n @ np.array([0.0, -np.cos(tilt), -np.sin(tilt)])))) < 1.0
    assert d == pytest.approx(1.4, abs=0.01)
    assert inliers[:3000].mean() > 0.98 and inliers[3000:5000].mean() < 0.05
    rot, t = level_frame(n, d)
    world = points @ rot.T + t
    assert np.abs(world[:3000, 1]).max() < 0.03, "the floor is y = 0 in the world frame"
    with pytest.raises(ValueError, match="floor is not in view"):
        floor_plane(wall)


def test_manhattan_yaw_and_ceiling_height():
    rng = np.random.default_rng(2)
    u = np.concatenate([rng.uniform(-2, 2, 1000), np.full(500, -2.0), np.full(500, 2.0)])
    v = np.concatenate([np.full(1000, -5.0), rng.uniform(-5, 0, 500), rng.uniform(-5, 0, 500)])
    angle = np.radians(20)
    xz = np.stack([u * np.cos(angle) - v * np.sin(angle), u * np.sin(angle) + v * np.cos(angle)], 1)
    assert np.degrees(manhattan_yaw(xz)) == pytest.approx(20, abs=0.3)
    heights = np.concatenate([rng.uniform(0, 2.7, 3000), np.full(1500, 2.7) + rng.normal(0, 0.004, 1500)])
    h, how = ceiling_height(heights)
    assert h == pytest.approx(2.7, abs=0.02) and how == "ceiling plane"
    h, how = ceiling_height(rng.uniform(0, 2.4, 3000))
    assert "lower bound" in how and h == pytest.approx(2.4, abs=0.05)
