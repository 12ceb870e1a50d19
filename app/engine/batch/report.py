"""OUT_DIR/report.html: every photo of the batch with its before/after thumbnails, status and
message, in one page a photographer can scroll through (thumbnails link to the full files).
Made from the manifest alone, so it can be rewritten at any time."""

from __future__ import annotations

import html
import time
from pathlib import Path
from urllib.parse import quote

from app.engine.batch.manifest import Manifest
from app.imaging.io import replace_file

NAME = "report.html"

_CSS = """
body{font:14px/1.4 system-ui,Segoe UI,Helvetica,Arial,sans-serif;margin:0;background:#f4f3f0;color:#222}
header{padding:18px 24px;background:#1f2326;color:#eee}header h1{margin:0 0 4px;font-size:20px}
.counts span{margin-right:14px}.grid{padding:16px 24px}
.item{background:#fff;border-radius:8px;margin:0 0 16px;padding:12px 14px;box-shadow:0 1px 3px #0002}
.item h2{font-size:15px;margin:0 0 8px}.item h2 small{color:#777;font-weight:normal;margin-left:8px}
.row{display:flex;gap:10px;flex-wrap:wrap;align-items:flex-start}
figure{margin:0}figure img{height:220px;border-radius:4px;display:block;background:#ddd}
figcaption{font-size:12px;color:#555;margin-top:3px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;color:#fff;margin-left:6px}
.done{background:#2e7d32}.failed{background:#c62828}.pending,.running,.queued{background:#777}
.msg{color:#b71c1c;margin:6px 0 0}.meta{color:#666;font-size:12px;margin-top:6px}
"""


def _e(text) -> str:
    return html.escape(str(text if text is not None else ""))


def _href(rel: str) -> str:
    return quote(rel.replace("\\", "/"))


def _figure(rel: str | None, caption: str, link: str | None = None) -> str:
    if not rel:
        return ""
    img = f'<img loading="lazy" src="{_href(rel)}" alt="{_e(caption)}">'
    if link:
        img = f'<a href="{_href(link)}">{img}</a>'
    return f"<figure>{img}<figcaption>{_e(caption)}</figcaption></figure>"


def _item(entry: dict, item_id: str) -> str:
    status = entry.get("status", "pending")
    parts = [f'<section class="item" id="{_e(item_id)}"><h2>{_e(Path(entry.get("photo", "")).name)}'
             f'<small>{_e(entry.get("task"))}</small><span class="badge {_e(status)}">{_e(status)}</span></h2>',
             '<div class="row">', _figure(entry.get("thumb"), "before")]
    for out in entry.get("empty") or []:
        parts.append(_figure(out.get("thumb"), f"{out['file']} (emptied)", out["file"]))
    for out in entry.get("outputs") or []:
        parts.append(_figure(out.get("thumb"), f"{out['file']} · seed {out.get('seed')}", out["file"]))
    parts.append("</div>")
    if status != "done" and entry.get("message"):
        parts.append(f'<p class="msg">{_e(entry.get("reason"))}: {_e(entry["message"])}</p>')
    t = entry.get("timings") or {}
    meta = [f"style {entry.get('style')}, room {entry.get('room')}" if "stage" in str(entry.get("task")) else "",
            f"{t['total_s']:.1f} s" if "total_s" in t else "", f"tries {entry.get('attempts', 0)}",
            f"on {entry.get('worker')}" if entry.get("worker") else ""]
    parts.append(f'<div class="meta">{_e(" · ".join(m for m in meta if m))}</div></section>')
    return "".join(parts)


def write_report(manifest: Manifest, elapsed_s: float | None = None) -> Path:
    order = manifest.data.get("order", [])
    entries = [(i, manifest.entry(i) or {}) for i in order]
    counts = manifest.summary()
    done = counts.get("done", 0)
    summary = " ".join(f"<span>{_e(k)}: <b>{v}</b></span>" for k, v in sorted(counts.items()))
    page = ["<!doctype html><html><head><meta charset='utf-8'><title>RoomStager batch</title>",
            f"<style>{_CSS}</style></head><body><header><h1>RoomStager batch · {done} of {len(entries)} done</h1>",
            f"<div class='counts'>{summary}</div><div>{_e(manifest.data.get('source'))} · updated "
            f"{_e(time.strftime('%Y-%m-%d %H:%M'))}</div></header><main class='grid'>"]
    page += [_item(e, i) for i, e in entries]
    page.append("</main></body></html>\n")
    path = manifest.out_dir / NAME
    text = "\n".join(page)
    replace_file(path, lambda f: f.write(text.encode("utf-8")))
    return path
