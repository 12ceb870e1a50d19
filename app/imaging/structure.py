"""Edges for an empty-room inpaint: the room's long straight lines, drawn across a hole.

De-furnishing guides the model by the surrounding structure only: nothing of the
removed object's outline, but the floor/wall junctions, skirting and window frames
that run into the hole continue across it."""

from __future__ import annotations

import cv2
import numpy as np

from app.imaging import masks


def structure_edges(edges: np.ndarray, mask: np.ndarray, min_length: float = 0.06,
                    reach: float = 0.12) -> np.ndarray:
    """Canny edges for an empty-room inpaint: nothing inside the hole except the room's long
    straight lines that run into it from one side and out of it on the other (or into the
    frame's edge), drawn across. Lengths are fractions of the image's long side."""
    out = np.array(edges, dtype=np.uint8, copy=True)
    hole = np.asarray(mask, bool)
    out[hole] = 0
    if not hole.any():
        return out
    h, w = hole.shape
    side = max(h, w)
    reach_px = max(4, int(reach * side))
    near = masks.grow(hole, reach_px) & ~hole
    lines = cv2.HoughLinesP(np.where(near, out, 0).astype(np.uint8), 1, np.pi / 180,
                            threshold=max(8, int(0.03 * side)), minLineLength=max(6, int(min_length * side)),
                            maxLineGap=3)
    if lines is None:
        return out
    support = (cv2.dilate(out, np.ones((3, 3), np.uint8)) > 0) & ~hole
    segs = sorted((tuple(int(v) for v in seg) for seg in np.asarray(lines).reshape(-1, 4)),
                  key=lambda s: -np.hypot(s[2] - s[0], s[3] - s[1]))[:60]
    need = max(3, int(0.5 * min_length * side))
    drawn = np.zeros_like(out)
    for x1, y1, x2, y2 in segs:
        for a, b in _bridges(x1, y1, x2, y2, hole, support, reach_px, need):
            cv2.line(drawn, a, b, 255, 1, lineType=cv2.LINE_8)
    out[hole & (drawn > 0)] = 255
    return out


def _bridges(x1, y1, x2, y2, hole, support, reach_px, need):
    """Runs of the infinite line through (x1, y1)-(x2, y2) that cross the hole with edge
    support on both sides (or support on one side and the frame's edge on the other)."""
    h, w = hole.shape
    d = np.array([x2 - x1, y2 - y1], np.float64)
    n = np.hypot(*d)
    if n < 1:
        return []
    d /= n
    span = int(np.hypot(h, w)) + 2
    t = np.arange(-span, span + 1, dtype=np.float64)
    xs = np.rint(x1 + t * d[0]).astype(int)
    ys = np.rint(y1 + t * d[1]).astype(int)
    inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    xs, ys = xs[inside], ys[inside]
    if len(xs) < 2:
        return []
    in_hole = hole[ys, xs]
    sup = support[ys, xs]
    out = []
    i, n_pts = 0, len(xs)
    while i < n_pts:
        if not in_hole[i]:
            i += 1
            continue
        j = i
        while j + 1 < n_pts and in_hole[j + 1]:
            j += 1
        before = sup[max(0, i - reach_px):i].sum()
        after = sup[j + 1:j + 1 + reach_px].sum()
        at_start, at_end = i == 0, j == n_pts - 1
        if (before >= need or at_start) and (after >= need or at_end) and (before >= need or after >= need):
            out.append(((int(xs[i]), int(ys[i])), (int(xs[j]), int(ys[j]))))
        i = j + 1
    return out
