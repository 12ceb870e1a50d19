"""Tiny random-weight metric depth models in the real on-disk layout (part of the tiny model set,
which engine.tiny writes): Depth Pro with its field-of-view head, and a Depth Anything metric."""

from __future__ import annotations

from pathlib import Path

TINY_PATCH = 32  # Depth Pro's patch size (the real one is 384)


def write_depth_pro(path: Path) -> None:
    # transformers loads lazily: writing the tiny set is the only time these classes are needed here
    from transformers import DepthProConfig, DepthProForDepthEstimation, DepthProImageProcessor

    encoder = {"model_type": "dinov2", "num_hidden_layers": 2, "hidden_size": 16, "num_attention_heads": 1,
               "patch_size": 8}
    config = DepthProConfig(
        patch_size=TINY_PATCH, fusion_hidden_size=16, intermediate_hook_ids=[1, 0], intermediate_feature_dims=[8, 8],
        scaled_images_ratios=[0.5, 1.0], scaled_images_overlap_ratios=[0.0, 0.25], scaled_images_feature_dims=[12, 12],
        use_fov_model=True, image_model_config=dict(encoder), patch_model_config=dict(encoder),
        fov_model_config=dict(encoder),
    )
    DepthProForDepthEstimation(config).save_pretrained(path, safe_serialization=True)
    DepthProImageProcessor(size={"height": 2 * TINY_PATCH, "width": 2 * TINY_PATCH}).save_pretrained(path)


def write_depth_anything(path: Path, **head) -> None:
    """A tiny Depth Anything V2 in its real layout: relative depth, or metric with
    depth_estimation_type="metric" and max_depth in `head`."""
    from transformers import (  # lazily, as above
        DepthAnythingConfig,
        DepthAnythingForDepthEstimation,
        Dinov2Config,
        DPTImageProcessor,
    )

    backbone = Dinov2Config(
        hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64, patch_size=14,
        image_size=126, out_features=["stage1", "stage2", "stage3", "stage4"], reshape_hidden_states=False,
    )
    config = DepthAnythingConfig(
        backbone_config=backbone, reassemble_hidden_size=32, neck_hidden_sizes=[8, 16, 32, 32], fusion_hidden_size=16,
        head_hidden_size=8, **head,
    )
    DepthAnythingForDepthEstimation(config).save_pretrained(path, safe_serialization=True)
    DPTImageProcessor(
        do_resize=True, size={"height": 126, "width": 126}, keep_aspect_ratio=True, ensure_multiple_of=14, resample=3,
        do_pad=False, image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225],
    ).save_pretrained(path)
