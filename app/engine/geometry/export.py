"""Writing the room: a coloured mesh or point cloud as .glb (binary glTF, opens in any 3D
viewer and on the web) or .ply, with trimesh; the measurements go to a sidecar JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from app.engine.results import Room3DResult
from app.errors import UserError
from app.imaging.io import write_files
from app.imaging.targets import named

FORMATS = {".glb": "glb", ".ply": "ply"}


def scene_object(result: Room3DResult, colors: np.ndarray | None = None, points: bool | None = None):
    """A trimesh Trimesh (or PointCloud) of the result; `colors` recolours the same geometry."""
    import trimesh  # lazily: a third of a second to import, needed only when a room is written

    rgb = result.colors if colors is None else colors
    rgba = np.concatenate([rgb, np.full((len(rgb), 1), 255, np.uint8)], axis=1)
    if points or result.faces is None:
        return trimesh.PointCloud(result.vertices, colors=rgba)
    return trimesh.Trimesh(result.vertices, result.faces, vertex_colors=rgba, process=False, validate=False)


def write_room(path: str | Path, result: Room3DResult, *, colors: np.ndarray | None = None,
               points: bool | None = None, metadata: dict | None = None, protect=()) -> Path:
    """Write the room atomically (never over a protected file); `metadata` goes to `<file>.json`."""
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise UserError(f"{path}: cannot write '{path.suffix or 'no extension'}' files (use .glb or .ply)")
    side = path.with_name(path.name + ".json")
    parts = [(path, scene_object(result, colors, points).export(file_type=kind))]
    targets = [named(path, *FORMATS)]
    if metadata is not None:
        parts.append((side, (json.dumps(metadata, indent=2, default=str) + "\n").encode("utf-8")))
        targets.append(named(side))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_files(parts, protect, targets)  # the room and its record: both or neither
    return path
