"""Assemble what the installer carries: embedded CPython, the locked dependencies (no torch), the app.

Layout under the payload folder, which becomes the install folder as it is:

    python/            python.exe, pythonw.exe, python311.dll, python311.zip, python311._pth,
                       Lib/site-packages/  (the Windows lock installed here, torch left out)
    app/ resources/ main.py      the application
    models/catalog.toml          the model catalogue; downloaded weights land beside it
    firstrun/                    stdlib-only torch set-up, plus pins.json (exact torch pins)

Everything runs on Linux too: Windows wheels are unpacked with pip's cross-platform --target
install, so the payload can be assembled (and tested) without Windows.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import project

PYTHON_TAG = "311"  # CPython 3.11, the version the lock is made for
PTH_NAME = f"python{PYTHON_TAG}._pth"
# ._pth paths are relative to python/. With a ._pth file Python is isolated: no PYTHONPATH,
# no user site, and the script's folder is not added, so the install root is listed explicitly.
PTH_LINES = [f"python{PYTHON_TAG}.zip", ".", r"Lib\site-packages", "..", "import site"]
APP_ENTRIES = ["main.py", "app", "resources"]
MODEL_FILES = ["catalog.toml"]  # never weights: those are the user's, downloaded after install
VC_RUNTIME_DLLS = [  # app-local Visual C++ runtime, so torch loads on PCs without the redistributable
    "msvcp140.dll", "msvcp140_1.dll", "msvcp140_2.dll", "vcruntime140.dll", "vcruntime140_1.dll",
    "concrt140.dll", "vcomp140.dll",
]  # fmt: skip
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", ".ruff_cache", "state")


class PayloadError(Exception):
    pass


def copy_app(root: Path, payload: Path) -> None:
    for entry in APP_ENTRIES:
        source = root / entry
        if source.is_dir():
            shutil.copytree(source, payload / entry, ignore=IGNORE, dirs_exist_ok=True)
        elif source.is_file():
            shutil.copy2(source, payload / entry)
        else:
            raise PayloadError(f"{source} is missing: the installer needs it")
    (payload / "models").mkdir(exist_ok=True)
    for name in MODEL_FILES:
        if (root / "models" / name).is_file():
            shutil.copy2(root / "models" / name, payload / "models" / name)


def copy_firstrun(payload: Path, pins: dict[str, str]) -> None:
    target = payload / "firstrun"
    shutil.copytree(project.INSTALLER_DIR / "firstrun", target, ignore=IGNORE, dirs_exist_ok=True)
    (target / "pins.json").write_text(json.dumps(pins, indent=2) + "\n", encoding="utf-8")


def write_pth(python_dir: Path) -> Path:
    pth = python_dir / PTH_NAME
    pth.write_text("\r\n".join(PTH_LINES) + "\r\n", encoding="utf-8")
    return pth


def fetch_embed(source: str, cache: Path, sha256: str | None = None) -> Path:
    """A path is used as is; an http(s) URL is downloaded once into `cache`."""
    if not source.startswith(("http://", "https://")):
        path = Path(source)
        if not path.is_file():
            raise PayloadError(f"embedded Python zip not found: {path}")
        return path
    sys.path.insert(0, str(project.INSTALLER_DIR))
    from firstrun import fetch

    return fetch.download(source, cache / source.rsplit("/", 1)[-1], sha256, label="python embed")


def unpack_embed(zip_path: Path, python_dir: Path, sha256: str | None = None) -> None:
    if sha256:
        sys.path.insert(0, str(project.INSTALLER_DIR))
        from firstrun import fetch

        if fetch.sha256_of(zip_path) != sha256.lower():
            raise PayloadError(f"{zip_path.name}: sha256 does not match")
    with zipfile.ZipFile(zip_path) as archive:
        names = set(archive.namelist())
        needed = {"python.exe", "pythonw.exe", f"python{PYTHON_TAG}.dll", f"python{PYTHON_TAG}.zip"}
        if not needed <= names:
            raise PayloadError(
                f"{zip_path.name} is not the CPython 3.11 embeddable package (missing {sorted(needed - names)})"
            )
        archive.extractall(python_dir)
    write_pth(python_dir)


def write_stub_python(python_dir: Path) -> None:
    """Placeholders with the real names, so the NSIS script (and shortcuts to them) compile."""
    python_dir.mkdir(parents=True, exist_ok=True)
    for name in ("python.exe", "pythonw.exe", f"python{PYTHON_TAG}.dll"):
        (python_dir / name).write_text("stub: build with --python-embed for a working installer\n")
    with zipfile.ZipFile(python_dir / f"python{PYTHON_TAG}.zip", "w"):
        pass
    write_pth(python_dir)
    (python_dir / "Lib" / "site-packages").mkdir(parents=True, exist_ok=True)


def copy_vc_runtime(source: Path, python_dir: Path) -> list[str]:
    copied = []
    for name in VC_RUNTIME_DLLS:
        if (source / name).is_file() and not (python_dir / name).exists():
            shutil.copy2(source / name, python_dir / name)
            copied.append(name)
    return copied


def pip_target_args(lock: Path) -> list[str]:
    # --platform/--python-version let pip on any OS pick and unpack the Windows wheels.
    return [
        "--only-binary=:all:", "--platform", "win_amd64", "--python-version", PYTHON_TAG,
        "--implementation", "cp", "--no-deps", "--require-hashes", "-r", str(lock),
    ]  # fmt: skip


def download_wheels(lock: Path, wheel_dir: Path) -> None:
    wheel_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--dest",
        str(wheel_dir),
    ]
    subprocess.run(command + pip_target_args(lock), check=True)


def install_wheels(lock: Path, wheel_dir: Path, site_packages: Path) -> None:
    """Unpack the locked wheels (hash-checked, from `wheel_dir` only) into the embedded site-packages."""
    site_packages.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--isolated",
        "--disable-pip-version-check",
        "--no-index",
    ]
    command += ["--find-links", str(wheel_dir), "--target", str(site_packages), "--no-compile", "--upgrade"]
    subprocess.run(command + pip_target_args(lock), check=True)
    # pip writes POSIX launcher scripts there when run off Windows; the app never uses them.
    shutil.rmtree(site_packages / "bin", ignore_errors=True)


def torch_in(payload: Path) -> list[str]:
    """Any trace of torch in the payload: it must come from firstrun, per PC, never from here."""
    site = payload / "python" / "Lib" / "site-packages"
    if not site.is_dir():
        return []
    return sorted(p.name for p in site.iterdir() if p.name.split("-")[0].lower() in project.TORCH_PACKAGES)


def uninstall_list(payload: Path) -> str:
    """NSIS lines removing exactly the payload's top-level entries; models/ is the uninstaller's question."""
    lines = ["; written by installer/payload.py: the payload's top-level entries"]
    for entry in sorted(payload.iterdir()):
        if entry.name == "models":
            continue
        command = "RMDir /r" if entry.is_dir() else "Delete"
        lines.append(f'{command} "$INSTDIR\\{entry.name}"')
    return "\n".join(lines) + "\n"


def assemble(
    root: Path,
    payload: Path,
    embed_zip: Path | None,
    wheel_dir: Path | None,
    lock: Path,
    embed_sha256: str | None = None,
    vc_runtime: Path | None = None,
) -> Path:
    """Build the payload folder from scratch; no embed_zip means a stub Python and no dependencies."""
    if payload.exists():
        shutil.rmtree(payload)
    payload.mkdir(parents=True)
    python_dir = payload / "python"
    if embed_zip is None:
        write_stub_python(python_dir)
    else:
        unpack_embed(embed_zip, python_dir, embed_sha256)
        if wheel_dir is None:
            raise PayloadError(
                "a real build needs the dependency wheels (--wheels, or network for pip download)"
            )
        install_wheels(lock, wheel_dir, python_dir / "Lib" / "site-packages")
        if vc_runtime is not None:
            copy_vc_runtime(vc_runtime, python_dir)
    copy_app(root, payload)
    copy_firstrun(payload, project.torch_pins(root / "pyproject.toml"))
    if found := torch_in(payload):
        raise PayloadError(f"torch must not be in the payload, found {found}")
    return payload
