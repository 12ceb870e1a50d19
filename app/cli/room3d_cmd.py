"""`room3d`: the room in 3D from one photo, as a coloured mesh (.glb, .ply) or point cloud.

    python main.py room3d PHOTO [--result IMAGE] -o ROOM.glb|ROOM.ply [--points] [--resolution N]
        [--focal-35mm MM] [--models ...] [--json]

The geometry comes from PHOTO; `--result` colours it with a staged or emptied result of it.
The camera comes from the photo's EXIF focal length (35 mm equivalent) where present, else the
depth model's estimate. Height, floor area and wall distances are printed as estimates.
"""

from __future__ import annotations

import sys
from pathlib import Path

from app import __version__
from app.cli.common import (
    Stopwatch,
    add_engine_options,
    check_outputs,
    emit_json,
    load_photo,
    models_folder,
    photo_input,
    run_alone,
)
from app.engine import ROOM_FORMATS as FORMATS
from app.engine import Room3DRequest, focal_35mm_from_exif, photo_fields, write_room
from app.errors import UserError
from app.imaging.targets import Input, named


def register(sub) -> None:
    p = sub.add_parser("room3d", help="the room in 3D (mesh or point cloud) with its measurements")
    p.add_argument("photo", metavar="PHOTO")
    p.add_argument("--result", default=None, metavar="IMAGE", help="colour the room with this result of PHOTO")
    p.add_argument("-o", "--output", required=True, metavar="ROOM.glb|ROOM.ply")
    p.add_argument("--points", action="store_true", help="a point cloud instead of a mesh")
    p.add_argument("--resolution", type=int, default=768, metavar="N", help="vertices on the long side (default 768)")
    p.add_argument("--focal-35mm", type=float, default=None, metavar="MM",
                   help="the lens's 35 mm equivalent focal length, when the photo's EXIF lacks it")
    add_engine_options(p)
    p.set_defaults(run=run_room3d_command)


def run_room3d_command(args) -> int:
    clock = Stopwatch()
    out = Path(args.output)
    if out.suffix.lower() not in FORMATS:
        raise UserError(f"{out}: write a .glb or a .ply file")
    photo = load_photo(args.photo)
    protect = [photo_input(photo.path), models_folder(args.models)]
    result_img = None
    if args.result:
        other = load_photo(args.result)
        if other.pixels.shape != photo.pixels.shape:
            raise UserError(f"{args.result}: the result is {other.size[0]}x{other.size[1]} but {photo.path.name} is "
                            f"{photo.size[0]}x{photo.size[1]}: give a result of this photo")
        result_img, protect = other.pixels, protect + [Input(other.path, "the result to colour the room with")]
    focal = args.focal_35mm if args.focal_35mm is not None else focal_35mm_from_exif(photo.exif)
    request = Room3DRequest(**photo_fields(photo, args), result=result_img, focal_35mm=focal,
                               max_side=args.resolution, points=args.points)
    request.validate()
    check_outputs(protect, [named(out, *FORMATS), named(out.with_name(out.name + ".json"))])  # before the job
    room = run_alone(args, request)
    m = room.measurements
    meta = {"app": f"RoomStager {__version__}", "request": request.to_dict(), "measurements": m,
            "result": args.result}
    write_room(out, room, metadata=meta, protect=protect)
    report = {"output": str(out), "vertices": int(len(room.vertices)),
              "faces": int(len(room.faces)) if room.faces is not None else 0,
              "height_m": m["height_m"], "floor_area_m2": m["floor_area_m2"], "width_m": m["width_m"],
              "length_m": m["length_m"], "focal_px": m["focal_px"], "focal_source": m["camera"]["source"],
              "camera_height_m": m["camera_height_m"], "depth_model": m.get("depth_model"),
              "estimates": m["note"], "timings": {**room.timings, "total_s": clock()}}
    if args.json:
        emit_json(report)
    else:
        print(out)
        if m["floor_area_m2"] is None:
            print(f"{m['note']} (focal {m['focal_px']:.0f} px from {m['camera']['source']})", file=sys.stderr)
        else:
            height = f"{m['height_m']:.2f} m" if m["height_m"] else "not measured (no ceiling in view)"
            print(f"estimates: room height {height}, floor {m['width_m']:.2f} x {m['length_m']:.2f} m "
                  f"= {m['floor_area_m2']:.1f} m2 (focal {m['focal_px']:.0f} px from {m['camera']['source']})",
                  file=sys.stderr)
    return 0
