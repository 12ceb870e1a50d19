"""Repaint around the model at 24 MP, and the room in 3D: mesh build, size, write and view render times."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from app.engine.geometry.camera import make_intrinsics
from app.engine.geometry.export import write_room
from app.engine.geometry.render import home_orbit, render_points
from app.engine.geometry.room import reconstruct
from app.engine.geometry.synthetic import BoxRoom
from app.engine.requests import RepaintRequest
from app.engine.worker import Engine


def bench_repaint(photo: np.ndarray) -> dict:
    """A repaint job around a kept object on the full photo, tiny model: the time around the model."""
    h, w = photo.shape[:2]
    keep = np.zeros((h, w), bool)
    keep[int(h * 0.45):int(h * 0.85), int(w * 0.3):int(w * 0.7)] = True
    engine = Engine(models="tiny", device="cpu")
    try:
        small = np.ascontiguousarray(photo[::8, ::8])
        engine.run(RepaintRequest(photo=small, mode="keep", mask=keep[::8, ::8], prompts=["warm up"], models="tiny",
                                  model_set="tiny", steps=2, seed=1))
        t0 = time.perf_counter()
        result = engine.run(RepaintRequest(photo=photo, mode="keep", mask=keep, prompts=["a garden in spring"],
                                           models="tiny", model_set="tiny", steps=2, seed=1))
        total = time.perf_counter() - t0
    finally:
        engine.shutdown()
    model = result.timings["diffusion_s"]
    return {"repaint_24mp_total_s": round(total, 3), "repaint_24mp_diffusion_s": round(model, 3),
            "repaint_24mp_around_model_s": round(total - model, 3),
            "repaint_24mp_kept_identical": bool(np.array_equal(result.images[0][keep], photo[keep]))}


def bench_room3d(photo: np.ndarray) -> dict:
    """Mesh build (depth at the model's 1536 px, colours from the full photo) and .glb size, and the
    3D view's point renderer."""
    h, w = photo.shape[:2]
    s = 1536 / max(w, h)
    _, depth, _ = BoxRoom().render(round(w * s), round(h * s), hfov_deg=80.0)
    camera = make_intrinsics((w, h), hfov_deg=80.0)
    t0 = time.perf_counter()
    room = reconstruct(depth, camera, photo, max_side=768)
    build = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = write_room(Path(tmp) / "room.glb", room)
        write = time.perf_counter() - t0
        size = path.stat().st_size
    orbit = home_orbit(room.vertices)
    times = {}
    for px in (1, 2):
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            render_points(room.vertices, room.colors, orbit, (800, 600), point_px=px)
            runs.append(time.perf_counter() - t0)
        times[px] = min(runs)
    m = room.measurements
    return {"mesh_24mp_build_s": round(build, 3), "mesh_24mp_vertices": int(len(room.vertices)),
            "mesh_24mp_faces": int(len(room.faces)), "mesh_24mp_glb_mb": round(size / 1e6, 2),
            "mesh_24mp_write_s": round(write, 3), "mesh_24mp_floor_area_m2": m["floor_area_m2"],
            "view3d_points": int(len(room.vertices)), "view3d_render_800x600_ms": round(times[2] * 1000, 1),
            "view3d_render_800x600_1px_ms": round(times[1] * 1000, 1)}
