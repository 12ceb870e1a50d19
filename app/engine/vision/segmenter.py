"""Click-to-segment with Segment Anything (SAM 1 ViT-B/L/H, or SAM 2.1 through a backend).

The image embedding is computed once per image *content* and cached in memory
and on disk, so the same photo under another name, or reopened tomorrow, costs
nothing. A click only runs the light prompt encoder and mask decoder; the
chosen low-resolution mask is upscaled to full photo size inside its own
bounding box, which keeps a click fast on a 24+ MP photo.

The model itself sits behind a small backend (encode / decode / upscale):
`SamBackend` here for segment-anything's `Sam`, `Sam2Backend` in
sam2_backend.py for transformers' SAM 2.1. `Segmenter` owns what does not
depend on the model: content keys, the caches, prompt validation, mask choice.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from app import settings
from app.engine.requests import array_digest
from app.engine.results import SegmentResult
from app.errors import UserError

log = logging.getLogger(__name__)

SAM_SIZE = 1024  # SAM's input side


@dataclass
class Embedding:
    features: object  # torch tensor 1x256x64x64: the image embedding the mask decoder attends to
    input_size: tuple[int, int]  # (h, w) of the resized photo inside the model's input square
    original_size: tuple[int, int]  # (h, w) of the photo
    high_res: tuple = ()  # SAM 2: the decoder's high-resolution feature maps (s0, s1); SAM 1: none


def prompt_scale(emb: Embedding) -> tuple[float, float]:
    """(sx, sy): photo pixel coordinates -> the model's input frame (both SAM 1 and SAM 2 scale only;
    the prompt encoders add the half-pixel themselves)."""
    return emb.input_size[1] / emb.original_size[1], emb.input_size[0] / emb.original_size[0]


def point_labels(points) -> list[int]:
    return [1 if (len(p) < 3 or p[2]) else 0 for p in points]


class SamBackend:
    """segment-anything's `Sam`: longest side resized to 1024, padded to a 1024 square;
    low-res logits (256x256) cover the padded square."""

    kind = "sam"

    def __init__(self, sam, device: str):
        # heavy: loaded on first use, not when the app starts
        import torch

        self.model = sam.to(device).eval()
        # The decoder's two transposed convolutions run ~3x faster channels-last (same numbers):
        # about 6 ms of a ~50 ms click on a 2-core CPU.
        self.model.mask_decoder.output_upscaling.to(memory_format=torch.channels_last)
        with torch.inference_mode():
            self._dense_pe = self.model.prompt_encoder.get_dense_pe()  # constant: computed once, not per click
        self.device = device
        self._torch = torch

    def encode(self, photo: np.ndarray) -> Embedding:
        torch = self._torch
        h, w = photo.shape[:2]
        scale = SAM_SIZE / max(h, w)
        nh, nw = int(h * scale + 0.5), int(w * scale + 0.5)
        small = cv2.resize(photo, (nw, nh), interpolation=cv2.INTER_AREA)
        x = torch.as_tensor(small, device=self.device).permute(2, 0, 1)[None].float()
        with torch.inference_mode():
            x = self.model.preprocess(x)  # normalise and pad to 1024x1024
            features = self.model.image_encoder(x)
        return Embedding(features, (nh, nw), (h, w))

    def check(self, emb: Embedding) -> bool:
        return getattr(emb.features, "ndim", 0) == 4 and not emb.high_res

    def decode(self, emb: Embedding, points, boxes, multimask: bool):
        """(logits BxKxhxw, scores BxK) for B = max(1, len(boxes)); the points go with every box."""
        torch = self._torch
        sx, sy = prompt_scale(emb)
        sam = self.model
        n = max(1, len(boxes))
        coords = labels = None
        if points:
            # same mapping as SamPredictor: scale only (the prompt encoder adds the half-pixel)
            pts = np.array([[p[0] * sx, p[1] * sy] for p in points], dtype=np.float32)
            coords = torch.as_tensor(pts, device=self.device)[None].expand(n, -1, -1)
            labels = torch.as_tensor([point_labels(points)], device=self.device).expand(n, -1)
        b = None
        if boxes:
            b = torch.as_tensor([[x0 * sx, y0 * sy, x1 * sx, y1 * sy] for x0, y0, x1, y1 in boxes],
                                dtype=torch.float32, device=self.device)
        with torch.inference_mode():
            sparse, dense = sam.prompt_encoder(
                points=(coords, labels) if coords is not None else None, boxes=b, masks=None
            )
            low, iou = sam.mask_decoder(
                image_embeddings=emb.features, image_pe=self._dense_pe,
                sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=multimask,
            )
        return low.float().cpu().numpy(), iou.float().cpu().numpy()

    def upscale(self, logits: np.ndarray, emb: Embedding) -> np.ndarray:
        return upscale_logits(logits, emb.input_size, emb.original_size)


class ContentKeys:
    """Content hash of a photo array, remembered per array object so a click never re-hashes."""

    def __init__(self):
        self._known: dict[int, tuple[weakref.ref, str]] = {}

    def key(self, photo: np.ndarray) -> str:
        hit = self._known.get(id(photo))
        if hit is not None and hit[0]() is photo:
            return hit[1]
        digest = array_digest(photo)
        self._known = {k: v for k, v in self._known.items() if v[0]() is not None}
        self._known[id(photo)] = (weakref.ref(photo), digest)
        return digest


class EmbeddingMemory:
    """The last few embeddings in memory, keyed by photo content; thread-safe (the engine's worker
    computes them, clicks read them)."""

    def __init__(self, items: int):
        self._keys = ContentKeys()
        self._items: OrderedDict[str, object] = OrderedDict()
        self._limit = items
        self._lock = threading.Lock()

    def key(self, photo: np.ndarray) -> str:
        return self._keys.key(photo)

    def get(self, key: str):
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: str, value) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._limit:
                self._items.popitem(last=False)


def disk_cache_budget() -> int:
    """Bytes the on-disk embeddings of one SAM model may take: $ROOMSTAGER_SAM_CACHE_MB, default 2 GB
    (about 500 photos with SAM 1, 125 with SAM 2)."""
    return settings.sam_cache_bytes()


def prune_cache(folder: Path, budget: int) -> int:
    """Delete the least recently used embeddings until `folder` fits in `budget` bytes; returns how many."""
    entries = []
    for p in folder.glob("*.pt"):
        try:
            st = p.stat()
        except OSError:
            continue
        entries.append((st.st_mtime, st.st_size, p))
    entries.sort()
    total = sum(size for _, size, _ in entries)
    removed = 0
    for _, size, p in entries:
        if total <= budget:
            break
        try:
            p.unlink()
        except OSError:
            continue
        total -= size
        removed += 1
    return removed


class Segmenter:
    """`sam` is a backend (encode/decode/upscale), or a segment-anything `Sam`, wrapped in SamBackend."""

    def __init__(self, sam, device: str, model_id: str, cache_dir: Path | None = None, memory_items: int = 6,
                 cache_budget: int | None = None):
        # heavy: loaded on first use, not when the app starts
        import torch

        self.backend = sam if hasattr(sam, "encode") and hasattr(sam, "decode") else SamBackend(sam, device)
        self.sam = self.backend.model  # the torch model (segment-anything Sam, or transformers Sam2Model)
        self.device = device
        self.cache_dir = Path(cache_dir) / hashlib.sha1(model_id.encode()).hexdigest()[:16] if cache_dir else None
        self._memory = EmbeddingMemory(memory_items)
        self._torch = torch
        self.encodes = 0  # how many embeddings were computed (not served from a cache)
        self.cache_budget = disk_cache_budget() if cache_budget is None else cache_budget

    # ---- embedding -----------------------------------------------------------

    def embed(self, photo: np.ndarray) -> tuple[str, bool, Embedding]:
        """(content key, served from cache?, embedding)."""
        key = self._memory.key(photo)
        emb = self._memory.get(key)
        if emb is not None:
            return key, True, emb
        emb = self._load_disk(key)
        cached = emb is not None
        if emb is None:
            emb = self._encode(photo)
            self._save_disk(key, emb)
        self._memory.put(key, emb)
        return key, cached, emb

    def _encode(self, photo: np.ndarray) -> Embedding:
        emb = self.backend.encode(photo)
        self.encodes += 1
        return emb

    def _disk_path(self, key: str) -> Path | None:
        return self.cache_dir / f"{key}.pt" if self.cache_dir else None

    def _load_disk(self, key: str) -> Embedding | None:
        path = self._disk_path(key)
        if path is None or not path.is_file():
            return None
        try:
            data = self._torch.load(path, map_location=self.device, weights_only=True)
            emb = Embedding(data["features"], tuple(data["input_size"]), tuple(data["original_size"]),
                            tuple(data.get("high_res", ())))
            if not self.backend.check(emb):
                raise ValueError("not an embedding of this model")
            os.utime(path)  # recently used: pruned last
            return emb
        except Exception as exc:  # a damaged cache entry is recomputed, never fatal
            log.warning("ignoring SAM cache entry %s: %s", path, exc)
            return None

    def _save_disk(self, key: str, emb: Embedding) -> None:
        path = self._disk_path(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            data = {"features": emb.features.cpu(), "input_size": list(emb.input_size),
                    "original_size": list(emb.original_size)}
            if emb.high_res:
                data["high_res"] = [t.cpu() for t in emb.high_res]
            self._torch.save(data, tmp)
            tmp.replace(path)
            prune_cache(path.parent, self.cache_budget)
        except OSError as exc:
            log.warning("could not write SAM cache %s: %s", path, exc)

    # ---- clicks --------------------------------------------------------------

    def segment(self, photo, points, box=None, multimask=True, mask_index=None) -> SegmentResult:
        if not points and box is None:
            raise UserError("segmenting needs at least one point or a box")
        h, w = photo.shape[:2]
        for x, y, *_ in points:
            if not (0 <= x < w and 0 <= y < h):
                raise UserError(f"point {x:g},{y:g} is outside the {w}x{h} photo")
        t0 = time.perf_counter()
        _, cached, emb = self.embed(photo)
        t1 = time.perf_counter()
        logits, scores = self._decode(emb, points, box, multimask)
        chosen = int(np.argmax(scores)) if mask_index is None else int(mask_index)
        if not 0 <= chosen < len(scores):
            raise UserError(f"mask index {mask_index} is out of range (0-{len(scores) - 1})")
        mask = self.backend.upscale(logits[chosen], emb)
        t2 = time.perf_counter()
        return SegmentResult(mask=mask, scores=[float(s) for s in scores], chosen=chosen,
                             low_res_logits=logits[chosen],
                             timings={"embed_s": t1 - t0, "decode_s": t2 - t1, "embedding_cached": cached})

    def _decode(self, emb: Embedding, points, box, multimask):
        logits, scores = self.backend.decode(emb, list(points or []), [box] if box is not None else [], multimask)
        return logits[0], scores[0]

    def segment_boxes(self, photo: np.ndarray, boxes, chunk: int = 8, progress=None) -> list[np.ndarray]:
        """Photo-sized bool masks for many boxes: one embedding, batched decoder calls, one mask each
        (the same geometry as `segment` with a box and multimask=False)."""
        if not len(boxes):
            return []
        _, _, emb = self.embed(photo)
        out: list[np.ndarray] = []
        for start in range(0, len(boxes), chunk):
            part = [tuple(float(v) for v in b) for b in boxes[start:start + chunk]]
            logits, _ = self.backend.decode(emb, [], part, False)
            out.extend(self.backend.upscale(lg[0], emb) for lg in logits)
            if progress is not None:
                progress(len(out), len(boxes))
        return out


def upscale_logits(logits: np.ndarray, input_size: tuple[int, int], original_size: tuple[int, int]) -> np.ndarray:
    """SAM 1 low-res logits (256x256 over the padded 1024 square) -> bool mask at photo size.

    Same geometry as SAM's own post-processing (256 -> 1024, crop the photo's
    part, -> photo size); the last step is `upscale_frame`.
    """
    ih, iw = input_size
    frame = cv2.resize(np.ascontiguousarray(logits, dtype=np.float32), (SAM_SIZE, SAM_SIZE),
                       interpolation=cv2.INTER_LINEAR)[:ih, :iw]
    return upscale_frame(frame, original_size)


def upscale_frame(frame: np.ndarray, original_size: tuple[int, int]) -> np.ndarray:
    """Logits whose frame covers exactly the photo -> bool mask at photo size (bilinear, half-pixel
    centres: torch's align_corners=False), thresholded at 0."""
    mask = np.zeros(original_size, dtype=bool)
    found = upscale_window(frame, original_size)
    if found is not None:
        x0, y0, window = found
        mask[y0:y0 + window.shape[0], x0:x0 + window.shape[1]] = window
    return mask


def upscale_window(frame: np.ndarray, original_size: tuple[int, int]) -> tuple[int, int, np.ndarray] | None:
    """As upscale_frame, but only the window around the positive logits: (x0, y0, bool window) in
    photo pixels, or None when nothing is positive.

    The window is resampled at full size in int16 (1/256 logit steps) rather than float: a 24 MP
    mask costs milliseconds instead of a full-frame float resize.
    """
    oh, ow = original_size
    ih, iw = frame.shape[:2]
    frame = np.ascontiguousarray(frame, dtype=np.float32)
    rows = np.flatnonzero((frame > 0).any(axis=1))
    if len(rows) == 0:
        return None
    cols = np.flatnonzero((frame > 0).any(axis=0))
    fx, fy = iw / ow, ih / oh  # photo pixel -> frame pixel
    # one frame pixel of margin: bilinear weights reach that far
    x0, x1 = max(int((cols[0] - 1) / fx), 0), min(int((cols[-1] + 2) / fx) + 1, ow)
    y0, y1 = max(int((rows[0] - 1) / fy), 0), min(int((rows[-1] + 2) / fy) + 1, oh)
    fixed = np.clip(frame * 256.0, -32767, 32767).astype(np.int16)
    if (x1 - x0) * (y1 - y0) > ow * oh // 4:  # big object: a plain resize is the faster kernel
        return 0, 0, cv2.resize(fixed, (ow, oh), interpolation=cv2.INTER_LINEAR) > 0
    m = np.float32([[fx, 0, (x0 + 0.5) * fx - 0.5], [0, fy, (y0 + 0.5) * fy - 0.5]])
    window = cv2.warpAffine(fixed, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REPLICATE)
    return x0, y0, window > 0


def pixel_affine(image_processor, device: str):
    """A transformers image processor's rescale and normalise as one affine map on 0-255 pixels:
    (pixel * rescale - mean) / std == pixel * a + b, with a and b as 1x3x1x1 tensors on `device`."""
    # heavy: torch loads with the first model, not when the app starts
    import torch

    ip = image_processor
    scale = float(ip.rescale_factor) if ip.do_rescale else 1.0
    mean = np.asarray(ip.image_mean, np.float32) if ip.do_normalize else np.zeros(3, np.float32)
    std = np.asarray(ip.image_std, np.float32) if ip.do_normalize else np.ones(3, np.float32)
    return (torch.as_tensor(scale / std, device=device).view(1, 3, 1, 1),
            torch.as_tensor(-mean / std, device=device).view(1, 3, 1, 1))


def stretched_pixels(photo: np.ndarray, side: int, affine):
    """A transformers SAM processor's preprocessing done with OpenCV (no full-size float copy of a
    24 MP photo): the whole photo stretched to side x side (area filter when shrinking both ways,
    bilinear otherwise), then `affine` (pixel_affine's a, b). 1x3xSxS float32 on a's device."""
    # heavy: torch loads with the first model, not when the app starts
    import torch

    a, b = affine
    h, w = photo.shape[:2]
    interp = cv2.INTER_AREA if (h >= side and w >= side) else cv2.INTER_LINEAR
    small = cv2.resize(np.ascontiguousarray(photo[..., :3]), (side, side), interpolation=interp)
    x = torch.as_tensor(small, device=a.device).permute(2, 0, 1)[None].float()
    return x * a + b
