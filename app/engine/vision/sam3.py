"""SAM 3 through transformers (`Sam3Model`, `Sam3Processor`): every instance of a concept named in a
few words ("sofa", "rug", "floor lamp"), with a mask, a box and a score each.

Geometry, as Sam3ImageProcessor / Sam3Processor do it (like SAM 2, unlike SAM 1):
- the photo is stretched to the model's square input (1008 x 1008 for facebook/sam3), no padding;
- boxes come back as (x0, y0, x1, y1) in [0, 1] of that square, so of the photo;
- the mask logits (288 x 288 for facebook/sam3: 4 x the ViT's 72 x 72 grid) cover the whole photo and
  are upscaled straight to (H, W), bilinear with half-pixel centres, kept where sigmoid > 0.5
  (`post_process_instance_segmentation`), i.e. logit > 0: `segmenter.upscale_frame`;
- an instance's score is sigmoid(query logit) x sigmoid(presence logit): the presence token says
  whether the concept is in the photo at all.

The image embedding (the FPN maps the DETR and mask decoder attend to) is computed once per photo
content and kept for the last few photos, so a second text ("rug" after "sofa") only runs the text
encoder and the decoders. Several phrases run as one batch over the same embedding (expanded views,
no copies).
"""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.engine.vision.detections import box_iou
from app.engine.vision.segmenter import EmbeddingMemory, pixel_affine, stretched_pixels, upscale_frame
from app.errors import UserError

log = logging.getLogger(__name__)

# config.json model_type: facebook/sam3 holds a video config whose detector is the image model
SAM3_TYPES = ("sam3", "sam3_video")
TEXT_TOKENS = 32  # the processor pads every phrase to 32 tokens: the text encoder's positions
DEDUPE_IOU = 0.7  # two instances whose masks overlap this much are one object (best score kept)
CHUNK = {"cuda": 16, "mps": 8, "cpu": 4}  # phrases per decoder batch


@dataclass
class Instance:
    phrase: str  # the phrase that found it
    score: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in photo pixels
    logits: np.ndarray  # float32 mask logits over the whole photo, at the model's mask resolution

    def mask(self, shape: tuple[int, int]) -> np.ndarray:
        """Bool mask at photo size (h, w)."""
        return upscale_frame(self.logits, shape)


def sam3_dtype(device: str):
    """bf16 on CUDA cards that have it (SAM 3 is trained and run in bf16); fp32 elsewhere: fp16
    overflows in its ViT, and CPU fp32 keeps the masks exact."""
    import torch

    if device == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def load_sam3(path: Path):
    """(Sam3Model in fp32, eval; Sam3Processor) from a transformers folder, offline. A folder that is
    not SAM 3, or a checkpoint that leaves any weight missing, is refused rather than run half random."""
    import torch
    from transformers import Sam3Model, Sam3Processor

    path = Path(path)
    config = path / "config.json"
    if not config.is_file():
        raise UserError(f"{path}: not a SAM 3 model folder (no config.json)")
    try:
        kind = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError) as exc:
        raise UserError(f"{config}: not a readable model config ({exc})") from None
    if kind not in SAM3_TYPES:
        raise UserError(f"{path}: a '{kind}' model, not SAM 3")
    try:
        processor = Sam3Processor.from_pretrained(path, local_files_only=True)
        model, info = Sam3Model.from_pretrained(path, local_files_only=True, dtype=torch.float32,
                                                output_loading_info=True)
    except Exception as exc:  # missing or damaged files
        raise UserError(f"{path}: not a loadable SAM 3 model ({exc.__class__.__name__}: {exc})") from None
    missing = sorted(info.get("missing_keys") or [])
    if missing:
        raise UserError(f"{path}: the SAM 3 checkpoint lacks {len(missing)} weights (e.g. {missing[0]})")
    return model.eval(), processor


def _side(value) -> int:
    return int(value if isinstance(value, int) else value[0])


