"""makensis compiles the real NSIS script (stub payload); the result is checked as a Windows x86-64 PE."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import nsis
import pe_check
import pytest
from installer_testkit import INSTALLER, ODD_NAME, ROOT, require_makensis, require_tool


def pe_bytes(machine: int, magic: int, pe_offset: int = 0x80) -> bytes:
    dos = bytearray(pe_offset)
    dos[:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, pe_offset)
    coff = struct.pack("<HHIIIHH", machine, 3, 0, 0, 0, 0xF0, 0x22)
    return bytes(dos) + b"PE\0\0" + coff + struct.pack("<H", magic) + b"\0" * 64


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (pe_bytes(0x8664, 0x20B), None),
        (pe_bytes(0x8664, 0x20B, pe_offset=0x100), None),
        (pe_bytes(0x014C, 0x10B), "want x86-64"),  # a 32-bit installer (NSIS' default target)
        (pe_bytes(0xAA64, 0x20B), "want x86-64"),  # ARM64
        (b"\x7fELF" + b"\0" * 200, "no MZ"),
        (b"MZ" + b"\0" * 58 + struct.pack("<I", 0x1000), "no PE signature"),
        (b"MZ", "no MZ"),
    ],
)
def test_pe_check(tmp_path: Path, data: bytes, error: str | None) -> None:
    path = tmp_path / "setup.exe"
    path.write_bytes(data)
    if error is None:
        assert pe_check.check_installer(path, 2**20).is_amd64
    else:
        with pytest.raises(pe_check.NotAnInstaller, match=error):
            pe_check.check_installer(path, 2**20)


def test_size_budget(tmp_path: Path) -> None:
    path = tmp_path / "setup.exe"
    path.write_bytes(pe_bytes(0x8664, 0x20B) + b"\0" * 4096)
    with pytest.raises(pe_check.NotAnInstaller, match="budget"):
        pe_check.check_installer(path, 1024)


@pytest.fixture(scope="module")
def stub_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `python installer/build.py --stub` run, in folders with spaces and non-ASCII letters."""
    require_makensis()
    base = tmp_path_factory.mktemp("build") / ODD_NAME
    result = subprocess.run(
        [
            sys.executable,
            str(INSTALLER / "build.py"),
            "--stub",
            "--skip-lock-check",  # drift has its own test; this one is about the compile
            "--work",
            str(base / "work"),
            "--out",
            str(base / "dist"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "x86-64 PE32+" in result.stdout
    (exe,) = (base / "dist").glob("RoomStager-*-stub-setup.exe")
    return exe


def test_stub_installer_is_a_small_amd64_executable(stub_build: Path) -> None:
    info = pe_check.check_installer(stub_build, 25 * 2**20)
    assert info.machine == pe_check.MACHINE_AMD64 and info.optional_magic == pe_check.PE32_PLUS
    assert 50_000 < info.size  # NSIS stub + app code: an empty file would not pass


def test_stub_installer_carries_the_app(stub_build: Path) -> None:
    """7-Zip reads NSIS archives: list what the .exe would really put in the install folder."""
    seven = require_tool("7zz", "7z", package="7zip")
    listing = subprocess.run(
        [seven, "l", "-slt", str(stub_build)], capture_output=True, text=True, check=True
    ).stdout
    names = {line[len("Path = ") :] for line in listing.splitlines() if line.startswith("Path = ")}
    for entry in (
        "main.py",
        "app/__init__.py",
        "firstrun/run.py",
        "firstrun/pins.json",
        "python/python311._pth",
    ):
        assert entry in names, f"{entry} missing from the installer"
    assert "models/catalog.toml" in names or not (ROOT / "models" / "catalog.toml").exists()
    assert not any("__pycache__" in n or n.startswith("python/Lib/site-packages/torch") for n in names)
    assert "Uninstall RoomStager.exe" in names  # written by WriteUninstaller at compile time


def test_script_compiles_with_an_icon_and_rejects_missing_defines(stub_build: Path, tmp_path: Path) -> None:
    payload = stub_build.parent.parent / "work" / "payload"
    icon = tmp_path / "icon.ico"
    icon.write_bytes(_tiny_ico())
    out = tmp_path / f"{ODD_NAME} setup.exe"
    defines = {
        "APP_VERSION": "9.8.7",
        "VI_VERSION": "9.8.7.0",
        "PAYLOAD_DIR": str(payload),
        "UNINSTALL_LIST": str(stub_build.parent.parent / "work" / "uninstall-list.nsh"),
        "OUT_FILE": str(out),
        "APP_ICON": str(icon),
        "STUB": None,
    }
    nsis.compile_installer(defines)
    assert pe_check.read_pe(out).is_amd64
    del defines["UNINSTALL_LIST"]
    with pytest.raises(subprocess.CalledProcessError) as failure:
        nsis.compile_installer(defines)
    assert "installer/build.py" in failure.value.stdout + failure.value.stderr


def test_missing_makensis_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nsis.shutil, "which", lambda name: None)
    monkeypatch.setitem(os.environ, "ProgramFiles", "/nonexistent")
    monkeypatch.setitem(os.environ, "ProgramFiles(x86)", "/nonexistent")
    with pytest.raises(nsis.MakensisMissing, match="apt-get install nsis"):
        nsis.find_makensis()


def _tiny_ico() -> bytes:
    """A 1x1 32-bit .ico: header, one directory entry, BITMAPINFOHEADER, pixel and AND mask."""
    bitmap = struct.pack("<IiiHHIIiiII", 40, 1, 2, 1, 32, 0, 8, 0, 0, 0, 0) + b"\x00\x80\xff\xff" + b"\0" * 4
    return (
        struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 1, 1, 0, 0, 1, 32, len(bitmap), 22) + bitmap
    )
