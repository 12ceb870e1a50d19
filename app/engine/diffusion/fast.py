"""Sampling presets: each set's normal steps / guidance, and fast mode.

Fast mode swaps in a step-distillation LoRA (LCM-LoRA for SD1.5 and SDXL, a turbo
LoRA for FLUX) and the scheduler it was distilled for, and runs the set's few-step
preset at low guidance. A set whose model is step-distilled already (Z-Image Turbo)
runs its own few-step schedule either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.errors import ModelMissing, UserError

SCHEDULERS = ("lcm", "tcd", "normal")


@dataclass
class Sampling:
    steps: int
    guidance: float
    scheduler: str | None = None  # None: the pipeline's normal scheduler
    loras: list[tuple[str, float]] = field(default_factory=list)
    fast: bool = False
    note: str = ""
    denoise_s: float = 0.0  # time in the denoising loop, summed over the variations (measured by the core)

    def record(self) -> dict:
        return {"steps": self.steps, "guidance": self.guidance, "fast": self.fast,
                "scheduler": self.scheduler or "normal", **({"fast_note": self.note} if self.note else {})}


def sampling_for(models, family, request, user_lora: str | None) -> Sampling:
    """The steps, guidance, scheduler and LoRAs one job runs with."""
    preset = models.preset
    steps = request.steps if request.steps is not None else int(preset.get("steps", family.default_steps))
    guidance = (request.guidance if request.guidance is not None
                else float(preset.get("guidance", family.default_guidance)))
    user = [(user_lora, float(request.lora_scale))] if user_lora else []
    if not getattr(request, "fast", False):
        return Sampling(int(steps), float(guidance), loras=user)
    if not models.has_fast:
        if preset.get("distilled"):
            return Sampling(int(steps), float(guidance), loras=user, fast=True,
                            note=f"model set '{models.name}' is a few-step model already: its normal preset is fast")
        raise UserError(f"model set '{models.name}' has no fast mode (choose another set, or turn Fast off)")
    loras = list(user)
    if models.fast_lora_name:
        if models.fast_lora is None:
            raise ModelMissing(
                f"fast mode of model set '{models.name}' needs the LoRA '{models.fast_lora_name}', which is not "
                f"installed: download it with `python main.py models download {models.fast_lora_name}` "
                f"(or Models > Download in the window)")
        loras.insert(0, (str(models.fast_lora), float(preset.get("fast_lora_scale", 1.0))))
    return Sampling(int(preset["fast_steps"]), float(preset.get("fast_guidance", 1.0)),
                    scheduler=preset.get("fast_scheduler"), loras=loras, fast=True)


def make_scheduler(name: str, normal):
    """A distillation scheduler built from the pipeline's own scheduler config (betas, offsets)."""
    if name == "normal":
        return normal
    if name == "lcm":
        from diffusers import LCMScheduler

        return LCMScheduler.from_config(normal.config)
    if name == "tcd":
        from diffusers import TCDScheduler

        return TCDScheduler.from_config(normal.config)
    raise UserError(f"unknown fast-mode scheduler '{name}' (known: {', '.join(SCHEDULERS)})")
