"""SAM 2.1 (Hiera) click-to-segment through transformers' `Sam2Model` and `Sam2Processor`.

A lighter image encoder than SAM 1's ViT-B for CPU-only machines: Hiera-Tiny's
image path is ~31M parameters (the hub checkpoint's ~39M include the video
memory modules, unused here) against ViT-B's ~94M, and its 1024x1024 embedding
costs about a sixth of ViT-B's on a 2-core CPU.

Geometry, as transformers' Sam2ImageProcessor / Sam2Processor and SAM 2's own
SAM2ImagePredictor do it (unlike SAM 1, no aspect ratio is kept, no padding):
- the photo is resized to the full `size` square (1024x1024), stretched;
- a prompt point (x, y) in photo pixels goes to (x * S / W, y * S / H), S the
  processor's `target_size` (1024); the prompt encoder adds the half pixel;
  box corners likewise;
- the decoder's low-res logits (256x256 = 4 x 1024/16) cover the whole square,
  so the whole photo: they are upscaled straight to (H, W), bilinear with
  half-pixel centres (`post_process_masks`: F.interpolate, align_corners=False).

The embedding is three tensors: the image embedding (1x256x64x64, with SAM 2's
"no memory" embedding added) and the decoder's two high-resolution feature maps
(already through conv_s0 / conv_s1: 1x32x256x256 and 1x64x128x128). All three
are what `Sam2Model.get_image_embeddings` returns and all three are cached.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from app.engine.vision.segmenter import (
    Embedding,
    pixel_affine,
    point_labels,
    prompt_scale,
    stretched_pixels,
    upscale_frame,
)
from app.errors import UserError

log = logging.getLogger(__name__)

SAM2_TYPE = "sam2"
WEIGHTS = "model.safetensors"


def load_sam2(path: Path):
    """(Sam2Model in fp32, eval; Sam2Processor) from a transformers folder, offline.

    The hub's facebook/sam2.1-* folders hold a `sam2_video` checkpoint; Sam2Model
    takes its image part (the memory modules are left unused). A checkpoint that
    leaves any of Sam2Model's weights missing is refused rather than run half random."""
    # heavy: loaded on first use, not when the app starts
    import torch
    from transformers import Sam2Model, Sam2Processor

    path = Path(path)
    if not (path / "config.json").is_file():
        raise UserError(f"{path}: not a SAM 2 model folder (no config.json)")
    try:
        processor = Sam2Processor.from_pretrained(path, local_files_only=True)
        model, info = Sam2Model.from_pretrained(path, local_files_only=True, dtype=torch.float32,
                                                output_loading_info=True)
    except Exception as exc:  # missing or damaged files, or not a SAM 2 model
        raise UserError(f"{path}: not a loadable SAM 2 model ({exc.__class__.__name__}: {exc})") from None
    missing = list(info.get("missing_keys") or [])
    if missing:
        raise UserError(f"{path}: the SAM 2 checkpoint lacks {len(missing)} weights (e.g. {missing[0]})")
    return model.eval(), processor


def sam2_model_id(path: Path) -> str:
    """Cache id of a SAM 2 folder: backend, name, and the weights' size and date."""
    path = Path(path)
    weights = path / WEIGHTS
    if not weights.is_file():
        found = sorted(path.glob("*.safetensors"))
        weights = found[0] if found else path / "config.json"
    stat = weights.stat()
    return f"{SAM2_TYPE}:{path.name}:{stat.st_size}:{int(stat.st_mtime)}"


class Sam2Backend:
    kind = SAM2_TYPE

    def __init__(self, model, processor, device: str):
        # heavy: loaded on first use, not when the app starts
        import torch

        self._torch = torch
        self.model = model.to(device=device, dtype=torch.float32).eval()
        self.processor = processor
        self.device = device
        ip = processor.image_processor
        side = int(model.config.prompt_encoder_config.image_size)
        size = (int(ip.size["height"]), int(ip.size["width"]))
        if size != (side, side) or int(processor.target_size) != side:
            raise UserError(f"SAM 2 processor size {size} / target {processor.target_size} does not match the "
                            f"model's {side}x{side} input")
        self.side = side
        self._a, self._b = pixel_affine(ip, device)

    def pixel_values(self, photo: np.ndarray):
        """The processor's preprocessing done with OpenCV (no full-size float copy of a 24 MP photo):
        the whole photo to side x side, stretched like the SAM 1 path, rescaled and normalised."""
        return stretched_pixels(photo, self.side, (self._a, self._b))

    def encode(self, photo: np.ndarray) -> Embedding:
        h, w = photo.shape[:2]
        with self._torch.inference_mode():
            maps = self.model.get_image_embeddings(self.pixel_values(photo))
        # get_image_embeddings returns permuted views: contiguous copies make every click's decoder
        # faster (measured ~1.5x on CPU) and the disk cache store plain tensors
        *high_res, features = (t.contiguous() for t in maps)
        return Embedding(features, (self.side, self.side), (h, w), tuple(high_res))

    def check(self, emb: Embedding) -> bool:
        return len(emb.high_res) == 2 and tuple(emb.input_size) == (self.side, self.side)

    def decode(self, emb: Embedding, points, boxes, multimask: bool):
        """(logits BxKxhxw, scores BxK) for B = max(1, len(boxes)); the points go with every box.
        Prompts are mapped like Sam2Processor's `_normalize_coordinates` (x * S/W, y * S/H)."""
        torch = self._torch
        sx, sy = prompt_scale(emb)
        n = max(1, len(boxes))
        kwargs = {}
        if points:
            pts = torch.as_tensor([[p[0] * sx, p[1] * sy] for p in points], dtype=torch.float32, device=self.device)
            kwargs["input_points"] = pts[None, None].expand(1, n, -1, -1)
            kwargs["input_labels"] = torch.as_tensor([point_labels(points)], device=self.device)[None].expand(1, n, -1)
        if boxes:
            kwargs["input_boxes"] = torch.as_tensor(
                [[[x0 * sx, y0 * sy, x1 * sx, y1 * sy] for x0, y0, x1, y1 in boxes]],
                dtype=torch.float32, device=self.device)
        with torch.inference_mode():
            out = self.model(image_embeddings=[*emb.high_res, emb.features], multimask_output=multimask, **kwargs)
        return out.pred_masks[0].float().cpu().numpy(), out.iou_scores[0].float().cpu().numpy()

    def upscale(self, logits: np.ndarray, emb: Embedding) -> np.ndarray:
        """The low-res logits cover the whole photo: straight to photo size (post_process_masks' geometry)."""
        return upscale_frame(logits, emb.original_size)


# ---- models for tests and timings ----------------------------------------------------
