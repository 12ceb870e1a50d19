"""Synthetic rooms for the automatic-mask tests: a perspective box (ceiling, walls, floor
with planks), a window with a radiator under it, a door, a ceiling light, and
furniture-like shapes (sofa, coffee table, two chairs, floor lamp, plant, rug) with
contact shadows on the floor. Drawn together with the label map an ADE20K model would
give, so the pure logic can be tested against known answers."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

# ADE20K-like label map, deliberately not in ADE20K's order, 1-based, with its quirks:
# synonyms after ';' and the stray space of "bed ".
ID2LABEL = {
    1: "wall", 2: "floor", 3: "ceiling", 4: "windowpane;window", 5: "door;double;door", 6: "radiator",
    7: "light;light;source", 8: "sofa;couch;lounge", 9: "coffee table;cocktail table", 10: "chair",
    11: "lamp", 12: "plant;flora;plant;life", 13: "rug;carpet;carpeting", 14: "bed ", 15: "cabinet",
    16: "countertop", 17: "painting;picture", 18: "person;individual", 19: "sky", 20: "curtain;drape",
}
ID = {"wall": 1, "floor": 2, "ceiling": 3, "window": 4, "door": 5, "radiator": 6, "light": 7, "sofa": 8,
      "coffee table": 9, "chair": 10, "lamp": 11, "plant": 12, "rug": 13, "bed": 14, "cabinet": 15,
      "countertop": 16, "painting": 17, "person": 18, "sky": 19, "curtain": 20}
STRUCTURE = ("wall", "floor", "ceiling", "window", "door", "radiator", "light", "countertop", "sky", "curtain")
FURNITURE = ("sofa", "coffee table", "chair", "lamp", "plant", "rug", "bed", "cabinet", "painting")


@dataclass
class Room:
    photo: np.ndarray  # H x W x 3 uint8
    labels: np.ndarray  # H x W int32 (ids of ID2LABEL)
    parts: dict[str, np.ndarray] = field(default_factory=dict)  # name -> bool mask
    furniture: list[tuple[str, np.ndarray]] = field(default_factory=list)  # one entry per object
    shadows: np.ndarray | None = None  # where shadows darken the floor

    def mask(self, *names) -> np.ndarray:
        out = np.zeros(self.labels.shape, bool)
        for n in names:
            out |= self.labels == ID[n]
        return out


def _fill(canvas, labels, poly_or_mask, colour, label_id):
    if isinstance(poly_or_mask, np.ndarray) and poly_or_mask.dtype == bool:
        m = poly_or_mask
    else:
        m = np.zeros(labels.shape, np.uint8)
        cv2.fillPoly(m, [np.round(np.asarray(poly_or_mask)).astype(np.int32)], 1)
        m = m.astype(bool)
    canvas[m] = colour
    labels[m] = label_id
    return m


def _rect(h, w, x0, y0, x1, y1):
    m = np.zeros((h, w), bool)
    m[int(y0):int(y1), int(x0):int(x1)] = True
    return m


def _ellipse(h, w, cx, cy, ax, ay):
    m = np.zeros((h, w), np.uint8)
    cv2.ellipse(m, (int(cx), int(cy)), (max(1, int(ax)), max(1, int(ay))), 0, 0, 360, 1, -1)
    return m.astype(bool)


def draw_room(w: int = 320, h: int = 240, seed: int = 0, rug: str = "small", with_furniture: bool = True,
              kitchen: bool = False) -> Room:
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    labels = np.zeros((h, w), np.int32)
    parts: dict[str, np.ndarray] = {}
    bx0, by0, bx1, by1 = 0.25 * w, 0.2 * h, 0.75 * w, 0.6 * h
    parts["ceiling"] = _fill(img, labels, [(0, 0), (w, 0), (bx1, by0), (bx0, by0)], (236, 234, 228), ID["ceiling"])
    parts["floor"] = _fill(img, labels, [(0, h), (w, h), (bx1, by1), (bx0, by1)], (150, 112, 78), ID["floor"])
    left = _fill(img, labels, [(0, 0), (bx0, by0), (bx0, by1), (0, h)], (200, 196, 186), ID["wall"])
    right = _fill(img, labels, [(w, 0), (bx1, by0), (bx1, by1), (w, h)], (196, 192, 182), ID["wall"])
    back = _fill(img, labels, _rect(h, w, bx0, by0, bx1, by1), (214, 208, 196), ID["wall"])
    parts["wall"] = left | right | back
    # planks converging to the vanishing point
    vx, vy = w / 2, 0.4 * h
    for k in range(-8, 9):
        x_bottom = w / 2 + k * w / 8
        t = (by1 - vy) / (h - vy)
        cv2.line(img, (int(x_bottom), h), (int(vx + (x_bottom - vx) * t), int(by1)), (128, 94, 64), 1)
    img[~parts["floor"]] = img[~parts["floor"]]  # lines only matter on the floor
    parts["window"] = _fill(img, labels, _rect(h, w, 0.33 * w, 0.26 * h, 0.5 * w, 0.46 * h), (225, 238, 250),
                            ID["window"])
    cv2.rectangle(img, (int(0.33 * w), int(0.26 * h)), (int(0.5 * w), int(0.46 * h)), (245, 245, 245), 2)
    parts["radiator"] = _fill(img, labels, _rect(h, w, 0.34 * w, 0.49 * h, 0.49 * w, 0.56 * h), (236, 236, 236),
                              ID["radiator"])
    for x in range(int(0.34 * w), int(0.49 * w), 4):
        cv2.line(img, (x, int(0.49 * h)), (x, int(0.56 * h)), (205, 205, 205), 1)
    parts["door"] = _fill(img, labels, [(0.86 * w, 0.12 * h), (0.95 * w, 0.06 * h), (0.95 * w, 0.86 * h),
                                        (0.86 * w, 0.74 * h)], (150, 120, 90), ID["door"])
    parts["light"] = _fill(img, labels, _ellipse(h, w, 0.5 * w, 0.08 * h, 0.05 * w, 0.02 * h), (255, 250, 230),
                           ID["light"])
    if kitchen:
        parts["countertop"] = _fill(img, labels, _rect(h, w, 0.55 * w, 0.44 * h, 0.74 * w, 0.47 * h), (90, 90, 95),
                                    ID["countertop"])
    furniture: list[tuple[str, np.ndarray]] = []
    shadows = np.zeros((h, w), bool)
    if with_furniture:
        def shadow(cx, cy, ax, ay):
            nonlocal shadows
            m = _ellipse(h, w, cx, cy, ax, ay) & parts["floor"]
            img[m] *= 0.62
            shadows |= m

        if rug == "small":
            furniture.append(("rug", _fill(img, labels, _ellipse(h, w, 0.5 * w, 0.86 * h, 0.2 * w, 0.06 * h),
                                           (170, 60, 60), ID["rug"])))
        elif rug == "wall-to-wall":
            carpet = parts["floor"].copy()
            carpet[: int(by1 + 4)] = False
            _fill(img, labels, carpet, (120, 130, 150), ID["rug"])
        shadow(0.5 * w, 0.74 * h, 0.2 * w, 0.025 * h)
        sofa = _rect(h, w, 0.31 * w, 0.6 * h, 0.69 * w, 0.73 * h) | _rect(h, w, 0.31 * w, 0.53 * h, 0.69 * w, 0.62 * h)
        furniture.append(("sofa", _fill(img, labels, sofa, (70, 80, 140), ID["sofa"])))
        shadow(0.5 * w, 0.93 * h, 0.12 * w, 0.02 * h)
        table = _ellipse(h, w, 0.5 * w, 0.86 * h, 0.11 * w, 0.025 * h) | _rect(h, w, 0.42 * w, 0.86 * h, 0.43 * w, 0.93 * h) \
            | _rect(h, w, 0.57 * w, 0.86 * h, 0.58 * w, 0.93 * h)
        furniture.append(("coffee table", _fill(img, labels, table, (110, 70, 40), ID["coffee table"])))
        for cx in (0.16, 0.78):
            shadow(cx * w, 0.88 * h, 0.05 * w, 0.015 * h)
            chair = _rect(h, w, (cx - 0.04) * w, 0.62 * h, (cx + 0.04) * w, 0.8 * h) \
                | _rect(h, w, (cx - 0.05) * w, 0.78 * h, (cx + 0.05) * w, 0.88 * h)
            furniture.append(("chair", _fill(img, labels, chair, (60, 110, 70), ID["chair"])))
        shadow(0.05 * w, 0.97 * h, 0.03 * w, 0.01 * h)
        lamp = _rect(h, w, 0.045 * w, 0.45 * h, 0.055 * w, 0.97 * h) | _ellipse(h, w, 0.05 * w, 0.43 * h, 0.03 * w, 0.03 * h)
        furniture.append(("lamp", _fill(img, labels, lamp, (240, 220, 160), ID["lamp"])))
        plant = _rect(h, w, 0.62 * w, 0.9 * h, 0.67 * w, 0.99 * h) | _ellipse(h, w, 0.645 * w, 0.86 * h, 0.04 * w, 0.05 * h)
        furniture.append(("plant", _fill(img, labels, plant, (50, 130, 50), ID["plant"])))
        # what the next object hides is not the earlier object any more
        furniture = [(n, m & (labels == ID[n])) for n, m in furniture]
        if kitchen:
            cab = _rect(h, w, 0.56 * w, 0.47 * h, 0.73 * w, 0.6 * h)
            furniture.append(("cabinet", _fill(img, labels, cab, (200, 200, 205), ID["cabinet"])))
    noise = rng.normal(0, 2.0, img.shape).astype(np.float32)
    photo = np.clip(np.rint(img + noise), 0, 255).astype(np.uint8)
    return Room(photo, labels, parts, furniture, shadows)
