"""Is a file a 64-bit Windows executable, and small enough to ship?

Reads the PE header with struct: the DOS header's e_lfanew points at "PE\\0\\0", then the COFF
header's machine field (0x8664 for x86-64) and the optional header's magic (0x20B for PE32+).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

MACHINE_AMD64 = 0x8664
MACHINE_I386 = 0x014C
PE32_PLUS = 0x20B


class NotAnInstaller(Exception):
    pass


@dataclass(frozen=True)
class PeInfo:
    machine: int
    optional_magic: int
    size: int

    @property
    def is_amd64(self) -> bool:
        return self.machine == MACHINE_AMD64 and self.optional_magic == PE32_PLUS


def read_pe(path: Path) -> PeInfo:
    with path.open("rb") as handle:
        dos = handle.read(64)
        if len(dos) < 64 or dos[:2] != b"MZ":
            raise NotAnInstaller(f"{path.name}: no MZ header, not a Windows executable")
        (pe_offset,) = struct.unpack_from("<I", dos, 0x3C)
        handle.seek(pe_offset)
        header = handle.read(4 + 20 + 2)  # signature, COFF file header, optional header magic
    if len(header) < 26 or header[:4] != b"PE\0\0":
        raise NotAnInstaller(f"{path.name}: no PE signature at offset {pe_offset:#x}")
    (machine,) = struct.unpack_from("<H", header, 4)
    (magic,) = struct.unpack_from("<H", header, 24)
    return PeInfo(machine, magic, path.stat().st_size)


def check_installer(path: Path, budget_bytes: int) -> PeInfo:
    """Raise NotAnInstaller unless `path` is an x86-64 PE32+ file within the size budget."""
    info = read_pe(path)
    if not info.is_amd64:
        raise NotAnInstaller(
            f"{path.name}: machine {info.machine:#06x} / magic {info.optional_magic:#x}, want x86-64 PE32+"
        )
    if info.size > budget_bytes:
        raise NotAnInstaller(
            f"{path.name}: {info.size / 2**20:.1f} MiB is over the {budget_bytes / 2**20:.0f} MiB budget"
        )
    return info
