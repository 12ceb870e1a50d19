"""Payload assembly (installer/payload.py): layout, ._pth, no torch, no weights, cross-OS wheel install."""

from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile
from pathlib import Path

import payload
import pytest
from installer_testkit import ODD_NAME, ROOT, write_wheel


def fake_root(base: Path) -> Path:
    """A project tree with the traps a real checkout has: caches, the user's weights."""
    root = base / ODD_NAME / "checkout"
    (root / "app" / "__pycache__").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text('__version__ = "1.2.3"\n')
    (root / "app" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"\0")
    (root / "resources").mkdir()
    (root / "resources" / "styles.toml").write_text("[modern]\n")
    (root / "models" / "checkpoints").mkdir(parents=True)
    (root / "models" / "catalog.toml").write_text("[models]\n")
    (root / "models" / "checkpoints" / "sdxl.safetensors").write_bytes(b"\0" * 1024)
    (root / "main.py").write_text("print('hi')\n")
    (root / "pyproject.toml").write_text(
        (ROOT / "pyproject.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    return root


def fake_embed_zip(folder: Path, missing: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "python-3.11.9-embed-amd64.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("python.exe", "pythonw.exe", "python311.dll", "python311.zip", "vcruntime140.dll"):
            if name != missing:
                archive.writestr(name, b"MZ")
        archive.writestr(
            "python311._pth",
            "python311.zip\n.\n\n# Uncomment to run site.main() automatically\n#import site\n",
        )
    return path


def test_stub_payload_layout(tmp_path: Path) -> None:
    root = fake_root(tmp_path)
    tree = payload.assemble(root, tmp_path / ODD_NAME / "payload", None, None, Path("unused.txt"))
    assert sorted(p.name for p in tree.iterdir()) == [
        "app",
        "firstrun",
        "main.py",
        "models",
        "python",
        "resources",
    ]
    # Only the catalogue ships; weights are the user's and never go into an installer.
    assert sorted(p.name for p in (tree / "models").rglob("*")) == ["catalog.toml"]
    assert not list(tree.rglob("__pycache__")) and not list(tree.rglob("*.pyc"))
    assert json.loads((tree / "firstrun" / "pins.json").read_text()) == {
        "torch": "2.13.0",
        "torchvision": "0.28.0",
    }
    assert (tree / "firstrun" / "run.py").is_file() and not (tree / "firstrun" / "state").exists()
    assert (tree / "python" / "python.exe").is_file()


def test_pth_makes_the_install_root_and_site_packages_importable(tmp_path: Path) -> None:
    python_dir = tmp_path / "python"
    payload.unpack_embed(fake_embed_zip(tmp_path / ODD_NAME), python_dir)
    lines = (python_dir / "python311._pth").read_bytes().decode().split("\r\n")
    assert lines[:-1] == ["python311.zip", ".", r"Lib\site-packages", "..", "import site"]


def test_embed_zip_must_be_the_3_11_embeddable_package(tmp_path: Path) -> None:
    with pytest.raises(payload.PayloadError, match="python311.dll"):
        payload.unpack_embed(fake_embed_zip(tmp_path, missing="python311.dll"), tmp_path / "python")
    good = fake_embed_zip(tmp_path / "good")
    with pytest.raises(payload.PayloadError, match="sha256"):
        payload.unpack_embed(good, tmp_path / "python", sha256="0" * 64)
    payload.unpack_embed(good, tmp_path / "python", sha256=hashlib.sha256(good.read_bytes()).hexdigest())


def test_real_build_refuses_to_go_without_dependencies(tmp_path: Path) -> None:
    with pytest.raises(payload.PayloadError, match="wheels"):
        payload.assemble(
            fake_root(tmp_path), tmp_path / "p", fake_embed_zip(tmp_path), None, Path("lock.txt")
        )


def test_locked_windows_wheels_unpack_on_any_os(tmp_path: Path) -> None:
    """pip --target with --platform win_amd64 and --require-hashes, from a local folder only."""
    wheels = tmp_path / ODD_NAME / "wheels"
    wheel = write_wheel(wheels, "roomstager_dep", "1.0", {"roomstager_dep/__init__.py": "X = 1\n"})
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    lock = tmp_path / "lock.txt"
    lock.write_text(f"roomstager-dep==1.0 \\\n    --hash=sha256:{digest}\n")
    site = tmp_path / ODD_NAME / "python" / "Lib" / "site-packages"
    payload.install_wheels(lock, wheels, site)
    assert (site / "roomstager_dep" / "__init__.py").read_text() == "X = 1\n"
    assert not (site / "bin").exists()

    lock.write_text(f"roomstager-dep==1.0 \\\n    --hash=sha256:{'0' * 64}\n")
    with pytest.raises(subprocess.CalledProcessError):  # a wheel that is not the locked one is refused
        payload.install_wheels(lock, wheels, tmp_path / "other-site")


def test_torch_in_the_payload_is_found(tmp_path: Path) -> None:
    site = tmp_path / "python" / "Lib" / "site-packages"
    (site / "torch").mkdir(parents=True)
    (site / "torchvision-0.28.0.dist-info").mkdir()
    (site / "torchmetrics").mkdir()  # a different package that merely starts with "torch"
    assert payload.torch_in(tmp_path) == ["torch", "torchvision-0.28.0.dist-info"]


def test_uninstall_list_covers_the_payload_but_not_models(tmp_path: Path) -> None:
    tree = payload.assemble(fake_root(tmp_path), tmp_path / "payload", None, None, Path("unused.txt"))
    (tree / "roomstager.ico").write_bytes(b"\0")
    lines = payload.uninstall_list(tree).splitlines()[1:]
    assert lines == [
        'RMDir /r "$INSTDIR\\app"',
        'RMDir /r "$INSTDIR\\firstrun"',
        'Delete "$INSTDIR\\main.py"',
        'RMDir /r "$INSTDIR\\python"',
        'RMDir /r "$INSTDIR\\resources"',
        'Delete "$INSTDIR\\roomstager.ico"',
    ]


def test_vc_runtime_is_copied_app_locally_without_overwriting(tmp_path: Path) -> None:
    system32 = tmp_path / "System32"
    system32.mkdir()
    for name in ("msvcp140.dll", "vcruntime140.dll", "kernel32.dll"):
        (system32 / name).write_bytes(b"new")
    python_dir = tmp_path / "python"
    python_dir.mkdir()
    (python_dir / "vcruntime140.dll").write_bytes(b"python's own")
    assert payload.copy_vc_runtime(system32, python_dir) == ["msvcp140.dll"]
    assert (python_dir / "vcruntime140.dll").read_bytes() == b"python's own"
    assert not (python_dir / "kernel32.dll").exists()
