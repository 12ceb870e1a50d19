"""models/catalog.toml -> model entries and model sets, resolved to local files.

A models folder is laid out the way local diffusion tools do it; every entry's
`path` is relative to that folder (inpaint/NAME, controlnet/NAME, sam/NAME.pth,
depth/NAME, loras/NAME.safetensors, ...). A folder may carry its own
catalog.toml (the tiny test models do); its entries and sets extend the app's.
Resolving never touches the network.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from app.errors import ModelMissing, UserError

APP_ROOT = Path(__file__).resolve().parents[2]
APP_CATALOG = APP_ROOT / "models" / "catalog.toml"


def default_models_dir() -> Path:
    """The user's models folder: $ROOMSTAGER_MODELS, else models/ beside the app."""
    env = os.environ.get("ROOMSTAGER_MODELS")
    return Path(env).expanduser() if env else APP_ROOT / "models"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    role: str  # inpaint, controlnet-depth, controlnet-canny, controlnet-inpaint, sam, depth, ...
    path: str  # relative to the models folder
    arch: str | None = None  # sd15, sdxl
    info: dict = field(default_factory=dict, compare=False, hash=False)  # source, size, licence ...

    def local(self, root: Path) -> Path:
        return (root / self.path).resolve()


@dataclass(frozen=True)
class ModelSet:
    """Everything one staging / de-furnishing job loads, resolved to local paths."""

    name: str
    arch: str
    root: Path
    native: int  # the model's working resolution (long side ~ native, area ~ native^2)
    inpaint: Path
    controlnet_depth: Path | None
    controlnet_canny: Path | None
    controlnet_inpaint: Path | None
    sam: Path
    sam_type: str
    depth: Path | None
    entries: tuple[str, ...] = ()

    @property
    def multiple(self) -> int:
        return 64 if self.arch == "sdxl" else 8


_SET_ROLES = {
    "inpaint": "inpaint",
    "controlnet_depth": "controlnet-depth",
    "controlnet_canny": "controlnet-canny",
    "controlnet_inpaint": "controlnet-inpaint",
    "sam": "sam",
    "depth": "depth",
}


class Catalog:
    def __init__(self, entries: dict[str, ModelEntry], sets: dict[str, dict], root: Path):
        self.entries = entries
        self.sets = sets
        self.root = root

    @classmethod
    def load(cls, root: Path | str | None = None) -> Catalog:
        root = Path(root).expanduser().resolve() if root else default_models_dir().resolve()
        entries: dict[str, ModelEntry] = {}
        sets: dict[str, dict] = {}
        for path in (APP_CATALOG, root / "catalog.toml"):
            if path.is_file() and (path == APP_CATALOG or path.resolve() != APP_CATALOG.resolve()):
                e, s = _read(path)
                entries.update(e)
                sets.update(s)
        return cls(entries, sets, root)

    def entry(self, name: str) -> ModelEntry:
        try:
            return self.entries[name]
        except KeyError:
            raise UserError(f"'{name}' is not in the model catalog") from None

    def is_installed(self, name: str) -> bool:
        return self.entry(name).local(self.root).exists()

    def require(self, name: str) -> Path:
        """Local path of an installed model, or a message naming it and the two ways to get it."""
        entry = self.entry(name)
        path = entry.local(self.root)
        if not path.exists():
            raise ModelMissing(
                f"model '{name}' ({entry.role}) is not installed in {self.root}. "
                f"Get it with `python main.py models download {name}`, or import a file you have "
                f"with `python main.py models import FILE`."
            )
        return path

    def set_names(self) -> list[str]:
        return list(self.sets)

    def resolve_set(self, name: str) -> ModelSet:
        spec = self.sets.get(name)
        if spec is None:
            known = ", ".join(self.sets) or "none"
            raise UserError(f"unknown model set '{name}' (known: {known})")
        paths: dict[str, Path | None] = {}
        for key, role in _SET_ROLES.items():
            model = spec.get(key)
            if not model:
                paths[key] = None
                continue
            if self.entry(model).role != role:
                raise UserError(f"model set '{name}': '{model}' is not a {role} model")
            paths[key] = self.require(model)
        if paths["inpaint"] is None or paths["sam"] is None:
            raise UserError(f"model set '{name}' names no inpaint or no sam model")
        sam_entry = self.entry(spec["sam"])
        return ModelSet(
            name=name,
            arch=spec["arch"],
            root=self.root,
            native=int(spec.get("native", 1024 if spec["arch"] == "sdxl" else 512)),
            inpaint=paths["inpaint"],
            controlnet_depth=paths["controlnet_depth"],
            controlnet_canny=paths["controlnet_canny"],
            controlnet_inpaint=paths["controlnet_inpaint"],
            sam=paths["sam"],
            sam_type=sam_entry.info.get("sam_type", "vit_b"),
            depth=paths["depth"],
            entries=tuple(spec[k] for k in _SET_ROLES if spec.get(k)),
        )

    def installed_sets(self) -> list[str]:
        out = []
        for name, spec in self.sets.items():
            models = [spec[k] for k in _SET_ROLES if spec.get(k)]
            if all(m in self.entries and self.is_installed(m) for m in models):
                out.append(name)
        return out

    def pick_set(self, vram_gb: float | None) -> str:
        """The best installed set for this much VRAM (None = CPU): highest min_vram that fits."""
        installed = self.installed_sets()
        if not installed:
            raise ModelMissing(
                f"no complete model set is installed in {self.root}. Run `python main.py models list` "
                f"to see what is missing, then `python main.py models download NAME` or "
                f"`python main.py models import FILE`; or use `--models tiny` to try the app with test models."
            )
        budget = vram_gb if vram_gb is not None else 0.0

        def fits(name: str) -> bool:
            return float(self.sets[name].get("min_vram_gb", 0)) <= budget

        fitting = [n for n in installed if fits(n)] or installed
        return max(fitting, key=lambda n: float(self.sets[n].get("min_vram_gb", 0)) if fits(n) else 0.0)


def _read(path: Path) -> tuple[dict[str, ModelEntry], dict[str, dict]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{path}: cannot read the model catalog ({exc})") from None
    entries = {}
    for name, spec in data.get("models", {}).items():
        rel = spec.get("path")
        if not rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise UserError(f"{path}: model '{name}' has no safe relative path")
        info = {k: v for k, v in spec.items() if k not in ("role", "path", "arch")}
        entries[name] = ModelEntry(name, spec["role"], rel, spec.get("arch"), info)
    return entries, dict(data.get("sets", {}))
