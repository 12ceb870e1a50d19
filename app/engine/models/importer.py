"""Import the user's own files: single-file checkpoints, LoRAs and SAM weights.

`import_path(catalog, FILE)` recognises the file from its header (SD1.5 or
SDXL, checkpoint or LoRA) without loading the weights, copies it into the
models folder (checkpoints/, loras/, sam/) through a `.part` file, and records
it in the folder's own catalog.toml. A checkpoint also gets a model set named
after it: the best installed set of its architecture with `inpaint` replaced.

With `link=True` (and always for a folder, e.g. another tool's models folder)
files are used in place: the catalog records their absolute path, and nothing
is ever written into the other tool's folder.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.engine.models import user_catalog
from app.engine.models.catalog import Catalog
from app.engine.models.checkpoint_info import FileInfo, config_matches, inspect_file
from app.engine.models.entries import ARCHES, is_inside
from app.engine.models.transfer import Meter, ProgressFn, check_disk_space, copy_hashed
from app.errors import UserError
from app.imaging.targets import check_write_targets, named

FOLDERS = {"inpaint": "checkpoints", "lora": "loras", "sam": "sam", "erase": "erase", "lpips-backbone": "lpips",
           "lpips-heads": "lpips"}
ROLE_OF_KIND = {"checkpoint": "inpaint", "lora": "lora", "sam": "sam", "erase": "erase",
                "lpips-backbone": "lpips-backbone", "lpips-heads": "lpips-heads"}
SCAN_SUFFIXES = (".safetensors", ".pth", ".pt")
KNOWN_LICENCES = {"lpips-backbone": "bsd-3-clause", "lpips-heads": "bsd-2-clause"}
SCAN_MAX_FILES = 5000
SCAN_MAX_DEPTH = 6


@dataclass
class ImportResult:
    name: str
    role: str
    arch: str | None
    kind: str
    path: str  # where the app reads it
    linked: bool
    source: str
    set_name: str | None = None
    notes: list[str] = field(default_factory=list)
    existing: bool = False  # already imported before: nothing changed

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Skipped:
    path: str
    reason: str


def import_path(catalog: Catalog, src: Path | str, *, link: bool = False, name: str | None = None,
                arch: str | None = None, base_set: str | None = None, progress: ProgressFn | None = None,
                cancel: threading.Event | None = None) -> tuple[list[ImportResult], list[Skipped]]:
    """A file (copied, or referenced with link=True) or a folder (scanned, referenced in place)."""
    src = Path(src).expanduser()
    if not src.exists():
        raise UserError(f"{src}: no such file or folder")
    if arch is not None and arch not in ARCHES:
        raise UserError(f"--arch must be one of {', '.join(ARCHES)}")
    if src.is_dir():
        if name:
            raise UserError("--name applies to one file, not to a folder")
        return scan_folder(catalog, src, arch=arch, base_set=base_set, cancel=cancel)
    return [import_file(catalog, src, link=link, name=name, arch=arch, base_set=base_set, progress=progress,
                        cancel=cancel)], []


def import_file(catalog: Catalog, src: Path, *, link: bool = False, name: str | None = None,
                arch: str | None = None, base_set: str | None = None, progress: ProgressFn | None = None,
                cancel: threading.Event | None = None, info: FileInfo | None = None) -> ImportResult:
    src = Path(src).expanduser().resolve()
    catalog.refresh()
    info = info or inspect_file(src)
    if info.kind == "lora" and arch and (info.arch is None or info.problem):
        info.arch, info.problem = arch, None
    if not info.usable:
        raise UserError(f"{src.name}: cannot be imported: {info.describe()}")
    role = ROLE_OF_KIND.get(info.kind)
    if role is None:
        raise UserError(f"{src.name}: cannot be imported ({info.describe()})")
    if arch and info.arch and arch != info.arch and info.kind != "sam":
        raise UserError(f"{src.name} is a {info.describe()}, not {arch}")
    if is_inside(catalog.root, src) and not link:
        link = True  # already in the models folder: record it where it is

    existing = _already_imported(catalog, src, link)
    if existing:
        entry = catalog.entry(existing)
        sets = [s for s in catalog.user_sets if catalog.sets.get(s, {}).get("inpaint") == existing]
        return ImportResult(existing, entry.role, entry.arch, info.kind, str(entry.local(catalog.root)),
                            entry.external, str(src), sets[0] if sets else None,
                            ["already imported: nothing changed"], existing=True)

    name = _unique_name(catalog, user_catalog.safe_name(name or src.stem), role)
    suffix = src.suffix.lower()
    fields: dict = {"title": src.stem, "role": role}
    if info.arch and info.kind != "sam":
        fields["arch"] = info.arch
    notes: list[str] = []
    if link:
        st = src.stat()
        fields["file"] = str(src)
        fields["size_bytes"] = st.st_size
        fields["mtime"] = round(st.st_mtime, 3)
        where = src
    else:
        rel = f"{FOLDERS[role]}/{name}{suffix}"
        dest = catalog.root / rel
        check_write_targets([src], [named(dest), named(catalog.user_catalog)])  # never over the file imported
        check_disk_space(catalog.root, src.stat().st_size, src.name)
        fields["path"] = rel
        fields["sha256"] = _copy(src, dest, name, progress, cancel)
        fields["size_bytes"] = dest.stat().st_size
        where = dest
    fields["imported_from"] = str(src)
    fields["imported"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    if info.kind in KNOWN_LICENCES:  # the weights are known by their shapes: torchvision's, the lpips project's
        fields["license"] = KNOWN_LICENCES[info.kind]
    else:
        fields["license"] = "unknown (imported)"
        notes.append("licence unknown: check that the model's licence allows commercial work before using it "
                     "for paid listings")
    if info.kind == "sam":
        fields["sam_type"] = info.sam_type

    put = [("models", name, fields)]
    set_name = None
    if role == "inpaint":
        fields["inpainting"] = info.inpainting
        if not info.inpainting:
            notes.append("not an inpainting checkpoint: it works, but an inpainting version of the same model "
                         "blends edits better")
        config = _pick_config(catalog, info)
        if config:
            fields["config"] = config
        else:
            getter = "sd15-config" if info.arch == "sd15" else "sdxl-config"
            notes.append(f"loading it offline needs its configs and tokenizer once: `python main.py models download "
                         f"{getter}` (a few MB), or install the "
                         f"{'High quality' if info.arch == 'sdxl' else 'Standard'} set")
        set_name, set_fields, set_notes = _make_set(catalog, name, info.arch, base_set)
        notes += set_notes
        if set_fields is not None:
            put.append(("sets", set_name, set_fields))
        else:
            set_name = None
    try:
        user_catalog.edit(catalog.user_catalog, put=put)
    except BaseException:
        if not link:
            Path(where).unlink(missing_ok=True)
        raise
    catalog.refresh()
    return ImportResult(name, role, info.arch, info.kind, str(where), link, str(src), set_name, notes)


def scan_folder(catalog: Catalog, folder: Path, *, arch: str | None = None, base_set: str | None = None,
                cancel: threading.Event | None = None) -> tuple[list[ImportResult], list[Skipped]]:
    """Reference every usable checkpoint, LoRA and SAM file under another tool's folder, in place."""
    folder = folder.resolve()
    results: list[ImportResult] = []
    skipped: list[Skipped] = []
    seen = 0
    for dirpath, dirnames, filenames in os.walk(folder):
        depth = len(Path(dirpath).relative_to(folder).parts)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and depth < SCAN_MAX_DEPTH)
        for fn in sorted(filenames):
            if not fn.lower().endswith(SCAN_SUFFIXES) or fn.startswith("."):
                continue
            seen += 1
            if seen > SCAN_MAX_FILES:
                skipped.append(Skipped(dirpath, f"stopped after {SCAN_MAX_FILES} files"))
                return results, skipped
            if cancel is not None and cancel.is_set():
                return results, skipped
            path = Path(dirpath) / fn
            if is_inside(catalog.root, path) and (catalog.root / "catalog.toml").exists() and \
                    any(e.local(catalog.root) == path.resolve() for e in catalog.entries.values()):
                continue  # already a catalog model of this folder
            try:
                info = inspect_file(path)
                if info.kind == "sam" and not info.usable:
                    skipped.append(Skipped(str(path), info.problem or "not usable"))
                    continue
                if not info.usable or info.kind not in ROLE_OF_KIND:
                    skipped.append(Skipped(str(path), info.describe()))
                    continue
                results.append(import_file(catalog, path, link=True, arch=arch if info.kind == "lora" else None,
                                           base_set=base_set, info=info))
            except UserError as exc:
                skipped.append(Skipped(str(path), str(exc)))
    return results, skipped


