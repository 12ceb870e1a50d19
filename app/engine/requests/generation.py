"""Requests of the jobs that paint: staging, de-furnishing and repainting."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

import app.engine.checks as checks
from app import presets
from app.engine.requests.base import PREFILLS, SEED_LIMIT, JobKind, Request


@dataclass(kw_only=True)
class GenerationRequest(Request):
    """Shared by staging and de-furnishing: sampling and mask handling."""

    mask: np.ndarray | None = field(default=None, repr=False)
    prompt: str = ""
    negative: str = ""
    steps: int | None = 30  # None: the model set's preset
    guidance: float | None = 7.5  # None: the model set's preset (FLUX Fill: 30, Z-Image Turbo: 0)
    strength: float = 1.0
    seed: int | None = None  # None draws one; the drawn seed is reported in the result
    variations: int = 1
    grow_px: int | None = None  # None scales a default with the photo size
    feather_px: int | None = None
    canny_low: int = 100
    canny_high: int = 200
    depth_scale: float = 0.5
    canny_scale: float = 0.5
    color_match: bool = True
    fast: bool = False  # the set's fast mode: step-distillation LoRA, few steps, low guidance

    def check_fields(self) -> None:
        super().check_fields()
        checks.text(self, "prompt")
        checks.text(self, "negative")
        if self.steps is not None:
            checks.integer(self, "steps", 1, 500)
        if self.guidance is not None:
            checks.number(self, "guidance", 0.0, 50.0)
        checks.number(self, "strength", 0.0, 1.0, low_open=True)
        if self.seed is not None:
            checks.integer(self, "seed", 0, SEED_LIMIT - 1)
        checks.integer(self, "variations", 1, 16)
        for name in ("grow_px", "feather_px"):
            if getattr(self, name) is not None:
                checks.integer(self, name, 0, 10_000)
        checks.canny(self)
        checks.number(self, "depth_scale", 0.0, 2.0)
        checks.number(self, "canny_scale", 0.0, 2.0)
        checks.boolean(self, "color_match")
        checks.boolean(self, "fast")

    def check_inputs(self) -> None:
        super().check_inputs()
        if self.mask is not None:
            checks.mask(self.mask, self.photo)


@dataclass(kw_only=True)
class StageRequest(GenerationRequest):
    """Add furniture. `mask=None` stages the automatic staging area (floor + band)."""

    style: str = "modern"
    room: str = "living_room"
    avoid: list[str] = field(default_factory=list)  # "no X" constraints -> negative prompt
    inpaint_scale: float = 0.0  # > 0 adds the SD1.5 inpaint ControlNet where the set has it
    lora: str | None = None
    lora_scale: float = 0.8

    kind = JobKind.STAGE

    def check_fields(self) -> None:
        super().check_fields()
        checks.choice_from(self, "style", presets.style)
        checks.choice_from(self, "room", presets.room)
        checks.texts(self, "avoid")
        checks.number(self, "inpaint_scale", 0.0, 2.0)
        checks.lora(self)

    def check_inputs(self) -> None:
        super().check_inputs()
        if self.mask is not None and not self.mask.any():
            checks.fail("mask", "is empty: select the area to furnish")


@dataclass(kw_only=True)
class DefurnishRequest(GenerationRequest):
    """Remove what the mask covers and leave an empty room."""

    margin_px: int | None = None  # ring added around objects; None scales settings.MARGIN_AT_1024
    # Below 1.0 the pre-filled hole seeds the sampler, so the model starts from an empty room
    # rather than from noise where furniture stood.
    strength: float = 0.95
    prefill: str = "telea"  # classical fill of the hole before diffusion: "telea", "ns", "erase", "none"
    depth_scale: float = 0.3
    canny_scale: float = 0.6
    lora: str | None = None  # optional de-furnishing LoRA (.safetensors)
    lora_scale: float = 0.8

    kind = JobKind.DEFURNISH

    def check_fields(self) -> None:
        super().check_fields()
        if self.margin_px is not None:
            checks.integer(self, "margin_px", 0, 10_000)
        checks.choice(self, "prefill", PREFILLS)
        checks.lora(self)

    def check_inputs(self) -> None:
        super().check_inputs()
        if self.mask is None or not self.mask.any():
            checks.fail("mask", "is empty: de-furnishing needs a mask of the objects to remove")


@dataclass(kw_only=True)
class RepaintRequest(GenerationRequest):
    """Repaint everything but a kept mask ("keep"), a room region found by semantic segmentation
    ("region"), or a mask ("mask"): one output per prompt and variation, the rest bit-exact."""

    MODES: ClassVar = ("keep", "region", "mask")
    REGIONS: ClassVar = ("window-view", "walls", "floor", "ceiling", "sky")

    mode: str = "region"
    region: str | None = None
    prompts: list[str] = field(default_factory=list)  # one output each; empty = [prompt]
    blur_px: int | None = None  # soft edge of the region, inward; None scales ~8 px at 1024
    noise_background: bool = False  # start from noise, not from what is there (strength 1)
    guidance: float = 6.0
    strength: float = 0.9

    kind = JobKind.REPAINT

    @property
    def all_prompts(self) -> list[str]:
        return [p.strip() for p in (self.prompts or [self.prompt]) if p.strip()]

    def check_fields(self) -> None:
        super().check_fields()
        checks.choice(self, "mode", self.MODES)
        if self.mode == "region":
            checks.choice(self, "region", self.REGIONS)
        checks.texts(self, "prompts")
        if not self.all_prompts:
            checks.fail("prompt", "is missing: say what to paint in the region")
        if len(self.all_prompts) > 64:
            checks.fail("prompts", f"are too many ({len(self.all_prompts)}): at most 64 in one job")
        if self.blur_px is not None:
            checks.integer(self, "blur_px", 0, 1000)
        checks.boolean(self, "noise_background")

    def check_inputs(self) -> None:
        super().check_inputs()
        if self.mode != "region":
            what = "(what to keep)" if self.mode == "keep" else "(what to repaint)"
            if self.mask is None or not self.mask.any():
                checks.fail("mask", f"is empty {what}")
            if self.mode == "keep" and self.mask.all():
                checks.fail("mask", "keeps the whole photo: nothing is left to repaint")
