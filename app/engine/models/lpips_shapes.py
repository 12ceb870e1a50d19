"""What LPIPS weight files look like: the AlexNet features and the five linear heads, by shape.

Kept apart from the network (lpips.py) so that recognising a file (`models import`) needs no torch.
"""

from __future__ import annotations

BACKBONE_ROLE = "lpips-backbone"
HEADS_ROLE = "lpips-heads"
# torchvision AlexNet `features`: index -> (out, in, kernel); ReLUs after each conv, max-pools at 2 and 5
FEATURE_SHAPES = {0: (64, 3, 11), 3: (192, 64, 5), 6: (384, 192, 3), 8: (256, 384, 3), 10: (256, 256, 3)}
HEAD_WIDTHS = (64, 192, 384, 256, 256)


def lpips_kind(shapes: dict) -> str | None:
    """'lpips-backbone' or 'lpips-heads' when a file's tensor shapes ({name: shape}) are one of them."""
    plain = {k[len("features."):] if k.startswith("features.") else k: tuple(v) for k, v in shapes.items()}
    if all(plain.get(f"{i}.weight") == (o, c, k, k) and plain.get(f"{i}.bias") == (o,)
           for i, (o, c, k) in FEATURE_SHAPES.items()):
        return BACKBONE_ROLE
    if all(plain.get(f"lin{k}.model.1.weight") == (1, w, 1, 1) for k, w in enumerate(HEAD_WIDTHS)):
        return HEADS_ROLE
    return None
