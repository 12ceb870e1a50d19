"""What a models folder holds: install state, manifests, partial downloads, and the summaries
`models list` and the Models window show. A mix-in of the Catalog (it uses the catalog's entries)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from app.engine.models.entries import safe_relative


class CatalogOnDisk:
    def manifest_path(self, name: str) -> Path:
        return self.root / ".roomstager" / "manifests" / f"{name}.json"

    def write_manifest(self, name: str, data: dict) -> None:
        """Record where an installed model came from and its files' hashes (atomically)."""
        path = self.manifest_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)

    def staging_dir(self, name: str) -> Path:
        """Where a hub download of `name` collects its files before they are moved into place."""
        return self.root / ".roomstager" / "downloads" / f"{name}.part"

    def partial_bytes(self, name: str) -> int:
        """Bytes of an interrupted download waiting to be resumed (0 when none)."""
        entry = self.entry(name)
        if entry.external or not safe_relative(entry.path):
            return 0
        total = 0
        part = entry.local(self.root)
        part = part.with_name(part.name + ".part")
        if part.is_file():
            total += part.stat().st_size
        stage = self.staging_dir(name)
        if stage.is_dir():
            total += sum(p.stat().st_size for p in stage.rglob("*") if p.is_file())
        return total

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
        if not entry.external and self.partial_bytes(name):
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
            "user": name in self.user_entries, "pin": e.pin,
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
            "fast_lora": spec.get("fast_lora"), "fast": bool(spec.get("fast_steps")),
            "speed": spec.get("speed"), "vram_note": spec.get("vram_note"),
        }
