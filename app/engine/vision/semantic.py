"""Semantic segmentation of a room (ADE20K models through transformers).

Mask2Former, MaskFormer and OneFormer (universal segmentation: per-query class
and mask logits) and plain semantic models (SegFormer, UperNet: per-pixel logits)
give one label map plus a per-pixel confidence. Class names come from the
model's own `config.id2label` and are interpreted by `engine.automask_labels` by name.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from app.engine.vision.detections import SegMap
from app.errors import ModelMissing

log = logging.getLogger(__name__)

WORK_SIDE = 1024  # the photo is reduced to this long side first; the processor resizes further
UNIVERSAL = ("mask2former", "maskformer", "oneformer")


class SemanticSegmenter:
    def __init__(self, path: Path, device: str):
        # heavy: loaded on first use, not when the app starts
        import torch
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(path, local_files_only=True)
        self.kind = config.model_type
        if self.kind in UNIVERSAL:
            # heavy: loaded on first use, not when the app starts
            from transformers import AutoModelForUniversalSegmentation as Model
        else:
            # heavy: loaded on first use, not when the app starts
            from transformers import AutoModelForSemanticSegmentation as Model
        if self.kind == "oneformer":
            self.processor = _oneformer_processor(Path(path), config)
        else:
            # heavy: loaded on first use, not when the app starts
            from transformers import AutoImageProcessor

            self.processor = AutoImageProcessor.from_pretrained(path, local_files_only=True)
        self.model = Model.from_pretrained(path, local_files_only=True, dtype=torch.float32).to(device).eval()
        self.id2label = {int(k): str(v) for k, v in self.model.config.id2label.items()}
        self.device = device
        self._torch = torch
        self._last: tuple[str, SegMap] | None = None

    def predict(self, photo: np.ndarray, key: str | None = None) -> SegMap:
        """The label map of a photo (at a working size, not the photo's); `key` caches the last photo."""
        if key is not None and self._last is not None and self._last[0] == key:
            return self._last[1]
        torch = self._torch
        H, W = photo.shape[:2]
        s = min(1.0, WORK_SIDE / max(H, W))
        small = photo if s >= 1.0 else cv2.resize(photo, (max(1, round(W * s)), max(1, round(H * s))),
                                                  interpolation=cv2.INTER_AREA)
        kwargs = {"task_inputs": ["semantic"]} if self.kind == "oneformer" else {}
        inputs = self.processor(images=small, return_tensors="pt", **kwargs).to(self.device)
        with torch.inference_mode():
            if self.kind in UNIVERSAL:
                extra = {}
                if self.kind == "mask2former" and not getattr(self.model.config, "use_auxiliary_loss", True):
                    extra["output_hidden_states"] = True  # transformers needs the decoder states for the logits
                out = self.model(**inputs, **extra)
                probs = _universal_probs(out, inputs.get("pixel_mask"))
            else:
                out = self.model(pixel_values=inputs["pixel_values"])
                probs = out.logits[0].float().softmax(0)
        # Labels at up to twice the model's output resolution, within the reduced photo's size.
        c, h, w = probs.shape
        th, tw = small.shape[:2]
        f = min(1.0, 2 * max(h, w) / max(th, tw))
        size = (max(1, round(th * f)), max(1, round(tw * f)))
        probs = torch.nn.functional.interpolate(probs[None], size=size, mode="bilinear", align_corners=False)[0]
        score, labels = probs.max(0)
        ids = np.array(sorted(self.id2label), dtype=np.int32)
        # channel i is the i-th class id (id2label keys are 0..C-1 in every transformers model)
        label_map = ids[labels.cpu().numpy()] if len(ids) == c else labels.cpu().numpy().astype(np.int32)
        seg = SegMap(label_map.astype(np.int32), dict(self.id2label), score.cpu().numpy().astype(np.float32))
        if key is not None:
            self._last = (key, seg)
        return seg


def _oneformer_processor(path: Path, config):
    """OneFormer's processor, offline: its image processor config names class metadata on the hub
    (only post-processing needs it, and we do our own), and its task prompt ("the task is
    semantic") needs the CLIP tokenizer files that ship with the model (vocab.json, merges.txt)."""
    # heavy: loaded on first use, not when the app starts
    from transformers import CLIPTokenizer, OneFormerImageProcessor, OneFormerProcessor

    image_processor = OneFormerImageProcessor.from_pretrained(path, local_files_only=True, class_info_file=None)
    if not ((path / "vocab.json").is_file() and (path / "merges.txt").is_file()) and not (
            path / "tokenizer.json").is_file():
        raise ModelMissing(f"{path}: OneFormer needs its tokenizer files (vocab.json and merges.txt from the "
                           f"model's repository) for the task prompt; download the model again")
    tokenizer = CLIPTokenizer.from_pretrained(path, local_files_only=True)
    return OneFormerProcessor(image_processor=image_processor, tokenizer=tokenizer,
                              max_seq_length=int(getattr(config, "text_encoder_context_length", 77)),
                              task_seq_length=int(getattr(config, "task_seq_len", 77)))


def _universal_probs(out, pixel_mask):
    """Per-class probability maps from query logits: sum_q p(class | q) * sigmoid(mask_q).

    Only the un-padded part of the mask logits is kept (the processor pads to a multiple of 32)."""
    class_p = out.class_queries_logits[0].float().softmax(-1)[:, :-1]  # Q x C (last = no object)
    masks = out.masks_queries_logits[0].float().sigmoid()  # Q x h x w
    if pixel_mask is not None:
        pm = pixel_mask[0]
        ph, pw = pm.shape
        vh, vw = int(pm.any(1).sum()), int(pm.any(0).sum())
        h, w = masks.shape[-2:]
        masks = masks[:, : max(1, round(h * vh / ph)), : max(1, round(w * vw / pw))]
    # heavy: loaded on first use, not when the app starts
    import torch

    return torch.einsum("qc,qhw->chw", class_p, masks)


def load_semantic(manager, path: Path, device) -> SemanticSegmenter:
    return manager.cached("semantic", path, device, lambda: SemanticSegmenter(path, device.device))
