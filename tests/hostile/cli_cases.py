"""The hostile-input table of the commands: each case builds its files in a scratch folder and
gives the command line, the exit code and a fragment the message must hold. To cover a new
file type or option, add a row.

Paths are refused before any job runs; nothing an input holds is ever changed (each row names
the files that must keep their bytes), and no payload inside a model file ever runs."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import draw_room, sofa_mask
from tests.hostile import makers


@dataclass(frozen=True)
class Case:
    name: str
    args: Callable[[Path], list]  # builds what it needs under the scratch folder, returns argv
    rc: int
    says: str
    untouched: tuple[str, ...] = ("room.png", "mask.png")  # names under the folder whose bytes must not change
    needs_models: bool = False  # runs a job on the tiny models (slower)
    extra: dict = field(default_factory=dict)


def world(d: Path) -> Path:
    """The ordinary inputs every case starts from."""
    d.mkdir(parents=True, exist_ok=True)
    Image.fromarray(draw_room(320, 240)).save(d / "room.png")
    Image.fromarray(sofa_mask(320, 240).astype(np.uint8) * 255).save(d / "mask.png")
    return d


STAGE = ["stage", "room.png", "--mask", "mask.png", "--models", "tiny", "--steps", "1"]
SEGMENT = ["segment", "room.png", "--point", "160,150", "--models", "tiny"]


def _link(d: Path, name: str, to: str) -> str:
    (d / name).symlink_to(d / to)
    return name


def _hard(d: Path, name: str, to: str) -> str:
    os.link(d / to, d / name)
    return name


def _dir(d: Path, name: str) -> str:
    (d / name).mkdir()
    return name


def _loop(d: Path) -> str:
    (d / "loop-a.png").symlink_to(d / "loop-b.png")
    (d / "loop-b.png").symlink_to(d / "loop-a.png")
    return "loop-a.png"


def _read_only(d: Path) -> str:
    ro = d / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    return str(ro / "out.png") if not os.access(ro, os.W_OK) else "/proc/out.png"  # root writes anywhere else


def _guides_dir(d: Path) -> str:
    (d / "g").mkdir()
    (d / "g" / "staging_area.png").write_bytes((d / "room.png").read_bytes())
    return "g/staging_area.png"


def _empty_rooms(d: Path) -> str:
    (d / "empty").mkdir()
    (d / "empty" / "a.png").write_bytes((d / "room.png").read_bytes())
    return "empty"


def _file(d: Path, name: str, make) -> str:
    make(d / name)
    return name


PATHS = [
    Case("segment over its photo", lambda d: [*SEGMENT, "-o", "room.png"], 2, "is the original photo"),
    Case("segment over a link to its photo", lambda d: [*SEGMENT, "-o", _link(d, "l.png", "room.png")], 2,
         "is the same file as"),
    Case("segment over a hard link to its photo", lambda d: [*SEGMENT, "-o", _hard(d, "h.png", "room.png")], 2,
         "is the same file as"),
    Case("segment over its photo spelled with ..", lambda d: [*SEGMENT, "-o", f"{_dir(d, 'sub')}/../room.png"], 2,
         "the original photo"),
    Case("stage over its mask", lambda d: [*STAGE, "-o", "mask.png"], 2, "is the mask of this job"),
    Case("guides into the folder of its photo", lambda d: ["guides", _guides_dir(d), "--models", "tiny", "-o", "g"],
         2, "is the original photo", untouched=("room.png", "g/staging_area.png")),
    Case("an unknown output format", lambda d: [*STAGE, "-o", "x.gif"], 2, "'.gif'"),
    Case("an output that is a folder", lambda d: [*STAGE, "-o", _dir(d, "out.png")], 2, "is a folder"),
    Case("an output under a file", lambda d: [*STAGE, "-o", "room.png/x.png"], 2, "is a file"),
    Case("an output in a read-only place", lambda d: [*STAGE, "-o", _read_only(d)], 2, "cannot write in"),
    Case("a photo that is a symlink loop", lambda d: ["stage", _loop(d), "--models", "tiny", "-o", "x.png"], 2,
         "loops back on itself"),
    Case("a missing photo", lambda d: ["stage", "nothing.png", "--models", "tiny", "-o", "x.png"], 2,
         "no such file"),
    Case("a mask written as JPEG", lambda d: [*SEGMENT, "-o", "m.jpg"], 2, "masks are written as PNG"),
    Case("object masks into a file", lambda d: ["segment", "room.png", "--auto", "furniture", "--models", "tiny",
                                                "--objects-dir", "mask.png", "-o", "m.png"], 2, "is a file, not a folder"),
    Case("an evaluation report inside its photos", lambda d: ["eval-defurnish", _empty_rooms(d), "--models", "tiny",
                                                              "-o", "empty/report.json"], 2,
         "inside empty, the folder of empty rooms"),
    Case("an evaluation report that is not JSON", lambda d: ["eval-defurnish", _empty_rooms(d), "--models", "tiny",
                                                             "-o", "report.txt"], 2, "the report is JSON"),
    Case("an evaluation saving into its photos", lambda d: ["eval-defurnish", _empty_rooms(d), "--models", "tiny",
                                                            "--save-dir", "empty/out", "-o", "r.json"], 2,
         "input folder"),
]

NUMBERS = [
    Case("guidance NaN", lambda d: [*STAGE, "--guidance", "nan", "-o", "x.png"], 2, "finite"),
    Case("guidance infinity", lambda d: [*STAGE, "--guidance", "inf", "-o", "x.png"], 2, "finite"),
    Case("strength minus infinity", lambda d: [*STAGE, "--strength=-inf", "-o", "x.png"], 2, "finite"),
    Case("LoRA scale NaN", lambda d: [*STAGE, "--lora-scale", "NaN", "-o", "x.png"], 2, "finite"),
    Case("a point at NaN", lambda d: ["segment", "room.png", "--point", "nan,3", "--models", "tiny", "-o", "m.png"],
         2, "finite"),
    Case("a box to infinity", lambda d: ["segment", "room.png", "--box", "0,0,inf,5", "--models", "tiny",
                                         "-o", "m.png"], 2, "finite"),
    Case("a floor band of NaN", lambda d: ["segment", "room.png", "--auto", "floor", "--band", "nan", "--models",
                                           "tiny", "-o", "m.png"], 2, "finite"),
    Case("a detector threshold of infinity", lambda d: ["defurnish", "room.png", "--auto", "--box-threshold", "inf",
                                                        "--models", "tiny", "-o", "x.png"], 2, "finite"),
    Case("evaluation guidance NaN", lambda d: ["eval-defurnish", _empty_rooms(d), "--guidance", "nan", "-o", "r.json"],
         2, "finite"),
    Case("GPU memory of NaN", lambda d: ["models", "list", "--vram", "nan"], 2, "finite"),
    Case("JPEG quality 0", lambda d: [*STAGE, "--quality", "0", "-o", "x.jpg"], 2, "from 1 to 100"),
]

MARK = "payload-ran"

MODEL_FILES = [
    Case("a TorchScript LoRA", lambda d: [*STAGE, "--lora", _file(d, "l.safetensors", makers.torchscript), "-o",
                                          "x.png"], 2, "TorchScript"),
    Case("a pickle LoRA that would run code",
         lambda d: [*STAGE, "--lora", _file(d, "l.safetensors", lambda p: makers.pickle_bomb(p, d / MARK)),
                    "-o", "x.png"], 2, "pickle"),
    Case("a LoRA whose header length lies", lambda d: [*STAGE, "--lora", _file(
        d, "l.safetensors", lambda p: makers.safetensors_raw(p, {}, declared=2**40)), "-o", "x.png"], 2,
         "not a readable .safetensors"),
    Case("a LoRA whose metadata is not a table", lambda d: [*STAGE, "--lora", _file(
        d, "l.safetensors", lambda p: makers.safetensors_raw(p, {"__metadata__": [1, 2]})), "-o", "x.png"], 2,
         "damaged .safetensors header"),
    Case("a LoRA whose tensor overruns the file", lambda d: [*STAGE, "--lora", _file(
        d, "l.safetensors", lambda p: makers.safetensors_raw(
            p, {"a.lora_down.weight": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 4000]}})), "-o", "x.png"],
         2, "truncated"),
    Case("a LoRA whose shape does not fill its bytes", lambda d: [*STAGE, "--lora", _file(
        d, "l.safetensors", lambda p: makers.safetensors_raw(
            p, {"a.lora_down.weight": {"dtype": "F32", "shape": [3], "data_offsets": [0, 4]}}, b"\0" * 4)),
        "-o", "x.png"], 2, "does not fill"),
    Case("a checkpoint given as a LoRA", lambda d: [*STAGE, "--lora", _file(
        d, "l.safetensors", makers.lama_wrong_shapes), "-o", "x.png"], 2, "not a LoRA"),
    Case("importing a TorchScript .safetensors", lambda d: ["models", "import", _file(
        d, "m.safetensors", makers.torchscript), "--models", "mm"], 2, "TorchScript"),
    Case("importing a TorchScript .pt", lambda d: ["models", "import", _file(d, "m.pt", makers.torchscript),
                                                   "--models", "mm"], 2, "TorchScript"),
    Case("importing a pickle .pth that would run code", lambda d: ["models", "import", _file(
        d, "m.pth", lambda p: makers.pickle_bomb(p, d / MARK)), "--models", "mm"], 2, "pickle"),
    Case("importing a damaged header", lambda d: ["models", "import", _file(
        d, "m.safetensors", lambda p: makers.safetensors_raw(p, {"x": {"dtype": "F32", "shape": "big"}})),
        "--models", "mm"], 2, "damaged .safetensors header"),
    Case("importing a LaMa erase model (accepted)", lambda d: ["models", "import", _file(
        d, "lama.safetensors", makers.tiny_lama), "--models", "mm"], 0, "erase"),
]


def with_models(name: str, rel: str, make, args: list, says: str) -> Case:
    """A job on the tiny models with one file replaced by a hostile one."""
    def build(d: Path) -> list:
        root = makers.models_with(d / "models", Path(os.environ["ROOMSTAGER_HOSTILE_TINY"]),
                                  {rel: lambda p: make(p, d)})
        return [*args, "--models", str(root), "--model-set", "tiny"]
    return Case(name, build, 2, says, needs_models=True)


IN_PLACE = [
    with_models("a TorchScript file as the erase model", "erase/tiny-erase.safetensors",
                lambda p, d: makers.torchscript(p),
                ["defurnish", "room.png", "--mask", "mask.png", "--steps", "1", "--prefill", "erase", "-o", "x.png"],
                "TorchScript"),
    with_models("an erase model that is not LaMa", "erase/tiny-erase.safetensors",
                lambda p, d: makers.lama_wrong_shapes(p),
                ["defurnish", "room.png", "--mask", "mask.png", "--steps", "1", "--prefill", "erase", "-o", "x.png"],
                "not a LaMa erase model"),
    with_models("a pickle that would run code as the SAM model", "sam/tiny-sam.pth",
                lambda p, d: makers.pickle_bomb(p, d / MARK),
                ["segment", "room.png", "--point", "160,150", "-o", "m.png"], "pickle"),
]

def _text(d: Path, name: str, data: bytes) -> str:
    (d / name).parent.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)
    return name


def _jobs(d: Path, rows: str) -> str:
    (d / "jobs.csv").write_text("photo,task,mask,style,room,prompt,seed,variations\n" + rows, encoding="utf-8")
    return "jobs.csv"


REPAINT = ["repaint", "room.png", "--region", "walls", "--prompt", "sage green walls", "--models", "tiny"]

# The commands that came with repainting, the room in 3D, text selection, batches and training.
NEWER = [
    Case("repaint over its photo", lambda d: [*REPAINT, "-o", "room.png"], 2, "is the original photo"),
    Case("repaint over its keep mask", lambda d: ["repaint", "room.png", "--keep", "mask.png", "--prompt", "x",
                                                  "--models", "tiny", "-o", "mask.png"], 2, "is the mask of this job"),
    Case("repaint with infinite guidance", lambda d: [*REPAINT, "--guidance", "inf", "-o", "x.png"], 2,
         "must be a finite number"),
    Case("repaint with a binary prompt file", lambda d: ["repaint", "room.png", "--region", "walls", "--prompt-file",
                                                         _text(d, "p.txt", b"\xff\xfe\x00bad"), "--models", "tiny",
                                                         "-o", "x.png"], 2, "p.txt"),
    Case("room3d into an unknown format", lambda d: ["room3d", "room.png", "--models", "tiny", "-o", "room.obj"], 2,
         ".glb or a .ply"),
    Case("room3d over its photo", lambda d: ["room3d", "room.png", "--models", "tiny", "-o",
                                             _link(d, "room.glb", "room.png")], 2, "is the same file as"),
    Case("room3d coloured by a damaged result", lambda d: ["room3d", "room.png", "--result",
                                                           _text(d, "r.png", b"\x89PNG\r\n\x1a\nbroken"),
                                                           "--models", "tiny", "-o", "x.glb"], 2, "r.png"),
    Case("text selection over its photo", lambda d: ["segment", "room.png", "--text", "sofa", "--models", "tiny",
                                                     "-o", "room.png"], 2, "is the original photo"),
    Case("text selection with a NaN score", lambda d: ["segment", "room.png", "--text", "sofa", "--min-score", "nan",
                                                       "--models", "tiny", "-o", "m.png"], 2, "finite"),
    Case("a batch job file that is not a CSV", lambda d: ["batch", _text(d, "jobs.csv", b"\x00\x01\x02" * 100),
                                                          "--models", "tiny", "-o", "out"], 2, "jobs.csv"),
    Case("a batch row with an unknown task", lambda d: ["batch", _jobs(d, "room.png,paint,,,,,,\n"),
                                                        "--models", "tiny", "-o", "out"], 2, "paint"),
    Case("a batch output folder that is a file", lambda d: [
        "batch", _jobs(d, "room.png,stage,mask.png,,,,1,1\n"), "--models", "tiny", "--steps", "1",
        "-o", _text(d, "out", b"a file of the user's")], 2, "out", untouched=("room.png", "mask.png", "out")),
    Case("a batch whose output name is a file of the user's", lambda d: [
        "batch", _jobs(d, "room.png,stage,mask.png,,,,1,1\n"), "--models", "tiny", "--steps", "1",
        "-o", _text(d, "out/room-stage.png", b"the user's own file").split("/")[0]], 1, "room-stage.png",
        untouched=("room.png", "mask.png", "out/room-stage.png")),
    Case("a training run with a NaN learning rate", lambda d: ["train-lora", _dir(d, "ds"), "--task", "defurnish",
                                                               "--lr", "nan", "-o", "l.safetensors"], 2, "--lr"),
    Case("a training dataset folder that is not one", lambda d: ["train-lora", _dir(d, "ds"), "--task", "defurnish",
                                                                 "-o", "l.safetensors"], 2, "no manifest.jsonl in it"),
    Case("a dataset built into its own photos", lambda d: ["dataset", _empty_rooms(d), "--masks", _dir(d, "mk"),
                                                           "-o", "empty"], 2, "empty"),
    Case("repaint keeping an empty selection", lambda d: [
        "repaint", "room.png", "--keep", _file(d, "none.png", lambda p: Image.new("L", (320, 240)).save(p)),
        "--prompt", "x", "--models", "tiny", "-o", "x.png"], 2, "--keep is empty"),
    Case("repaint with a JPEG quality of 500", lambda d: [*REPAINT, "--quality", "500", "-o", "x.jpg"], 2,
         "--quality"),
    Case("a batch with a JPEG quality of 0", lambda d: ["batch", _jobs(d, "room.png,stage,mask.png,,,,1,1\n"),
                                                        "--models", "tiny", "--quality", "0", "-o", "out"], 2,
         "--quality"),
    Case("text selection with an unknown model set", lambda d: ["segment", "room.png", "--text", "sofa", "--model-set",
                                                                "nope", "--models", "tiny", "-o", "m.png"], 2,
         "unknown model set 'nope'"),
    Case("a photo imported as a model", lambda d: ["models", "import", "room.png", "--models", "mm"], 2,
         "not a model file RoomStager reads"),
    Case("an LPIPS heads file that is a pickle that would run code",
         lambda d: ["models", "import", _file(d, "alex.pth", lambda p: makers.pickle_bomb(p, d / MARK)),
                    "--models", "mm"], 2, "pickle"),
]

CASES = PATHS + NUMBERS + MODEL_FILES + IN_PLACE + NEWER
