"""The optional models of a set (detector, semantic segmenter, erase model): found by the set, else by role.

Automatic masks, the erase pre-fill and the evaluation use these when installed;
a job that needs one that is missing says which and how to get it."""

from __future__ import annotations

from pathlib import Path

from app.errors import ModelMissing, UserError

# our name -> catalog role; "text": a text-prompted segmenter (SAM 3)
ROLES = {"detector": "detector", "semantic": "segmenter", "erase": "erase", "text": "text-segmenter",
         "metric_depth": "metric-depth"}
SET_KEYS = {"detector": ("detector",), "semantic": ("segmenter", "semantic"), "erase": ("erase",),
            "text": ("text_segmenter",), "metric_depth": ("metric_depth",)}
WHAT = {"detector": "a text-prompted detector (Grounding DINO)",
        "semantic": "a semantic segmentation model (Mask2Former / OneFormer, ADE20K)",
        "erase": "an erase model (LaMa)",
        "text": "a text-prompted segmenter (SAM 3)",
        "metric_depth": "a metric depth model (Depth Anything metric or Depth Pro)"}


def find_optional(catalog, set_name: str | None, key: str) -> tuple[str, Path] | None:
    """(entry name, local path) of the set's `key` model (detector, semantic = catalog role
    "segmenter", erase) when installed, else of any installed catalog entry with that role (an
    imported one); None when there is none. A model the set names, when no other of its role is
    installed, raises ModelMissing (with how to get it)."""
    role = ROLES[key]
    spec = catalog.set_spec(set_name) if set_name else {}
    name = next((spec[k] for k in SET_KEYS[key] if spec.get(k)), None)
    if name:
        entry = catalog.entry(name)
        if entry.role != role:
            raise UserError(f"model set '{set_name}': '{name}' is not a {role} model")
        if catalog.is_installed(name):
            return name, entry.local(catalog.root)
    for other, entry in catalog.entries.items():
        if entry.role == role and catalog.is_installed(other):
            return other, entry.local(catalog.root)
    if name:
        return name, catalog.require(name)  # raises ModelMissing naming the ways to get it
    return None


def missing_optional_message(catalog, key: str) -> str:
    names = [n for n, e in catalog.entries.items() if e.role == ROLES[key]]
    hint = (f"Get one with `python main.py models download {names[0]}`" if names
            else "Add one to the model catalog")
    return f"this needs {WHAT[key]}, and none is installed in {catalog.root}. {hint}."


def require_optional(catalog, set_name: str | None, key: str) -> tuple[str, Path]:
    """As find_optional, but a missing model raises ModelMissing naming how to get one."""
    found = find_optional(catalog, set_name, key)
    if found is None:
        raise ModelMissing(missing_optional_message(catalog, key))
    return found
