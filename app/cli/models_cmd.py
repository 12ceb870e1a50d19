"""`models`: list, download, import, verify and remove the models the app uses.

    python main.py models list [--all] [--vram GB]
    python main.py models download NAME... [--offline] [--hf-cache DIR]
    python main.py models import PATH [--link] [--name NAME] [--arch sd15|sdxl] [--base-set SET]
    python main.py models verify [NAME...] [--quick]
    python main.py models remove NAME...

Every sub-command takes --models DIR (default: the app's models folder, or
$ROOMSTAGER_MODELS; 'tiny' for the test models) and --json (one JSON object on
stdout). NAME is a model or a model set. Downloads show bytes, speed and time
left on stderr; Ctrl+C stops them and the same command resumes.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from app.cli.common import emit_json, finite_float, models_folder
from app.engine import (
    Catalog,
    DownloadCancelled,
    check_space_for,
    ensure_tiny_models,
    human_bytes,
    import_path,
    install,
    pick_device,
    plan,
    remove,
    verify,
)
from app.errors import UserError


def register(sub) -> None:
    p = sub.add_parser("models", help="list, download, import, verify or remove models",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", parser_class=type(p))

    def common(q):
        q.add_argument("--models", default="auto", metavar="DIR|tiny",
                       help="models folder (default: the app's, or $ROOMSTAGER_MODELS)")
        q.add_argument("--json", action="store_true", help="print one JSON object")

    q = msub.add_parser("list", help="models and sets: installed or not, size, licence; the recommended set")
    common(q)
    q.add_argument("--all", action="store_true", help="also list models that are in no set")
    q.add_argument("--vram", type=finite_float, default=None, metavar="GB",
                   help="recommend for this much GPU memory instead of the detected GPU")
    q.set_defaults(run=run_list)

    q = msub.add_parser("download", help="download models or whole sets (resumes an interrupted download)")
    common(q)
    q.add_argument("names", nargs="+", metavar="NAME", help="a model or a set (standard, high, ...)")
    q.add_argument("--offline", action="store_true",
                   help="only take files already in the local Hugging Face cache; no network")
    q.add_argument("--hf-cache", default=None, metavar="DIR", help="the Hugging Face cache to look in first")
    q.set_defaults(run=run_download)

    q = msub.add_parser("import", help="import a .safetensors checkpoint or LoRA, a SAM .pth, or another tool's folder")
    common(q)
    q.add_argument("path", metavar="PATH", help="a file, or a folder to use in place (read-only)")
    q.add_argument("--link", action="store_true", help="use the file where it is instead of copying it")
    q.add_argument("--name", default=None, metavar="NAME", help="catalog name (default: from the file name)")
    q.add_argument("--arch", default=None, choices=["sd15", "sdxl"],
                   help="base model of a LoRA that cannot be recognised from its contents")
    q.add_argument("--base-set", default=None, metavar="SET",
                   help="for a checkpoint: the set whose ControlNets, SAM and depth model it uses")
    q.set_defaults(run=run_import)

    q = msub.add_parser("verify", help="check installed models against their recorded checksums")
    common(q)
    q.add_argument("names", nargs="*", metavar="NAME", help="models or sets (default: every installed model)")
    q.add_argument("--quick", action="store_true", help="sizes and file structure only, no checksums")
    q.set_defaults(run=run_verify)

    q = msub.add_parser("remove", help="delete a model's files (files of other tools are only forgotten)")
    common(q)
    q.add_argument("names", nargs="+", metavar="NAME")
    q.set_defaults(run=run_remove)

    p.set_defaults(run=lambda args: _usage(p))


def _usage(p) -> int:
    p.print_help(sys.stderr)
    return 2


def _catalog(spec: str, create: bool = False):
    if spec == "tiny":
        return Catalog.load(ensure_tiny_models())
    root = Path(models_folder(spec).path)
    if not root.is_dir():
        if not create:
            raise UserError(f"{root}: models folder not found")
        root.mkdir(parents=True, exist_ok=True)
    return Catalog.load(root)


def detect_vram() -> tuple[float | None, str]:
    """(VRAM in GB or None for no usable GPU, the device's name). Never raises."""
    try:
        info = pick_device(None)
        return info.vram_gb, info.name
    except Exception:  # noqa: BLE001 - a broken torch must not break `models list`
        return None, "unknown"


class _Printer:
    """DownloadProgress -> one updating line on a terminal, a line per 10 % otherwise."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr  # looked up now, not at import: tests swap stderr
        self.tty = self.stream.isatty()
        self._last: tuple[str, int] | None = None

    def __call__(self, p) -> None:
        if self.tty:
            self.stream.write("\r" + p.text()[:110].ljust(110))
            self.stream.flush()
            return
        step = int(10 * p.fraction) if p.fraction is not None else -1
        key = (p.name, step if not p.message else hash(p.message))
        if key != self._last:
            self._last = key
            self.stream.write(p.text() + "\n")
            self.stream.flush()

    def end(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _licence(d: dict) -> str:
    flag = {True: "", False: " NON-COMMERCIAL", None: " (check)"}[d.get("commercial_use")]
    return f"{d['license']}{flag}"


def run_list(args) -> int:
    catalog = _catalog(args.models)
    vram, gpu = (args.vram, "given") if args.vram is not None else detect_vram()
    recommended = catalog.recommend_set(vram)
    best_quality = catalog.recommend_set(vram, commercial=False)
    installed_sets = catalog.installed_sets()
    try:
        active = catalog.pick_set(vram)
    except UserError:
        active = None
    sets = [catalog.describe_set(s) for s in catalog.sets]
    in_sets = {m for s in catalog.sets for m in catalog.set_models(s)}
    names = [n for n in catalog.entries if args.all or n in in_sets or n in catalog.user_entries
             or catalog.is_installed(n)]
    models = [catalog.describe(n) for n in names]
    if args.json:
        emit_json({"models_dir": str(catalog.root), "gpu": gpu, "vram_gb": vram, "recommended_set": recommended,
                   "best_quality_set": best_quality, "active_set": active, "installed_sets": installed_sets, "sets": sets, "models": models})
        return 0
    out = sys.stdout
    out.write(f"Models folder: {catalog.root}\n")
    out.write(f"GPU: {gpu}" + (f" ({vram:.1f} GB)" if vram else " (no usable NVIDIA GPU: CPU)") + "\n")
    if recommended:
        out.write(f"Recommended set for this machine: {recommended}\n")
    if best_quality and best_quality != recommended:
        out.write(f"Highest quality that fits: {best_quality} (NON-COMMERCIAL licence: not for paid listing work)\n")
    out.write("\nSets:\n")
    for s in sets:
        mark = "installed" if s["installed"] else f"missing {', '.join(s['missing'])} ({human_bytes(s['download_bytes'])})"
        star = " *" if s["name"] == recommended else ""
        extra = ", ".join(x for x in (f"{s['min_vram_gb']:g} GB+", s.get("speed") and f"speed {s['speed']}",
                                      "fast mode" if s.get("fast") else "",
                                      "" if s["commercial_use"] else "NON-COMMERCIAL") if x)
        out.write(f"  {s['name']:<22} {s['title']:<42} [{extra}] {mark}{star}\n")
    out.write("\nModels (checksum: pinned by the catalog, or UNPINNED: the first download is trusted):\n")
    for m in models:
        size = human_bytes(m["size_bytes"]) if m["size_bytes"] else "?"
        pin = m["pin"] if m["pin"] in ("pinned", "recorded") else m["pin"].upper()
        out.write(f"  {m['name']:<30} {m['role']:<18} {m['arch'] or '':<5} {size:>9}  {m['status']:<9} {pin:<14} "
                  f"{_licence(m)}\n")
    if not installed_sets:
        target = recommended or "standard"
        out.write(f"\nNo complete set yet: `python main.py models download {target}` gets the recommended one, "
                  f"or `python main.py models import FILE` uses a checkpoint you have.\n")
    return 0


def _with_cancel(fn):
    """Run fn(cancel_event) and turn Ctrl+C into a clean cancel that keeps partial downloads."""
    cancel = threading.Event()
    try:
        return fn(cancel)
    except KeyboardInterrupt:
        cancel.set()
        raise DownloadCancelled("cancelled: run the same command again to resume") from None


def _download_size(catalog, todo: list[str]) -> str:
    sizes = [catalog.entry(m).size_bytes for m in todo]
    known = sum(s for s in sizes if s)
    unknown = sum(1 for s in sizes if not s)
    if not unknown:
        return f"about {human_bytes(known)}"
    if not known:
        return "size unknown"
    return f"about {human_bytes(known)}, plus {unknown} of unknown size"


def run_download(args) -> int:
    catalog = _catalog(args.models, create=True)
    todo = plan(catalog, args.names)
    printer = _Printer()
    done, failed = [], []
    if not todo and not args.json:
        print("everything asked for is already installed", file=sys.stderr)
    if todo and not args.json:
        print(f"downloading {', '.join(todo)} ({_download_size(catalog, todo)}) into {catalog.root}", file=sys.stderr)
        for m in todo:
            entry = catalog.entry(m)
            if entry.commercial_use is False:
                print(f"note: {m} has a NON-COMMERCIAL licence ({entry.license}): results made with it may not be "
                      f"used for paid work such as listing photos. {entry.info.get('license_note') or ''}".rstrip(),
                      file=sys.stderr)
            if entry.info.get("gated"):
                print(f"note: {m} comes from a gated hub repository ({entry.info.get('repo')}): accept its "
                      f"licence on the hub page and log in with `hf auth login` first", file=sys.stderr)
            if entry.pin not in ("pinned", "recorded"):
                print(f"note: {m} is {entry.pin.upper()} in the catalog: its files are checked against the hub's "
                      f"checksums, and the first download's are recorded for `models verify`", file=sys.stderr)
    check_space_for(catalog, todo)

    def work(cancel):
        for m in todo:
            try:
                path = install(catalog, m, progress=printer, cancel=cancel, offline=args.offline,
                               hf_cache=args.hf_cache)
                done.append({"name": m, "path": str(path)})
            except DownloadCancelled:
                raise
            except UserError as exc:
                failed.append({"name": m, "error": str(exc)})
            finally:
                printer.end()

    try:
        _with_cancel(work)
    except DownloadCancelled:
        if args.json:
            emit_json({"installed": done, "failed": failed, "cancelled": True})
        print("cancelled: what was downloaded is kept; run the same command again to resume", file=sys.stderr)
        return 1
    if args.json:
        emit_json({"models_dir": str(catalog.root), "installed": done, "failed": failed, "cancelled": False,
                   "installed_sets": catalog.installed_sets()})
    else:
        for d in done:
            print(f"installed {d['name']}: {d['path']}")
        for f in failed:
            print(f"error: {f['error']}", file=sys.stderr)
    return 2 if failed else 0


def run_import(args) -> int:
    catalog = _catalog(args.models, create=True)
    printer = _Printer()
    try:
        results, skipped = _with_cancel(lambda cancel: import_path(
            catalog, args.path, link=args.link, name=args.name, arch=args.arch, base_set=args.base_set,
            progress=printer, cancel=cancel))
    finally:
        printer.end()
    if args.json:
        emit_json({"models_dir": str(catalog.root), "imported": [r.to_dict() for r in results],
                   "skipped": [s.__dict__ for s in skipped]})
        return 0 if results else 2
    for r in results:
        how = "used in place" if r.linked else "copied"
        extra = f"; model set '{r.set_name}'" if r.set_name else ""
        print(f"{'already imported' if r.existing else 'imported'} {r.name}: {r.arch or ''} {r.kind} ({how}) "
              f"{r.path}{extra}")
        for n in r.notes:
            print(f"  note: {n}", file=sys.stderr)
    for s in skipped:
        print(f"skipped {s.path}: {s.reason}", file=sys.stderr)
    if not results:
        print("nothing was imported", file=sys.stderr)
        return 2
    sets = [r.set_name for r in results if r.set_name]
    if sets:
        print(f"use it with --model-set {sets[0]}", file=sys.stderr)
    return 0


def run_verify(args) -> int:
    catalog = _catalog(args.models)
    names: list[str] = []
    for n in args.names or [n for n in catalog.entries if catalog.is_installed(n)]:
        names += catalog.set_models(n) if n in catalog.sets and n not in catalog.entries else [n]
    printer = _Printer()
    results = []
    for n in names:
        results.append(_with_cancel(lambda cancel, n=n: verify(catalog, n, progress=printer if not args.json
                                                                else None, cancel=cancel, deep=not args.quick)))
        printer.end()
    ok = all(r["ok"] for r in results)
    if args.json:
        emit_json({"models_dir": str(catalog.root), "ok": ok, "results": results})
    else:
        for r in results:
            state = "ok" if r["ok"] else "PROBLEM"
            print(f"{r['name']:<30} {state}  ({', '.join(r['checked'])})")
            for p in r["problems"]:
                print(f"  {p}")
            if r.get("note"):
                print(f"  note: {r['note']}")
        if not results:
            print("no installed models to verify", file=sys.stderr)
    return 0 if ok else 1


def run_remove(args) -> int:
    catalog = _catalog(args.models)
    results = [remove(catalog, n) for n in args.names]
    if args.json:
        emit_json({"models_dir": str(catalog.root), "removed": results})
        return 0
    for r in results:
        what = []
        if r["deleted"]:
            what.append(f"deleted {len(r['deleted'])} path(s)")
        if r["forgotten"]:
            what.append("removed from the catalog")
        if r.get("sets_forgotten"):
            what.append(f"sets forgotten: {', '.join(r['sets_forgotten'])}")
        if r.get("kept"):
            what.append(f"kept (used by other sets): {', '.join(r['kept'])}")
        print(f"{r['name']}: {'; '.join(what) or 'nothing to remove'}")
    return 0
