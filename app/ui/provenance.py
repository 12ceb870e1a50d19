"""The record that makes a result again: its request and seed, and what the job was given.

After "Apply as base" a job works on an earlier result, not on the photo. Its record then names
that result (id and content hash) and carries the record that made it, down to the photo, so
running the chain from the photo with the stored seeds gives the same pixels.
"""

from __future__ import annotations

from typing import Any

ORIGINAL = "original"


def image_lookup(doc) -> dict[int, Any]:
    """id(array) -> the result whose image it is, or ORIGINAL (taken on the window's thread)."""
    lookup: dict[int, Any] = {id(doc.original): ORIGINAL}
    for entry in doc.results:
        lookup[id(entry.image)] = entry
    return lookup


def result_record(entry, lookup: dict[int, Any], photo_file: str | None = None, _depth: int = 0) -> dict:
    """The request of `entry` as JSON-ready data, with "seed" and "input" (any thread)."""
    record = entry.request.to_dict()
    record["seed"] = entry.seed
    photo = getattr(entry.request, "photo", None)
    digest = (record.get("photo") or {}).get("sha256")
    source = lookup.get(id(photo)) if photo is not None else None
    if source == ORIGINAL:
        record["input"] = {"image": ORIGINAL, "sha256": digest, "file": photo_file or record.get("photo_path")}
    elif source is not None and source is not entry and _depth < 64:
        record["input"] = {"image": "result", "id": source.id, "sha256": digest,
                           "made_by": result_record(source, lookup, photo_file, _depth + 1)}
    else:  # an input that is no longer open (e.g. kept only inside a project file)
        record["input"] = {"image": "unknown", "sha256": digest}
    return record
