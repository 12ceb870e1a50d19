"""Draw resources/sample_room.jpg: an empty room in one-point perspective.

A procedural picture (no photo rights to worry about) with what staging needs
to see: a floor plane with wood planks, walls, a window with daylight, a door,
skirting boards and soft light falloff. Run: python scripts/make_sample_room.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

W, H = 1800, 1200
OUT = Path(__file__).resolve().parents[1] / "resources" / "sample_room.jpg"


def _poly(img, pts, colour):
    cv2.fillPoly(img, [np.array(pts, np.int32)], colour, lineType=cv2.LINE_AA)


def draw() -> np.ndarray:
    img = np.zeros((H, W, 3), np.uint8)
    # back wall rectangle and the vanishing point at its centre
    bx0, by0, bx1, by1 = 430, 230, 1370, 780
    _poly(img, [(0, 0), (W, 0), (bx1, by0), (bx0, by0)], (236, 234, 228))  # ceiling
    _poly(img, [(0, 0), (bx0, by0), (bx0, by1), (0, H)], (205, 196, 182))  # left wall
    _poly(img, [(W, 0), (bx1, by0), (bx1, by1), (W, H)], (214, 206, 192))  # right wall
    cv2.rectangle(img, (bx0, by0), (bx1, by1), (224, 217, 204), -1)  # back wall
    _poly(img, [(0, H), (bx0, by1), (bx1, by1), (W, H)], (150, 112, 78))  # floor
    # floor planks converging to the vanishing point, drawn on a layer clipped to the floor
    floor_mask = np.zeros((H, W), np.uint8)
    _poly(floor_mask, [(0, H), (bx0, by1), (bx1, by1), (W, H)], 255)
    planks = img.copy()
    vx, vy = (bx0 + bx1) / 2, (by0 + by1) / 2 - 40
    for i in range(-14, 15):
        x_bottom = W / 2 + i * 150
        t = (by1 - H) / (vy - H)
        x_top = x_bottom + (vx - x_bottom) * t
        cv2.line(planks, (int(x_bottom), H), (int(x_top), by1), (128, 94, 64), 2, cv2.LINE_AA)
    for k in range(1, 9):
        y = int(by1 + (H - by1) * (k / 9) ** 1.6)
        cv2.line(planks, (0, y), (W, y), (140, 104, 72), 1, cv2.LINE_AA)
    img = np.where(floor_mask[..., None] > 0, planks, img)
    # skirting boards
    cv2.line(img, (bx0, by1), (bx1, by1), (245, 245, 242), 8, cv2.LINE_AA)
    cv2.line(img, (0, H - 5), (bx0, by1), (245, 245, 242), 10, cv2.LINE_AA)
    cv2.line(img, (W, H - 5), (bx1, by1), (245, 245, 242), 10, cv2.LINE_AA)
    # window on the back wall with daylight
    wx0, wy0, wx1, wy1 = 760, 320, 1060, 640
    cv2.rectangle(img, (wx0 - 14, wy0 - 14), (wx1 + 14, wy1 + 14), (250, 250, 248), -1)
    sky = np.linspace(255, 205, wy1 - wy0)[:, None, None] * np.array([0.82, 0.9, 1.0])
    img[wy0:wy1, wx0:wx1] = np.clip(sky, 0, 255).astype(np.uint8)
    cv2.line(img, ((wx0 + wx1) // 2, wy0), ((wx0 + wx1) // 2, wy1), (250, 250, 248), 10)
    cv2.line(img, (wx0, (wy0 + wy1) // 2), (wx1, (wy0 + wy1) // 2), (250, 250, 248), 10)
    # door on the left wall (a trapezoid in perspective)
    _poly(img, [(150, 300), (300, 360), (300, 905), (150, 1050)], (176, 160, 140))
    _poly(img, [(165, 322), (288, 374), (288, 898), (165, 1036)], (190, 176, 156))
    cv2.circle(img, (275, 640), 7, (120, 110, 90), -1, cv2.LINE_AA)
    # daylight patch on the floor and gentle vignetting
    light = np.zeros((H, W), np.float32)
    _poly(light, [(700, 790), (1100, 790), (1260, 1100), (560, 1100)], 1.0)
    light = cv2.GaussianBlur(light, (0, 0), 40)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    vignette = 1 - 0.25 * (((xx - W / 2) / W) ** 2 + ((yy - H / 2) / H) ** 2) * 2
    out = img.astype(np.float32) * vignette[..., None] + light[..., None] * np.array([40, 36, 30])
    rng = np.random.default_rng(0)
    out += rng.normal(0, 1.6, out.shape)  # sensor-like grain so JPEG and SAM see texture
    return np.clip(out, 0, 255).astype(np.uint8)


if __name__ == "__main__":
    Image.fromarray(draw()).save(OUT, quality=92)
    print(OUT)
