"""From metric depth and a camera to the room: points or a mesh in a level world frame
(Y up, floor at y = 0, walls along the axes), with its measurements as labelled estimates.

Pure numpy and OpenCV: the engine job (geometry.room3d) feeds it a model's depth, tests
feed it the depth of a room whose size they know."""

from __future__ import annotations

import cv2
import numpy as np

from app.engine.geometry.camera import Intrinsics
from app.engine.geometry.planes import ceiling_height, floor_plane, level_frame, manhattan_yaw
from app.engine.results import Room3DResult

FIT_POINTS = 60_000  # a random sample of the points is plenty to fit planes
EDGE_RATIO = 0.08  # neighbours whose depths differ more than this are two surfaces: no triangle between
ESTIMATE_NOTE = ("estimates from one photo and a depth model: room height from the floor and ceiling planes, "
                 "width and length between the outermost walls in view (the length runs to the camera "
                 "when the wall behind it is not seen)")


def grid_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    w, h = size
    s = min(1.0, max_side / max(w, h))
    return max(2, round(w * s)), max(2, round(h * s))


def grid_pixels(size: tuple[int, int], grid: tuple[int, int]) -> np.ndarray:
    """Photo pixel coordinates (x, y) of the grid cells' centres, (gh*gw) x 2 float32."""
    (w, h), (gw, gh) = size, grid
    xs = (np.arange(gw, dtype=np.float32) + 0.5) * (w / gw) - 0.5
    ys = (np.arange(gh, dtype=np.float32) + 0.5) * (h / gh) - 0.5
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def grid_colors(image: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Each grid cell's colour: the photo (or a result of it) averaged over the cell."""
    small = cv2.resize(np.ascontiguousarray(image), grid, interpolation=cv2.INTER_AREA)
    return small.reshape(-1, 3).astype(np.uint8)


def grid_faces(depth: np.ndarray, ratio: float = EDGE_RATIO) -> np.ndarray:
    """Two triangles per grid square, except across depth edges (a chair in front of a wall)."""
    gh, gw = depth.shape
    idx = np.arange(gh * gw, dtype=np.int32).reshape(gh, gw)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    z = depth
    za, zb, zc, zd = z[:-1, :-1], z[:-1, 1:], z[1:, :-1], z[1:, 1:]

    def smooth(*zs):
        lo, hi = np.minimum.reduce(zs), np.maximum.reduce(zs)
        return (hi - lo) <= ratio * lo

    upper, lower = smooth(za, zb, zc), smooth(zb, zd, zc)
    # counter-clockwise seen from the camera once y points up (glTF's front faces)
    t1 = np.stack([a[upper], c[upper], b[upper]], axis=1)
    t2 = np.stack([b[lower], c[lower], d[lower]], axis=1)
    return np.concatenate([t1, t2]).astype(np.int32)


def reconstruct(depth: np.ndarray, camera: Intrinsics, colors_from: np.ndarray, max_side: int = 768,
                points_only: bool = False) -> Room3DResult:
    """Depth (metres along the optical axis, any size with the photo's aspect) and the photo's
    camera -> the room. `colors_from` is the photo or a result of it (same size as the photo)."""
    size = (camera.width, camera.height)
    grid = grid_size(size, max_side)
    z = cv2.resize(depth.astype(np.float32), grid, interpolation=cv2.INTER_NEAREST)
    pix = grid_pixels(size, grid)
    zf = z.reshape(-1)
    cam = np.stack([(pix[:, 0] - camera.cx) / camera.fx * zf, (pix[:, 1] - camera.cy) / camera.fy * zf, zf], axis=1)

    rng = np.random.default_rng(0)
    sample = rng.choice(len(cam), size=min(FIT_POINTS, len(cam)), replace=False)
    pts = cam[sample]
    lower = pix[sample, 1] > 0.55 * camera.height  # the floor is in the lower part of a room photo
    threshold = max(0.03, 0.01 * float(np.median(pts[:, 2])))
    try:
        n, d, floor_in = floor_plane(pts, candidates=lower, threshold=threshold)
    except ValueError as exc:  # a wall, a close-up: the model is still worth seeing, just not measurable
        return _unmeasured(cam, z, pix, camera, colors_from, grid, points_only, str(exc))
    rot, t = level_frame(n, d)
    world = cam @ rot.T + t
    sw = world[sample]
    height, how = ceiling_height(sw[~floor_in, 1])
    walls = ~floor_in & (sw[:, 1] > 0.2) & (sw[:, 1] < (height - 0.2 if height else 2.0))
    yaw = manhattan_yaw(sw[walls][:, [0, 2]])
    c, s = np.cos(yaw), np.sin(yaw)
    spin = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    world = world @ spin.T
    sw = world[sample]

    inside = sw[:, 1] > -0.3  # not below the floor (reflections, noise)
    if height:
        inside &= sw[:, 1] < height + 0.3
    xz = np.concatenate([sw[inside][:, [0, 2]], np.zeros((1, 2))])  # the camera stands in the room
    lo = np.minimum(np.percentile(xz, 0.5, axis=0), 0.0)
    hi = np.maximum(np.percentile(xz, 99.5, axis=0), 0.0)
    width, length = (hi - lo).tolist()
    measurements = {
        "height_m": round(height, 3) if height else None, "height_from": how,
        "width_m": round(width, 3), "length_m": round(length, 3), "floor_area_m2": round(width * length, 2),
        "camera_height_m": round(float(d), 3), "floor_points": round(float(floor_in.mean()), 3),
        "focal_px": round(camera.fx, 2), "camera": camera.to_dict(), "grid": list(grid), "note": ESTIMATE_NOTE,
    }
    faces = None if points_only else grid_faces(z)
    return Room3DResult(vertices=world.astype(np.float32), colors=grid_colors(colors_from, grid),
                        faces=faces, pixels=pix, measurements=measurements)


def _unmeasured(cam, z, pix, camera: Intrinsics, colors_from, grid, points_only: bool, why: str) -> Room3DResult:
    """No floor found: the room in the camera's own frame (level with the photo), no measurements."""
    world = cam * np.array([1.0, -1.0, -1.0])  # y up, looking along -Z
    world[:, 1] -= world[:, 1].min()  # the lowest point on y = 0
    measurements = {"height_m": None, "height_from": why, "width_m": None, "length_m": None,
                    "floor_area_m2": None, "camera_height_m": None, "floor_points": 0.0,
                    "focal_px": round(camera.fx, 2), "camera": camera.to_dict(), "grid": list(grid),
                    "note": f"no measurements: {why}"}
    faces = None if points_only else grid_faces(z)
    return Room3DResult(vertices=world.astype(np.float32), colors=grid_colors(colors_from, grid), faces=faces,
                        pixels=pix, measurements=measurements)
