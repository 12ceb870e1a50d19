"""A box room of known size seen by a pinhole camera: its exact depth map and a painted photo
(floor, walls, ceiling in different colours), for the 3D tests and `bench`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COLORS = {"floor": (150, 110, 70), "ceiling": (240, 240, 236), "left": (200, 180, 160), "right": (170, 190, 200),
          "back": (210, 205, 190), "front": (120, 120, 120)}


@dataclass
class BoxRoom:
    width: float = 4.0  # x, metres
    length: float = 5.0  # z (the camera looks along +z)
    height: float = 2.6
    camera: tuple[float, float, float] = (0.3, 1.5, 0.05)  # x, height, z (a step in from the front wall)
    yaw_deg: float = 12.0  # turn to the right
    pitch_deg: float = -8.0  # tilt down

    def render(self, w: int = 640, h: int = 480, hfov_deg: float = 90.0):
        """(photo HxWx3 uint8, depth HxW float32 along the optical axis, focal px)."""
        f = 0.5 * w / np.tan(np.radians(hfov_deg) / 2)
        xs, ys = np.meshgrid(np.arange(w) - (w - 1) / 2, np.arange(h) - (h - 1) / 2)
        rays = np.stack([xs / f, ys / f, np.ones_like(xs)], axis=-1)  # camera: x right, y down, z forward
        yaw, pitch = np.radians(self.yaw_deg), np.radians(self.pitch_deg)
        # world: x right, y up, z forward; camera y is down
        flip = np.diag([1.0, -1.0, 1.0])
        rx = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]])
        ry = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
        r = ry @ rx @ flip
        dirs = rays @ r.T
        o = np.array([self.camera[0], self.camera[1], self.camera[2]])
        planes = {"floor": (1, 0.0), "ceiling": (1, self.height), "left": (0, -self.width / 2),
                  "right": (0, self.width / 2), "front": (2, 0.0), "back": (2, self.length)}
        best_t = np.full((h, w), np.inf)
        best = np.zeros((h, w), np.int32)
        for k, (axis, value) in enumerate(planes.values()):
            with np.errstate(divide="ignore", invalid="ignore"):
                t = (value - o[axis]) / dirs[..., axis]
            t[~np.isfinite(t) | (t <= 1e-6)] = np.inf
            closer = t < best_t
            best_t[closer], best[closer] = t[closer], k
        depth = (best_t * rays[..., 2]).astype(np.float32)  # the ray's z in camera coordinates is 1
        photo = np.zeros((h, w, 3), np.uint8)
        for k, name in enumerate(planes):
            photo[best == k] = COLORS[name]
        return photo, depth, float(f)
