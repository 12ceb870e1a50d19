"""A tiny CLIP tokenizer written in the real file layout (vocab.json, merges.txt), for every tiny text model."""

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
