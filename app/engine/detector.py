"""Text-prompted object detection (Grounding DINO through transformers) and model look-up.

`TextDetector.detect(photo, phrases)` returns boxes in photo pixels, each named by
the query phrase it matched: the phrase is found from the tokens between the
" . " separators of the query, so a label is always one of the phrases asked for
(never a run-together "sofa chair" decoded from token soup).

Models are found through the catalog: the model set's `detector` / `semantic` /
`erase` entry, else any installed entry of that role. Loaded models are kept on
the ModelManager (one load per model and device; `loads` counts them).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2
import numpy as np

from app.engine.automask_objects import Detection
from app.errors import ModelMissing, UserError

log = logging.getLogger(__name__)

DETECT_MAX_SIDE = 1333  # Grounding DINO's processor works at 800 / 1333: never hand it a 24 MP array

ROLES = {"detector": "detector", "semantic": "segmenter", "erase": "erase",
         "metric_depth": "metric-depth"}  # our name -> catalog role
SET_KEYS = {"detector": ("detector",), "semantic": ("segmenter", "semantic"), "erase": ("erase",),
            "metric_depth": ("metric_depth",)}


# ---- finding and caching models ----------------------------------------------------


def find_model(catalog, set_name: str | None, key: str) -> tuple[str, Path] | None:
    """(entry name, local path) of the set's `key` model (detector, semantic = catalog role
    "segmenter", erase), else of any
    installed catalog entry with that role; None when there is none. A model the set names
    but that is not installed raises ModelMissing (with how to get it)."""
    role = ROLES[key]
    spec = catalog.sets.get(set_name or "", {}) if set_name else {}
    name = next((spec[k] for k in SET_KEYS[key] if spec.get(k)), None)
    if name:
        entry = catalog.entry(name)
        if entry.role != role:
            raise UserError(f"model set '{set_name}': '{name}' is not a {role} model")
        return name, catalog.require(name)
    for name, entry in catalog.entries.items():
        if entry.role == role and catalog.is_installed(name):
            return name, entry.local(catalog.root)
    return None


def missing_message(catalog, key: str) -> str:
    role = ROLES[key]
    names = [n for n, e in catalog.entries.items() if e.role == role]
    hint = (f"Get one with `python main.py models download {names[0]}`" if names
            else "Add one to the model catalog")
    what = {"detector": "a text-prompted detector (Grounding DINO)",
            "semantic": "a semantic segmentation model (Mask2Former / OneFormer, ADE20K)",
            "erase": "an erase model (LaMa)",
            "metric_depth": "a metric depth model (Depth Anything metric or Depth Pro)"}[key]
    return f"this needs {what}, and none is installed in {catalog.root}. {hint}."


def _model_cache(manager) -> dict:
    cache = getattr(manager, "_automask_models", None)
    if cache is None:
        cache = {}
        manager._automask_models = cache
    return cache


def cached_model(manager, kind: str, path: Path, device, factory):
    """One loaded model per (kind, path, device) on this ModelManager."""
    cache = _model_cache(manager)
    key = (kind, str(path), device.device)
    if key not in cache:
        t0 = time.perf_counter()
        cache[key] = factory()
        manager.other_loads += 1
        log.info("loaded %s %s in %.1f s", kind, Path(path).name, time.perf_counter() - t0)
    return cache[key]


def load_detector(manager, path: Path, device) -> TextDetector:
    return cached_model(manager, "detector", path, device, lambda: TextDetector(path, device.device))


# ---- the detector ------------------------------------------------------------------


def query_text(phrases) -> str:
    """["Sofa", "coffee table"] -> "sofa . coffee table ." (Grounding DINO's query form)."""
    clean = [" ".join(str(p).lower().replace(".", " ").split()) for p in phrases]
    return " . ".join(p for p in clean if p) + " ."


def parse_phrases(text: str | None, default) -> list[str]:
    """A user's query "sofa . chair, lamp" -> ["sofa", "chair", "lamp"]; empty -> the default list."""
    if not text or not text.strip():
        return list(default)
    parts = [" ".join(p.split()).lower() for p in text.replace(",", ".").replace(";", ".").split(".")]
    out = []
    for p in parts:
        if p and p not in out:
            out.append(p)
    if not out:
        raise UserError(f"the detector query '{text}' names nothing: write phrases separated by dots")
    return out


class TextDetector:
    def __init__(self, path: Path, device: str):
        import torch
        from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

        self.processor = AutoProcessor.from_pretrained(path, local_files_only=True)
        # fp32: the deformable attention of Grounding DINO is fragile in fp16 and the model is small
        self.model = AutoModelForZeroShotObjectDetection.from_pretrained(
            path, local_files_only=True, dtype=torch.float32
        ).to(device).eval()
        self.device = device
        self.tokenizer = self.processor.tokenizer
        self.max_text_len = int(getattr(self.model.config, "max_text_len", 256))
        self._torch = torch

    def _phrase_spans(self, ids: list[int], phrases: list[str]) -> list[tuple[str, list[int]]]:
        """Token positions of each phrase: the runs between '.' tokens, after [CLS], before [SEP]."""
        tok = self.tokenizer
        dot = tok.convert_tokens_to_ids(".")
        specials = set(tok.all_special_ids)
        spans, current = [], []
        for pos, tid in enumerate(ids):
            if tid in specials:
                continue
            if tid == dot:
                if current:
                    spans.append(current)
                current = []
            else:
                current.append(pos)
        if current:
            spans.append(current)
        if len(spans) == len(phrases):
            return list(zip(phrases, spans, strict=True))
        # the tokenizer split a phrase on punctuation: name the spans by their own text
        return [(tok.decode([ids[p] for p in span]).strip(), span) for span in spans]

    def detect(self, photo: np.ndarray, phrases: list[str], box_threshold: float = 0.3,
               text_threshold: float = 0.25) -> list[Detection]:
        """Boxes (photo pixels) whose best phrase scores >= both thresholds, best first."""
        torch = self._torch
        H, W = photo.shape[:2]
        scale = min(1.0, DETECT_MAX_SIDE / max(H, W))
        image = photo if scale >= 1.0 else cv2.resize(
            photo, (max(1, round(W * scale)), max(1, round(H * scale))), interpolation=cv2.INTER_AREA)
        phrases = list(phrases)
        while True:
            text = query_text(phrases)
            n_tokens = len(self.tokenizer(text)["input_ids"])
            if n_tokens <= self.max_text_len or len(phrases) <= 1:
                break
            log.warning("detector query too long (%d tokens > %d): dropping '%s'", n_tokens, self.max_text_len,
                        phrases[-1])
            phrases = phrases[:-1]
        inputs = self.processor(images=image, text=text, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            out = self.model(**inputs)
        ids = inputs["input_ids"][0].tolist()
        probs = out.logits[0, :, : len(ids)].float().sigmoid().cpu().numpy()  # queries x tokens
        boxes = out.pred_boxes[0].float().cpu().numpy()  # cx, cy, w, h relative to the image
        spans = self._phrase_spans(ids, phrases)
        if not spans:
            return []
        phrase_scores = np.stack([probs[:, span].max(axis=1) for _, span in spans], axis=1)
        best = phrase_scores.argmax(axis=1)
        score = phrase_scores[np.arange(len(best)), best]
        keep = (score >= box_threshold) & (score >= text_threshold)
        dets = []
        for q in np.flatnonzero(keep):
            cx, cy, bw, bh = boxes[q]
            x0, y0 = (cx - bw / 2) * W, (cy - bh / 2) * H
            x1, y1 = (cx + bw / 2) * W, (cy + bh / 2) * H
            dets.append(Detection(spans[best[q]][0], float(score[q]),
                                  (float(max(0, x0)), float(max(0, y0)), float(min(W, x1)), float(min(H, y1)))))
        dets.sort(key=lambda d: -d.score)
        return dets


def furniture_score(detector: TextDetector, photo: np.ndarray, region: np.ndarray | None = None,
                    phrases=None, threshold: float = 0.0) -> float:
    """The best furniture detection score, over boxes mostly inside `region` when given (0 when none).

    A cheap removal-quality signal: after de-furnishing, lower is better."""
    from app.engine.automask_labels import DEFAULT_FURNITURE_QUERY, FURNITURE, classify_label

    dets = detector.detect(photo, list(phrases or DEFAULT_FURNITURE_QUERY), box_threshold=threshold,
                           text_threshold=threshold)
    best = 0.0
    for d in dets:
        if classify_label(d.label) != FURNITURE:
            continue
        if region is not None:
            x0, y0, x1, y1 = (int(round(v)) for v in d.box)
            sub = region[max(0, y0):max(0, y1), max(0, x0):max(0, x1)]
            if sub.size == 0 or sub.mean() < 0.5:
                continue
        best = max(best, d.score)
    return float(best)


def require(found, catalog, key: str):
    if found is None:
        raise ModelMissing(missing_message(catalog, key))
    return found


def segment_boxes(segmenter, photo: np.ndarray, boxes, chunk: int = 8, progress=None) -> list[np.ndarray]:
    """SAM masks (photo-sized bool) for many boxes: the segmenter's batched decoder when it has one
    (one embedding, a few decoder calls), else one box prompt at a time."""
    if not len(boxes):
        return []
    batched = getattr(segmenter, "segment_boxes", None)
    if batched is not None:
        return batched(photo, list(boxes), chunk=chunk, progress=progress)
    out = []
    for i, box in enumerate(boxes):
        out.append(segmenter.segment(photo, [], tuple(float(v) for v in box), multimask=False).mask)
        if progress is not None:
            progress(i + 1, len(boxes))
    return out
