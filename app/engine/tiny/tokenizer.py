"""The tiny text side every tiny model shares: a CLIP tokenizer in the real file layout (vocab.json,
merges.txt) and a small CLIP text encoder config."""

from __future__ import annotations

import json
from pathlib import Path


def write_tokenizer(path: Path) -> None:
    """A byte-level CLIP BPE vocabulary with no merges: every byte is a token."""
    # heavy: loaded on first use, not when the app starts
    from transformers import CLIPTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    chars = list(bytes_to_unicode().values())
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in chars:
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (path / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    tok = CLIPTokenizer(str(path / "vocab.json"), str(path / "merges.txt"), model_max_length=77)
    tok.save_pretrained(path)


def text_config(projection: bool = False):
    # heavy: loaded on first use, not when the app starts
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32, intermediate_size=37,
        num_attention_heads=4, num_hidden_layers=2, vocab_size=600, max_position_embeddings=77,
        projection_dim=32 if projection else 512,
    )