# ---- helpers --------------------------------------------------------------------


def _already_imported(catalog: Catalog, src: Path, link: bool) -> str | None:
    for name, e in catalog.entries.items():
        if name not in catalog.user_entries:
            continue
        if e.external and link and Path(e.path) == src:
            return name
        if not link and e.info.get("imported_from") == str(src) and catalog.is_installed(name):
            st = src.stat()
            if int(e.info.get("size_bytes", -1)) == st.st_size:
                return name
    return None


def _unique_name(catalog: Catalog, base: str, role: str) -> str:
    name, i = base, 2
    while name in catalog.entries or name in catalog.sets:
        name = f"{base}-{i}"
        i += 1
    return name


def _copy(src: Path, dest: Path, name: str, progress: ProgressFn | None, cancel: threading.Event | None) -> str:
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    meter = Meter(name, src.stat().st_size, 0, progress, cancel)
    try:
        digest = copy_hashed(src, part, meter)
        os.replace(part, dest)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    meter.emit()
    return digest


def _pick_config(catalog: Catalog, info: FileInfo) -> str | None:
    """The catalog entry whose folder loads this checkpoint offline (a config entry first)."""

    for role in ("config", "inpaint"):
        for name, e in catalog.entries.items():
            if e.role != role or e.arch != info.arch or not catalog.is_installed(name):
                continue
            path = e.local(catalog.root)
            if path.is_dir() and config_matches(info, path):
                return name
    return None


