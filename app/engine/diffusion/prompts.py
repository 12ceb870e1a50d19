"""Prompts: a style and room type (or an empty room) -> positive and negative prompt text."""

from __future__ import annotations

from app import presets

# What every staging prompt avoids: the things that make a listing photo misleading or ugly.
BASE_NEGATIVE = (
    "blurry, distorted, deformed furniture, floating furniture, warped walls, extra windows, "
    "text, watermark, people, lowres, cartoon, illustration"
)


def staging_prompts(style: str, room: str, prompt: str = "", negative: str = "",
                    avoid: list[str] | None = None) -> tuple[str, str]:
    """The positive and negative prompt for a style and room, with the user's additions."""
    s = presets.style(style)
    r = presets.room(room)
    positive = s["prompt"].format(room=r["phrase"]) + f", with {r['furniture']}"
    if prompt.strip():
        positive = f"{prompt.strip()}, {positive}"
    negatives = [n for n in (negative.strip(), ", ".join(a.strip() for a in avoid or [] if a.strip()),
                             s.get("negative", ""), BASE_NEGATIVE) if n]
    return positive, ", ".join(negatives)


EMPTY_ROOM_PROMPT = (
    "a photo of an empty room with bare walls, clean floor, and no furniture or objects, "
    "natural light, professional real estate photo"
)
FURNITURE_NEGATIVE = (
    "furniture, chairs, tables, beds, couches, sofas, cabinets, decorations, pillows, carpets, rugs, "
    "curtains, drapes, plants, vases, paintings, picture frames, wall art, objects, clutter, shadows of objects"
)


def defurnish_prompts(prompt: str = "", negative: str = "") -> tuple[str, str]:
    positive = f"{prompt.strip()}, {EMPTY_ROOM_PROMPT}" if prompt.strip() else EMPTY_ROOM_PROMPT
    neg = f"{negative.strip()}, {FURNITURE_NEGATIVE}" if negative.strip() else FURNITURE_NEGATIVE
    return positive, neg
