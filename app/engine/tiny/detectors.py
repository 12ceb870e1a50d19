"""Tiny automatic-mask models in the real on-disk layout: Grounding DINO, OneFormer, Mask2Former.

Part of the tiny model set (engine.tiny writes the rest and the catalog): the same
transformers classes with tiny configs and random weights, their tokenizers and
ADE20K-like label maps, written the way the hub lays them out.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from app.engine.tiny.tokenizer import write_tokenizer

# Words the tiny detector's WordPiece vocabulary knows whole (the default furniture and
# structure queries); anything else is spelled with single letters.
TINY_DETECTOR_WORDS = (
    "furniture", "sofa", "armchair", "chair", "table", "coffee", "desk", "bed", "cabinet", "dresser", "shelf",
    "bookcase", "lamp", "plant", "rug", "painting", "television", "cushion", "decor", "window", "door",
    "radiator", "ceiling", "light", "chandelier", "fireplace", "stairs", "column", "wall", "floor",
)

# An ADE20K-like label map in the formats real configs use: "windowpane;window"
# synonyms and the stray space of ADE20K's "bed ".
TINY_SEMANTIC_LABELS = (
    "wall", "floor", "ceiling", "windowpane;window", "door", "radiator", "stairs", "column", "sofa", "chair",
    "table", "bed ", "cabinet", "shelf", "lamp", "plant", "rug", "curtain", "light", "painting", "sky",
    "person", "countertop",
)


def write_detector(path: Path) -> None:
    """Grounding DINO: Swin backbone, BERT text encoder, both tiny; a local WordPiece vocabulary."""
    # heavy: loaded on first use, not when the app starts
    from transformers import (
        BertTokenizer,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessor,
        GroundingDinoProcessor,
        SwinConfig,
    )

    path.mkdir(parents=True, exist_ok=True)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "-", "'"]
    vocab += list(TINY_DETECTOR_WORDS) + list(letters) + ["##" + c for c in letters]
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(path / "vocab.txt"), do_lower_case=True, model_max_length=64)
    swin = SwinConfig(window_size=7, embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], image_size=224,
                      out_indices=[2, 3, 4])
    config = GroundingDinoConfig(
        d_model=32, encoder_layers=1, decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2,
        encoder_ffn_dim=16, decoder_ffn_dim=16, num_queries=6, num_feature_levels=4, encoder_n_points=2,
        decoder_n_points=2, use_timm_backbone=False, backbone_config=swin, max_text_len=64,
        text_config={"model_type": "bert", "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
                     "intermediate_size": 16, "max_position_embeddings": 64, "vocab_size": len(vocab)},
    )
    GroundingDinoForObjectDetection(config).save_pretrained(path, safe_serialization=True)
    image_processor = GroundingDinoImageProcessor(size={"shortest_edge": 160, "longest_edge": 224})
    GroundingDinoProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)


def _tiny_swin():
    # heavy: loaded on first use, not when the app starts
    from transformers import SwinConfig

    return SwinConfig(embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=4, image_size=128,
                      out_features=["stage1", "stage2", "stage3", "stage4"])


def write_oneformer(path: Path) -> None:
    """OneFormer laid out like shi-labs/oneformer_ade20k_*: its preprocessor config names class
    metadata on the hub (which the loader must not fetch) and the CLIP task tokenizer is only
    vocab.json + merges.txt."""
    # heavy: loaded on first use, not when the app starts
    from transformers import OneFormerConfig, OneFormerForUniversalSegmentation, OneFormerImageProcessor

    id2label = dict(enumerate(TINY_SEMANTIC_LABELS))
    config = OneFormerConfig(
        backbone_config=_tiny_swin(), num_queries=12, conv_dim=32, mask_dim=32, hidden_dim=32,
        encoder_feedforward_dim=32, encoder_layers=1, decoder_layers=2, num_attention_heads=2, dim_feedforward=32,
        text_encoder_width=32, text_encoder_num_layers=1, text_encoder_vocab_size=600,
        text_encoder_context_length=16, task_seq_len=16, text_encoder_n_ctx=4, query_dec_layers=1,
        id2label=id2label, label2id={v: k for k, v in id2label.items()},
    )
    OneFormerForUniversalSegmentation(config).save_pretrained(path, safe_serialization=True)
    OneFormerImageProcessor(size={"shortest_edge": 128, "longest_edge": 192}, ignore_index=255,
                            do_reduce_labels=False, num_text=4).save_pretrained(path)
    pre = path / "preprocessor_config.json"
    spec = json.loads(pre.read_text(encoding="utf-8"))
    spec.update(class_info_file="ade20k_panoptic.json", repo_path="shi-labs/oneformer_demo")
    pre.write_text(json.dumps(spec, indent=2), encoding="utf-8")
    tok = path / ".tokenizer"
    write_tokenizer(tok)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(tok / name, path / name)
    shutil.rmtree(tok)


def write_mask2former(path: Path) -> None:
    """Mask2Former (universal segmentation) with a tiny Swin backbone and an ADE20K-like id2label."""
    # heavy: loaded on first use, not when the app starts
    from transformers import Mask2FormerConfig, Mask2FormerForUniversalSegmentation, Mask2FormerImageProcessor

    id2label = dict(enumerate(TINY_SEMANTIC_LABELS))
    swin = _tiny_swin()
    config = Mask2FormerConfig(
        backbone_config=swin, feature_size=32, mask_feature_size=32, hidden_dim=32, encoder_feedforward_dim=32,
        encoder_layers=1, decoder_layers=2, num_attention_heads=2, dim_feedforward=32, num_queries=12,
        id2label=id2label, label2id={v: k for k, v in id2label.items()},
    )
    Mask2FormerForUniversalSegmentation(config).save_pretrained(path, safe_serialization=True)
    Mask2FormerImageProcessor(size={"shortest_edge": 128, "longest_edge": 192}, ignore_index=255,
                              do_reduce_labels=False).save_pretrained(path)
