"""Model families: how each architecture loads, samples and previews, behind one small interface.

The inpaint core (crop -> guides -> pipeline -> paste back) is the same for every
family; it asks the family for a pipeline and for latents of the crop.
"""

from __future__ import annotations

from app.engine.diffusion.families.base import Family, SampleArgs
from app.engine.diffusion.families.flux import FluxFamily
from app.engine.diffusion.families.sd import SD15Family, SDXLFamily
from app.engine.diffusion.families.zimage import ZImageFamily
from app.errors import UserError

__all__ = ["Family", "SampleArgs", "family_for", "FAMILIES"]

FAMILIES: dict[str, Family] = {f.arch: f for f in (SD15Family(), SDXLFamily(), FluxFamily(), ZImageFamily())}


def family_for(arch: str) -> Family:
    try:
        return FAMILIES[arch]
    except KeyError:
        raise UserError(f"unknown model architecture '{arch}' (known: {', '.join(FAMILIES)})") from None
