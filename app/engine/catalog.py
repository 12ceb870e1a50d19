"""models/catalog.toml -> model entries and model sets, resolved to local files.

A models folder is laid out the way local diffusion tools do it; every entry's
`path` is relative to that folder (inpaint/NAME, controlnet/NAME, sam/NAME.pth,
depth/NAME, checkpoints/NAME.safetensors, loras/NAME.safetensors, ...). A folder
may carry its own catalog.toml (the tiny test models do, and `models import`
writes the user's imports there); its entries and sets extend the app's.

An entry with `file = "/abs/path"` instead of `path` references a file of
another tool in place: it is read, never written, moved or deleted.

Resolving never touches the network. Downloading lives in downloads.py,
importing in model_import.py.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from app.errors import ModelMissing, UserError

APP_ROOT = Path(__file__).resolve().parents[2]
APP_CATALOG = APP_ROOT / "models" / "catalog.toml"
CONFIGS_DIR = APP_ROOT / "resources" / "model_configs"  # shipped diffusers configs for single files

ROLES = (
    "inpaint", "controlnet-depth", "controlnet-canny", "controlnet-inpaint", "controlnet-union",
    "sam", "depth", "detector", "segmenter", "erase", "lora", "config", "lpips-backbone", "lpips-heads",
)
ARCHES = ("sd15", "sdxl")
GB = 1024**3


def default_models_dir() -> Path:
    """The user's models folder: $ROOMSTAGER_MODELS, else models/ beside the app."""
    env = os.environ.get("ROOMSTAGER_MODELS")
    return Path(env).expanduser() if env else APP_ROOT / "models"


def is_inside(root: Path, path: Path) -> bool:
    """True when `path` (resolved, links followed) lies inside `root`."""
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(root))
        return True
    except ValueError:
        return False


def is_config_folder(path: Path) -> bool:
    """A diffusers pipeline folder complete enough to load a single file offline: configs and tokenizers."""
    path = Path(path)
    if not (path / "model_index.json").is_file():
        return False
    subs = ["tokenizer"] + (["tokenizer_2"] if (path / "text_encoder_2").is_dir() else [])
    return all((path / s / "vocab.json").is_file() or (path / s / "tokenizer.json").is_file() for s in subs)


def safe_relative(rel: str) -> bool:
    """A catalog path that cannot leave the models folder: relative, no '..', no drive."""
    p = Path(rel.replace("\\", "/"))
    return bool(rel) and not p.is_absolute() and ".." not in p.parts and ":" not in rel and not rel.startswith("/")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    role: str  # inpaint, controlnet-depth, controlnet-canny, controlnet-inpaint, sam, depth, ...
    path: str  # relative to the models folder (absolute for an external file)
    arch: str | None = None  # sd15, sdxl
    info: dict = field(default_factory=dict, compare=False, hash=False)  # source, size, licence ...

    def local(self, root: Path) -> Path:
        if self.external:
            return Path(self.path)
        return (root / self.path).resolve()

    # ---- what the catalog says about it --------------------------------------

    @property
    def external(self) -> bool:
        """A file of another tool, referenced in place (read-only)."""
        return bool(self.info.get("external"))

    @property
    def title(self) -> str:
        return str(self.info.get("title") or self.name)

    @property
    def source(self) -> str:
        """'hub', 'url', 'external' or 'local' (imported / written by the app)."""
        if self.external:
            return "external"
        if self.info.get("repo"):
            return "hub"
        if self.info.get("url"):
            return "url"
        return "local"

    @property
    def size_bytes(self) -> int | None:
        if self.info.get("size_bytes"):
            return int(self.info["size_bytes"])
        if self.info.get("size_gb"):
            return int(float(self.info["size_gb"]) * GB)
        return None

    @property
    def license(self) -> str:
        return str(self.info.get("license", "unknown"))

    @property
    def commercial_use(self) -> bool | None:
        value = self.info.get("commercial_use")
        return None if value is None else bool(value)

    @property
    def min_vram_gb(self) -> float:
        return float(self.info.get("min_vram_gb", 0))

    @property
    def downloadable(self) -> bool:
        return self.source in ("hub", "url") and not self.info.get("manual")