class Sam3Segmenter:
    """Text -> instances on one device. Used from the engine's worker thread."""

    kind = "sam3"

    def __init__(self, model, processor, device: str, dtype=None, memory_items: int = 2):
        import torch

        self._torch = torch
        self.dtype = dtype or torch.float32
        self.model = model.to(device=device, dtype=self.dtype).eval()
        self.processor = processor
        self.device = device
        ip = processor.image_processor
        side = _side(model.config.vision_config.backbone_config.image_size)
        size = (int(ip.size["height"]), int(ip.size["width"]))
        if size != (side, side):
            raise UserError(f"SAM 3 processor size {size} does not match the model's {side}x{side} input")
        self.side = side
        self._a, self._b = pixel_affine(ip, device)
        self.chunk = CHUNK.get(device, 4)
        self._memory = EmbeddingMemory(memory_items)
        self.encodes = 0  # embeddings computed (not served from memory)

    # ---- the photo -------------------------------------------------------------

    def pixel_values(self, photo: np.ndarray):
        """The processor's preprocessing done with OpenCV (no full-size float copy of a 24 MP photo):
        stretched to side x side, rescaled, normalised, in the model's dtype."""
        return stretched_pixels(photo, self.side, (self._a, self._b)).to(self.dtype)

    def embed(self, photo: np.ndarray, check_cancel=None, progress=None) -> tuple[str, bool, object]:
        """(content key, served from memory?, the FPN maps as a Sam3VisionEncoderOutput). `progress`
        (step, total, message) hears of each ViT layer; it and `check_cancel` may raise to stop."""
        from transformers.models.sam3.modeling_sam3 import Sam3VisionEncoderOutput

        key = self._memory.key(photo)
        emb = self._memory.get(key)
        if emb is not None:
            return key, True, emb
        with self._layer_hooks(check_cancel, progress), self._torch.inference_mode():
            full = self.model.get_vision_features(pixel_values=self.pixel_values(photo))
        # only what the decoders read: the ViT's last hidden state (tens of MB) is dropped
        emb = Sam3VisionEncoderOutput(fpn_hidden_states=full.fpn_hidden_states,
                                      fpn_position_encoding=full.fpn_position_encoding)
        self.encodes += 1
        self._memory.put(key, emb)
        return key, False, emb

    @contextmanager
    def _layer_hooks(self, check_cancel, progress):
        """Before each ViT layer: report progress and check for a cancel. The image encoder is the
        long step (minutes for the real model on a CPU), so a cancel lands within one layer."""
        if check_cancel is None and progress is None:
            yield
            return
        layers = self.model.vision_encoder.backbone.layers
        n = len(layers)

        def hook(i):
            def before(*_):
                if progress is not None:
                    progress(i, n, f"analysing the photo (SAM 3): layer {i + 1}/{n}")
                if check_cancel is not None:
                    check_cancel()
            return before

        handles = [layer.register_forward_pre_hook(hook(i)) for i, layer in enumerate(layers)]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    # ---- phrases -> instances --------------------------------------------------------

    def find(self, photo: np.ndarray, phrases: list[str], threshold: float = 0.5, limit: int = 100,
             progress=None, check_cancel=None) -> list[Instance]:
        """Every instance of every phrase scoring at least `threshold`, best first, duplicates
        (the same object found by two phrases or two queries) merged, at most `limit`."""
        phrases = [p for p in phrases if p]
        if not phrases:
            return []
        _, _, emb = self.embed(photo, check_cancel, progress)
        h, w = photo.shape[:2]
        found: list[Instance] = []
        for start in range(0, len(phrases), self.chunk):
            part = phrases[start:start + self.chunk]
            if progress is not None:
                progress(start, len(phrases), "looking for " + ", ".join(part))
            found += self._decode(emb, part, threshold, (h, w))
        found = dedupe(found)[:limit]
        if progress is not None:
            progress(len(phrases), len(phrases), f"found {len(found)}")
        return found

    def _decode(self, emb, phrases: list[str], threshold: float, shape: tuple[int, int]) -> list[Instance]:
        from transformers.models.sam3.modeling_sam3 import Sam3VisionEncoderOutput

        torch = self._torch
        k = len(phrases)
        tokens = self.processor.tokenizer(phrases, padding="max_length", max_length=TEXT_TOKENS, truncation=True,
                                          return_tensors="pt").to(self.device)
        views = Sam3VisionEncoderOutput(
            fpn_hidden_states=tuple(t.expand(k, *t.shape[1:]) for t in emb.fpn_hidden_states),
            fpn_position_encoding=tuple(t.expand(k, *t.shape[1:]) for t in emb.fpn_position_encoding))
        with torch.inference_mode():
            out = self.model(vision_embeds=views, input_ids=tokens["input_ids"],
                             attention_mask=tokens["attention_mask"])
            scores = out.pred_logits.float().sigmoid()
            if out.presence_logits is not None:
                scores = scores * out.presence_logits.float().sigmoid()
            keep = scores >= threshold
            # only the kept masks leave the device: 200 queries x 288^2 logits per phrase otherwise
            rows, cols = torch.nonzero(keep, as_tuple=True)
            logits = out.pred_masks[rows, cols].float().cpu().numpy()
            boxes = out.pred_boxes[rows, cols].float().clamp(0, 1).cpu().numpy()
            kept_scores = scores[rows, cols].cpu().numpy()
        h, w = shape
        found = []
        for i, row in enumerate(rows.tolist()):
            lg = np.ascontiguousarray(logits[i])
            if not (lg > 0).any():
                continue  # a box without a mask: nothing to select
            x0, y0, x1, y1 = (float(v) for v in boxes[i])
            found.append(Instance(phrases[row], float(kept_scores[i]), (x0 * w, y0 * h, x1 * w, y1 * h), lg))
        return found



def dedupe(instances: list[Instance], iou: float = DEDUPE_IOU) -> list[Instance]:
    """Best first; an instance whose low-res mask overlaps a better one by more than `iou` is dropped
    (masks are compared only when their boxes overlap at all)."""
    kept: list[tuple[Instance, np.ndarray]] = []
    for inst in sorted(instances, key=lambda i: -i.score):
        m = inst.logits > 0
        dup = False
        for other, om in kept:
            if box_iou(inst.box, other.box) <= 0.0 or om.shape != m.shape:
                continue
            inter = np.count_nonzero(m & om)
            union = np.count_nonzero(m | om)
            if union and inter / union > iou:
                dup = True
                break
        if not dup:
            kept.append((inst, m))
    return [inst for inst, _ in kept]
