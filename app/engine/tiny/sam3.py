"""SAM 3 with random weights in the real on-disk layout: the tiny test model, or the real sizes.

The same transformers classes (Sam3Model, Sam3Processor with Sam3ImageProcessor and a CLIP
tokenizer) saved with save_pretrained, as the hub's facebook/sam3 lays them out (config.json,
model.safetensors, processor_config.json, tokenizer files), so `vision.sam3.load_sam3` reads them
exactly as it reads the real model. Part of the tiny model set written by engine.tiny.
"""

from __future__ import annotations

from pathlib import Path

PATCH = 14
TINY_SIDE = 112  # 8 x 8 ViT patches; mask logits at 4 x that grid (32 x 32)
REAL_SIDE = 1008  # facebook/sam3: 72 x 72 patches, 288 x 288 mask logits
TINY_MASK_GAIN = 3000.0


def sam3_config(image_size: int = REAL_SIDE, tiny: bool = False):
    """Sam3Config: transformers' defaults are SAM 3's real sizes; `tiny` shrinks every width and depth
    (a few hundred thousand weights) and keeps the geometry: the ViT's patch grid, FPN maps at 4x,
    2x, 1x and 0.5x of it, mask logits at 4x, a 32-token text encoder."""
    from transformers import (
        Sam3Config,
        Sam3DETRDecoderConfig,
        Sam3DETREncoderConfig,
        Sam3GeometryEncoderConfig,
        Sam3MaskDecoderConfig,
        Sam3VisionConfig,
        Sam3ViTConfig,
    )

    grid = image_size // PATCH
    sizes = [[grid * 4] * 2, [grid * 2] * 2, [grid] * 2]
    if not tiny:
        vit = Sam3ViTConfig(image_size=image_size)
        return Sam3Config(vision_config=Sam3VisionConfig(backbone_config=vit, backbone_feature_sizes=sizes))
    vit = Sam3ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                        image_size=image_size, patch_size=PATCH, window_size=4, global_attn_indexes=[1],
                        pretrain_image_size=image_size // 2)
    vision = Sam3VisionConfig(backbone_config=vit, fpn_hidden_size=32, backbone_feature_sizes=sizes)
    # the tiny byte-level CLIP vocabulary of engine.tiny (about 520 tokens); 32 positions like the real one
    text = {"vocab_size": 600, "hidden_size": 32, "intermediate_size": 64, "projection_dim": 32,
            "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 32,
            "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1}
    small = {"hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64}
    return Sam3Config(
        vision_config=vision, text_config=text,
        geometry_encoder_config=Sam3GeometryEncoderConfig(num_layers=1, **small),
        detr_encoder_config=Sam3DETREncoderConfig(num_layers=1, **small),
        detr_decoder_config=Sam3DETRDecoderConfig(num_layers=1, num_queries=8, **small),
        mask_decoder_config=Sam3MaskDecoderConfig(hidden_size=32, num_attention_heads=2),
    )


def write_sam3(path: Path, tokenizer, image_size: int = TINY_SIDE, tiny: bool = True, seed: int = 0) -> Path:
    """A random-weight Sam3Model and its Sam3Processor saved where `load_sam3` reads them. `tokenizer`: a
    CLIP tokenizer whose ids fit the text encoder (engine.tiny's byte-level one for the tiny model)."""
    import torch
    from transformers import Sam3ImageProcessor, Sam3Model, Sam3Processor

    path = Path(path)
    torch.manual_seed(seed)
    model = Sam3Model(sam3_config(image_size, tiny=tiny)).eval()
    if tiny:
        # Random tiny widths give mask logits of about 1e-3, below the 1/256 logit step of the app's
        # upscaler, so every mask would come out empty: scale the mask embedding to real magnitudes.
        last = model.mask_decoder.mask_embedder.layers[-1]
        with torch.no_grad():
            last.weight.mul_(TINY_MASK_GAIN)
            last.bias.mul_(TINY_MASK_GAIN)
    model.save_pretrained(path, safe_serialization=True)
    grid = image_size // PATCH
    image_processor = Sam3ImageProcessor(size={"height": image_size, "width": image_size},
                                         mask_size={"height": grid * 4, "width": grid * 4})
    Sam3Processor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
    return path