@dataclass(frozen=True)
class ModelSet:
    """Everything one staging / de-furnishing job loads, resolved to local paths."""

    name: str
    arch: str
    root: Path
    native: int  # the model's working resolution (long side ~ native, area ~ native^2)
    inpaint: Path  # a diffusers folder, or a single-file .safetensors checkpoint
    controlnet_depth: Path | None
    controlnet_canny: Path | None
    controlnet_inpaint: Path | None
    sam: Path
    sam_type: str
    depth: Path | None
    entries: tuple[str, ...] = ()
    inpaint_config: Path | None = None  # diffusers config folder for a single-file `inpaint`

    @property
    def multiple(self) -> int:
        return 64 if self.arch == "sdxl" else 8

    @property
    def single_file(self) -> bool:
        return self.inpaint.is_file()


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
        self.user_entries: set[str] = set()  # defined (or redefined) by the folder's own catalog
        self.user_sets: set[str] = set()
        self._stamp: tuple | None = None

    @classmethod
    def load(cls, root: Path | str | None = None) -> Catalog:
        root = Path(root).expanduser().resolve() if root else default_models_dir().resolve()
        catalog = cls({}, {}, root)
        catalog._read_all()
        return catalog

    @property
    def user_catalog(self) -> Path:
        """The folder's own catalog.toml, where imports are recorded."""
        return self.root / "catalog.toml"

    def _sources(self) -> list[Path]:
        out = [APP_CATALOG]
        own = self.user_catalog
        if own.is_file() and own.resolve() != APP_CATALOG.resolve():
            out.append(own)
        return out

    def _stamp_now(self) -> tuple:
        stamp = []
        for p in (APP_CATALOG, self.user_catalog):
            try:
                st = p.stat()
                stamp.append((str(p), st.st_mtime_ns, st.st_size))
            except OSError:
                stamp.append((str(p), None, None))
        return tuple(stamp)

    def _read_all(self) -> None:
        entries: dict[str, ModelEntry] = {}
        sets: dict[str, dict] = {}
        self.user_entries, self.user_sets = set(), set()
        self._stamp = self._stamp_now()
        for path in self._sources():
            e, s = _read(path)
            entries.update(e)
            sets.update(s)
            if path != APP_CATALOG:
                self.user_entries |= set(e)
                self.user_sets |= set(s)
        self.entries = entries
        self.sets = sets

    def refresh(self) -> bool:
        """Re-read the catalogs when a file changed (an import or a removal). True if it did."""
        if self._stamp == self._stamp_now():
            return False
        self._read_all()
        return True

    # ---- entries -------------------------------------------------------------

    def entry(self, name: str) -> ModelEntry:
        try:
            return self.entries[name]
        except KeyError:
            raise UserError(f"'{name}' is not in the model catalog") from None

    def is_installed(self, name: str) -> bool:
        entry = self.entry(name)
        path = entry.local(self.root)
        if entry.role == "config":
            return is_config_folder(path)
        return path.exists()

    def missing_message(self, name: str) -> str:
        entry = self.entry(name)
        where = "" if self.root == default_models_dir().resolve() else f" --models \"{self.root}\""
        if entry.external:
            return (f"model '{name}' ({entry.role}) refers to {entry.path}, which is not there any more. "
                    f"Re-import it with `python main.py models import FILE{where}`, or remove it with "
                    f"`python main.py models remove {name}{where}`.")
        ways = []
        if entry.downloadable:
            ways.append(f"download it with `python main.py models download {name}{where}` "
                        f"(or Models > Download in the window)")
        ways.append(f"import a file you already have with `python main.py models import FILE{where}` "
                    f"(or Models > Import in the window)")
        text = ", or ".join(ways)
        return f"model '{name}' ({entry.role}) is not installed in {self.root}. {text[:1].upper()}{text[1:]}."

    def require(self, name: str) -> Path:
        """Local path of an installed model, or a message naming it and the two ways to get it."""
        entry = self.entry(name)
        path = entry.local(self.root)
        if not self.is_installed(name):
            raise ModelMissing(self.missing_message(name))
        return path

    def set_names(self) -> list[str]:
        return list(self.sets)

    def set_models(self, name: str) -> list[str]:
        spec = self.sets.get(name)
        if spec is None:
            known = ", ".join(self.sets) or "none"
            raise UserError(f"unknown model set '{name}' (known: {known})")
        return [spec[k] for k in _SET_ROLES if spec.get(k)]

    def resolve_set(self, name: str) -> ModelSet:
        self.refresh()
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
        config = None
        if paths["inpaint"].is_file():
            config = self.config_for(spec["inpaint"])
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
            # "vit_b" / "vit_l" / "vit_h" / "config": a SAM 1 .pth; "sam2": a transformers SAM 2 folder
            sam_type=str(sam_entry.info.get("sam_type") or ("sam2" if paths["sam"].is_dir() else "vit_b")),
            depth=paths["depth"],
            entries=tuple(spec[k] for k in _SET_ROLES if spec.get(k)),
            inpaint_config=config,
        )

    def installed_sets(self) -> list[str]:
        self.refresh()
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
        # Ties go to the app's own sets: a set made by an import is used when asked for by name.
        return max(fitting, key=lambda n: (float(self.sets[n].get("min_vram_gb", 0)) if fits(n) else 0.0,
                                           bool(self.sets[n].get("recommend", True))))

    def recommend_set(self, vram_gb: float | None) -> str | None:
        """The app's set to get for this GPU (installed or not): the largest whose min_vram_gb fits.

        CPU-only machines (None) get the lightest set. Sets marked `recommend = false`
        (test sets, alternatives) are never recommended.
        """
        self.refresh()
        candidates = [n for n, s in self.sets.items() if s.get("recommend", True) and n not in self.user_sets]
        if not candidates:
            return None
        need = {n: float(self.sets[n].get("min_vram_gb", 0)) for n in candidates}
        if vram_gb is None:
            return min(candidates, key=lambda n: need[n])
        fitting = [n for n in candidates if need[n] <= vram_gb + 0.25]  # "8 GB" cards report ~7.8
        if not fitting:
            return min(candidates, key=lambda n: need[n])
        return max(fitting, key=lambda n: need[n])

    # ---- single-file checkpoints and LoRAs -----------------------------------

    def config_candidates(self, arch: str) -> list[Path]:
        """Local diffusers config folders (with tokenizers) for single files of this architecture."""
        out: list[Path] = []
        for role in ("config", "inpaint"):
            for e in self.entries.values():
                if e.role != role or e.arch != arch:
                    continue
                path = e.local(self.root)
                if path.is_dir() and is_config_folder(path):
                    out.append(path)
        return out

    def config_for(self, name: str) -> Path:
        """The config folder that loads the single-file checkpoint `name` without any network."""
        entry = self.entry(name)
        from app.engine.checkpoint_info import config_matches, inspect_file

        wanted = entry.info.get("config")
        candidates: list[Path] = []
        if wanted:
            if wanted in self.entries and self.is_installed(wanted):
                candidates.append(self.entry(wanted).local(self.root))
            elif safe_relative(wanted) and (self.root / wanted / "model_index.json").is_file():
                candidates.append(self.root / wanted)
        candidates += [c for c in self.config_candidates(entry.arch or "") if c not in candidates]
        info = inspect_file(entry.local(self.root))
        for c in candidates:
            if config_matches(info, c):
                return c
        getter = {"sd15": "sd15-config", "sdxl": "sdxl-config"}.get(entry.arch or "", "")
        hint = (f"download its configs and tokenizers (a few MB) with `python main.py models download {getter}`"
                if getter in self.entries else "install the matching diffusers model")
        raise ModelMissing(
            f"model '{name}' is a single-file {entry.arch or ''} checkpoint and needs a local config folder "
            f"to load without network: {hint}, or install the {'High quality' if entry.arch == 'sdxl' else 'Standard'} "
            f"set, which carries one."
        )

    def loras(self, arch: str | None = None) -> list[str]:
        return [n for n, e in self.entries.items() if e.role == "lora" and (arch is None or e.arch in (None, arch))
                and self.is_installed(n)]

    def lora_path(self, name_or_path: str) -> str:
        """A LoRA catalog name or a file path -> the file path a request carries."""
        if name_or_path in self.entries and self.entries[name_or_path].role == "lora":
            return str(self.require(name_or_path))
        return name_or_path

    # ---- summaries for `models list` and the Models window ---------------------

    def manifest_path(self, name: str) -> Path:
        return self.root / ".roomstager" / "manifests" / f"{name}.json"

    def manifest(self, name: str) -> dict | None:
        try:
            return json.loads(self.manifest_path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def status(self, name: str) -> str:
        """'installed', 'missing', 'partial' (a download to resume) or 'external' (used in place)."""
        entry = self.entry(name)
        if self.is_installed(name):
            return "external" if entry.external else "installed"
        if not entry.external:
            from app.engine.downloads import partial_bytes

            if partial_bytes(self, entry):
                return "partial"
        return "missing"

    def installed_bytes(self, name: str) -> int:
        path = self.entry(name).local(self.root)
        if path.is_file():
            return path.stat().st_size
        if path.is_dir():
            return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        return 0

    def describe(self, name: str) -> dict:
        e = self.entry(name)
        status = self.status(name)
        return {
            "name": name, "title": e.title, "role": e.role, "arch": e.arch, "status": status,
            "source": e.source, "path": str(e.local(self.root)),
            "size_bytes": self.installed_bytes(name) if status in ("installed", "external") else e.size_bytes,
            "license": e.license, "commercial_use": e.commercial_use,
            "license_note": e.info.get("license_note"), "min_vram_gb": e.min_vram_gb,
            "repo": e.info.get("repo"), "revision": e.info.get("revision"), "url": e.info.get("url"),
            "user": name in self.user_entries,
            "note": e.info.get("note"),
        }

    def describe_set(self, name: str) -> dict:
        spec = self.sets[name]
        models = [m for m in self.set_models(name)]
        missing = [m for m in models if m not in self.entries or not self.is_installed(m)]
        size = sum((self.entries[m].size_bytes or 0) for m in missing if m in self.entries)
        return {
            "name": name, "title": spec.get("title", name), "arch": spec.get("arch"),
            "min_vram_gb": float(spec.get("min_vram_gb", 0)), "models": models, "missing": missing,
            "installed": not missing, "download_bytes": size, "user": name in self.user_sets,
            "commercial_use": all(self.entries[m].commercial_use is not False for m in models if m in self.entries),
        }


def _read(path: Path) -> tuple[dict[str, ModelEntry], dict[str, dict]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read the model catalog ({exc})") from None
    entries = {}
    for name, spec in data.get("models", {}).items():
        if not isinstance(spec, dict) or "role" not in spec:
            raise UserError(f"{path}: model '{name}' has no role")
        external = spec.get("file")
        if external:
            if path == APP_CATALOG or not Path(external).is_absolute():
                raise UserError(f"{path}: model '{name}': `file` must be an absolute path in a models folder catalog")
            rel = str(external)
        else:
            rel = spec.get("path")
            if not rel or not safe_relative(rel):
                raise UserError(f"{path}: model '{name}' has no safe relative path")
        info = {k: v for k, v in spec.items() if k not in ("role", "path", "arch", "file")}
        if external:
            info["external"] = True
        entries[name] = ModelEntry(name, spec["role"], rel, spec.get("arch"), info)
    sets = {}
    for name, spec in data.get("sets", {}).items():
        if not isinstance(spec, dict) or spec.get("arch") not in (*ARCHES, None):
            raise UserError(f"{path}: model set '{name}' has no known arch (sd15 or sdxl)")
        sets[name] = dict(spec)
    return entries, sets
