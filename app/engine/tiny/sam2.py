"""SAM 2 configs (the real Hiera-Tiny sizes, or shrunk for tests) and random-weight SAM 2 folders."""

from __future__ import annotations

from pathlib import Path


def sam2_config(image_size: int = 1024, tiny: bool = False):
    """Sam2Config: transformers' defaults are SAM 2.1 Hiera-Tiny at 1024; `tiny` shrinks every width
    (values after transformers' own Sam2 tests) for fast tests, keeping the geometry (S/4, S/8, S/16
    feature maps, 4 x S/16 low-res masks)."""
    from transformers import (  # heavy: only when a config is built
        Sam2Config,
        Sam2HieraDetConfig,
        Sam2MaskDecoderConfig,
        Sam2PromptEncoderConfig,
        Sam2VisionConfig,
    )

    s = image_size
    if not tiny:
        return Sam2Config(
            vision_config=Sam2VisionConfig(backbone_config=Sam2HieraDetConfig(image_size=[s, s]),
                                           backbone_feature_sizes=[[s // 4] * 2, [s // 8] * 2, [s // 16] * 2]),
            prompt_encoder_config=Sam2PromptEncoderConfig(image_size=s),
        )
    backbone = Sam2HieraDetConfig(hidden_size=12, image_size=[s, s], blocks_per_stage=[1, 1, 2, 1],
                                  embed_dim_per_stage=[12, 24, 48, 96], num_attention_heads_per_stage=[1, 1, 2, 2],
                                  global_attention_blocks=[3])
    vision = Sam2VisionConfig(backbone_config=backbone, backbone_channel_list=[96, 48, 24, 12],
                              backbone_feature_sizes=[[s // 4] * 2, [s // 8] * 2, [s // 16] * 2], fpn_hidden_size=32)
    return Sam2Config(
        vision_config=vision,
        prompt_encoder_config=Sam2PromptEncoderConfig(hidden_size=32, image_size=s, patch_size=16,
                                                      mask_input_channels=8),
        mask_decoder_config=Sam2MaskDecoderConfig(hidden_size=32, mlp_dim=64, num_attention_heads=4,
                                                  iou_head_hidden_dim=32),
    )


def write_tiny_sam2(path: Path, image_size: int = 256, seed: int = 0, tiny: bool = True) -> Path:
    """A random-weight Sam2Model + Sam2Processor saved with save_pretrained (the on-disk layout
    `load_sam2` reads). `tiny=False` writes the real Hiera-Tiny sizes."""
    import torch  # heavy: only when a tiny model is written
    from transformers import Sam2ImageProcessor, Sam2Model, Sam2Processor

    path = Path(path)
    torch.manual_seed(seed)
    model = Sam2Model(sam2_config(image_size, tiny=tiny)).eval()
    model.save_pretrained(path)
    processor = Sam2Processor(image_processor=Sam2ImageProcessor(size={"height": image_size, "width": image_size}))
    processor.save_pretrained(path)
    return path