def _make_set(catalog: Catalog, name: str, arch: str | None, base_set: str | None):
    """A set named after the checkpoint: a base set of the same architecture with `inpaint` replaced."""
    notes: list[str] = []
    if base_set:
        if base_set not in catalog.sets:
            raise UserError(f"unknown base set '{base_set}' (known: {', '.join(catalog.sets)})")
        base = base_set
        if catalog.sets[base].get("arch") != arch:
            raise UserError(f"base set '{base}' is {catalog.sets[base].get('arch')}, the checkpoint is {arch}")
    else:
        installed = [s for s in catalog.installed_sets() if catalog.sets[s].get("arch") == arch]
        preferred = {"sd15": "standard", "sdxl": "high"}.get(arch or "")
        own = [s for s in installed if s not in catalog.user_sets]
        if preferred in installed:
            base = preferred
        elif own:
            base = own[0]
        elif installed:
            base = installed[0]
        elif preferred in catalog.sets:
            base = preferred
            notes.append(f"the set '{name}' takes its ControlNets, SAM and depth model from '{preferred}', which is "
                         f"not fully installed yet: `python main.py models download {preferred}`")
        else:
            notes.append("no model set of this architecture to base a set on: the checkpoint was recorded without one")
            return None, None, notes
    spec = {k: v for k, v in catalog.sets[base].items() if k not in ("title", "recommend", "inpaint")}
    label = {"sd15": "SD1.5", "sdxl": "SDXL"}.get(arch or "", arch)
    fields = {"title": f"{name} ({label} checkpoint; other models from '{base}')", "recommend": False,
              "based_on": base, "inpaint": name, **spec}
    fields["arch"] = arch
    return name, fields, notes
