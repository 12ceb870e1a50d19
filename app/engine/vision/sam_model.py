"""Build and load Segment Anything models from segment-anything's own classes.

segment-anything's `build_sam` unpickles with plain `torch.load`; we build the
same modules here and load the state dict with `weights_only=True`, so a .pth
can never run code. Encoder sizes come from the model type, or for a
non-standard model from a JSON file beside the weights.

`load_segmenter_backend` picks the backend by the catalog's `sam_type`: a SAM 1
checkpoint (vit_b / vit_l / vit_h / config) or a transformers SAM 2 folder
("sam2", see sam2_backend.py).
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from app.engine.models.checkpoint_info import code_kind
from app.errors import UserError

SAM_TYPES = {
    "vit_b": {"embed_dim": 768, "depth": 12, "num_heads": 12, "global_attn_indexes": [2, 5, 8, 11]},
    "vit_l": {"embed_dim": 1024, "depth": 24, "num_heads": 16, "global_attn_indexes": [5, 11, 17, 23]},
    "vit_h": {"embed_dim": 1280, "depth": 32, "num_heads": 16, "global_attn_indexes": [7, 15, 23, 31]},
}


def build_sam(config: dict | str):
    """A randomly initialised Sam of the given type ("vit_b") or encoder config."""
    # heavy: loaded on first use, not when the app starts
    import torch
    from segment_anything.modeling import (
        ImageEncoderViT,
        MaskDecoder,
        PromptEncoder,
        Sam,
        TwoWayTransformer,
    )

    enc = SAM_TYPES[config] if isinstance(config, str) else config
    prompt_dim, image_size, patch = 256, 1024, 16
    grid = image_size // patch
    sam = Sam(
        image_encoder=ImageEncoderViT(
            depth=enc["depth"], embed_dim=enc["embed_dim"], img_size=image_size, mlp_ratio=4,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=enc["num_heads"],
            patch_size=patch, qkv_bias=True, use_rel_pos=True,
            global_attn_indexes=enc["global_attn_indexes"], window_size=14, out_chans=prompt_dim,
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=prompt_dim, image_embedding_size=(grid, grid),
            input_image_size=(image_size, image_size), mask_in_chans=16,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=prompt_dim, mlp_dim=2048, num_heads=8),
            transformer_dim=prompt_dim, iou_head_depth=3, iou_head_hidden_dim=256,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    return sam.eval()


def load_sam(path: Path, sam_type: str = "vit_b"):
    # heavy: loaded on first use, not when the app starts
    import torch

    path = Path(path)
    if sam_type == "sam2" or path.is_dir():
        raise UserError(f"{path.name}: a SAM 2 model folder, not a SAM checkpoint (its catalog entry needs "
                        f'sam_type = "sam2")')
    if sam_type == "config" or path.with_suffix(".json").is_file():
        config: dict | str = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    elif sam_type in SAM_TYPES:
        config = sam_type
    else:
        raise UserError(f"{path.name}: unknown SAM model type '{sam_type}'")
    kind = code_kind(path)
    if kind in ("TorchScript", "pickle"):
        raise UserError(f"{path}: a {kind} file in the SAM model's place; it can run code, so it is not loaded")
    sam = build_sam(config)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)  # tensors only: no code can run
    except Exception as exc:  # corrupt, truncated, or objects other than tensors
        raise UserError(f"{path}: not a loadable SAM checkpoint ({exc.__class__.__name__}; nothing in it was run). "
                        f"Download or import it again") from None
    try:
        sam.load_state_dict(state)
    except Exception as exc:  # the wrong model
        raise UserError(f"{path}: not a SAM checkpoint of this type ({str(exc)[:200]})") from None
    return sam

