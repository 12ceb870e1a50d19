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

import tomllib
from pathlib import Path

from app.engine.models.checkpoint_info import config_matches, inspect_file
from app.engine.models.entries import (
    APP_CATALOG,
    ARCHES,
    ModelEntry,
    ModelSet,
    default_models_dir,
    is_config_folder,
    safe_relative,
)
from app.engine.models.on_disk import CatalogOnDisk
from app.errors import ModelMissing, UserError

_SET_ROLES = {
    "inpaint": "inpaint",
    "controlnet_depth": "controlnet-depth",
    "controlnet_canny": "controlnet-canny",
    "controlnet_inpaint": "controlnet-inpaint",
    "controlnet_union": "controlnet-union",
    "transformer": "transformer",
    "sam": "sam",
    "depth": "depth",
}
# A set's sampling presets: `steps` / `guidance` (normal) and `fast_*` (fast mode, with `fast_lora`)
PRESET_KEYS = ("steps", "guidance", "fast_steps", "fast_guidance", "fast_scheduler", "fast_lora_scale", "distilled")


class Catalog(CatalogOnDisk):
    """The app's catalog plus the models folder's own: entries, sets, and how to resolve them to files."""

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

    def set_spec(self, name: str) -> dict:
        """The set's table as the catalog has it; UserError naming the known sets for an unknown name."""
        spec = self.sets.get(name)
        if spec is None:
            known = ", ".join(self.sets) or "none"
            raise UserError(f"unknown model set '{name}' (known: {known})")
        return spec

    def set_models(self, name: str) -> list[str]:
        spec = self.set_spec(name)
        return [spec[k] for k in _SET_ROLES if spec.get(k)]

    def resolve_set(self, name: str) -> ModelSet:
        self.refresh()
        spec = self.set_spec(name)
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
        fast_name = spec.get("fast_lora")
        fast_path = None
        if fast_name:
            if self.entry(fast_name).role != "lora":
                raise UserError(f"model set '{name}': fast_lora '{fast_name}' is not a lora model")
            fast_path = self.entry(fast_name).local(self.root) if self.is_installed(fast_name) else None
        models = [spec[k] for k in _SET_ROLES if spec.get(k)]
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
            entries=tuple(models),
            inpaint_config=config,
            controlnet_union=paths["controlnet_union"],
            transformer=paths["transformer"],
            preset={k: spec[k] for k in PRESET_KEYS if k in spec},
            fast_lora=fast_path,
            fast_lora_name=fast_name,
            commercial_use=all(self.entry(m).commercial_use is not False for m in models),
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
        # A set whose licence forbids commercial work is used when asked for by name, not picked for the user.
        fitting = [n for n in fitting if self.set_commercial(n)] or fitting
        # Ties go to the app's own sets: a set made by an import is used when asked for by name.
        return max(fitting, key=lambda n: (float(self.sets[n].get("min_vram_gb", 0)) if fits(n) else 0.0,
                                           bool(self.sets[n].get("recommend", True))))

    def set_commercial(self, name: str) -> bool:
        """False when a model of the set has a licence that forbids commercial work."""
        return all(self.entries[m].commercial_use is not False for m in self.set_models(name) if m in self.entries)

    def recommend_set(self, vram_gb: float | None, commercial: bool = True) -> str | None:
        """The app's set to get for this GPU (installed or not): the largest whose min_vram_gb fits.

        CPU-only machines (None) get the lightest set. Sets marked `recommend = false`
        (test sets, alternatives) are never recommended; nor, with `commercial`, sets whose
        licence forbids commercial work (listing photos are commercial work).
        """
        self.refresh()
        candidates = [n for n, s in self.sets.items() if s.get("recommend", True) and n not in self.user_sets
                      and (not commercial or self.set_commercial(n))]
        if not candidates:
            return None
        need = {n: float(self.sets[n].get("min_vram_gb", 0)) for n in candidates}
        if vram_gb is None:
            return min(candidates, key=lambda n: need[n])
        fitting = [n for n in candidates if need[n] <= vram_gb + 0.25]  # "8 GB" cards report ~7.8
        if not fitting:
            return min(candidates, key=lambda n: need[n])
        return max(fitting, key=lambda n: (float(self.sets[n].get("quality", 0)), need[n]))

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

    def set_downloads(self, name: str) -> list[str]:
        """What `models download SET` fetches: the set's models and its fast-mode LoRA."""
        fast = self.sets.get(name, {}).get("fast_lora")
        return self.set_models(name) + ([fast] if fast and fast in self.entries else [])


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
            raise UserError(f"{path}: model set '{name}' has no known arch ({', '.join(ARCHES)})")
        sets[name] = dict(spec)
    return entries, sets
