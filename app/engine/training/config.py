"""What a LoRA training run is: one dataclass, checked before anything is loaded.

Defaults are the de-furnishing study's (rank 32, alpha 16, dropout 0.1, attention
projections, learning rate 1e-3, cosine schedule, batch 1). `validate()` names the
option and the problem, the way the command line spells it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.errors import UserError

TASKS = ("defurnish", "stage")
ARCHES = ("sd15", "sdxl")  # the inpainting UNets a LoRA is trained on (not the FLUX / Z-Image transformers)
OPTIMIZERS = ("adamw", "adagrad", "adamw8bit")
SCHEDULERS = ("cosine", "linear", "constant")
PRECISIONS = ("fp32", "fp16", "bf16")
ATTENTION = ("to_k", "to_q", "to_v", "to_out.0")
# `--targets all`: every projection and convolution of the UNet (a random test UNet is no denoiser,
# so only a LoRA over all of it can learn one; real models need the attention projections only)
ALL_LAYERS = ("to_k", "to_q", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2",
              "conv1", "conv2", "conv_shortcut", "time_emb_proj", "conv_in", "conv_out")
TARGET_PRESETS = {"attention": ATTENTION, "all": ALL_LAYERS}

# Two presets the Train window offers; the command line spells the same values out.
PRESETS = {
    "quick": {"steps": 300, "val_every": 100, "save_every": 100, "rank": 16, "alpha": 8, "val_limit": 4},
    "standard": {"epochs": 20, "val_every": 500, "save_every": 500, "rank": 32, "alpha": 16, "val_limit": 16},
}


@dataclass
class TrainConfig:
    dataset: str
    output: str  # NAME.safetensors
    task: str = "defurnish"
    models: str = "auto"  # models folder: "auto", "tiny" or a path
    base: str | None = None  # model set; None picks one for the device
    device: str | None = None
    rank: int = 32
    alpha: float = 16.0
    dropout: float = 0.1
    targets: list[str] = field(default_factory=lambda: list(ATTENTION))
    lr: float = 1e-3
    optimizer: str = "adamw"
    scheduler: str = "cosine"
    warmup_steps: int = 0
    epochs: int | None = None
    steps: int | None = None
    batch: int = 1
    grad_accum: int = 1
    precision: str = "fp32"
    overfit: bool = False  # one image, validated on itself: proves the pipeline can memorise
    val_every: int = 100  # steps between validations (0 = only at the end)
    save_every: int = 500  # steps between checkpoints (0 = only at the end)
    val_steps: int = 20  # sampling steps of a validation image
    val_limit: int = 8  # validation images per validation
    guidance: float = 7.5
    patience: int = 5  # validations without improvement before stopping early (0 = never)
    shape_warmup: float = 0.0  # share of the steps trained on synthetic shape masks first
    prompt: str | None = None  # default: the task's own prompt
    resume: str | None = None  # a checkpoint folder, or the run folder (its latest checkpoint)
    seed: int = 0
    gradient_checkpointing: bool | None = None  # None: on when training on a GPU
    max_grad_norm: float = 1.0
    controlnet: bool = False  # staging: a LoRA on the inpaint ControlNet too, trained with it in the loop
    register: bool = True  # record the LoRA in the models folder's catalog
    vae_mean: bool = False  # train on the VAE's mean latents instead of samples (deterministic targets)
    overwrite: bool = False
    adapter_enabled: bool = True  # False trains with the LoRA switched off (the ablation of the overfit check)

    def validate(self) -> TrainConfig:
        """Ranges, choices and finite numbers; raises UserError naming the option. Returns self."""
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise UserError(message)

        need(self.task in TASKS, f"--task must be one of {', '.join(TASKS)} (got {self.task!r})")
        need(self.optimizer in OPTIMIZERS, f"--optimizer must be one of {', '.join(OPTIMIZERS)}")
        need(self.scheduler in SCHEDULERS, f"--scheduler must be one of {', '.join(SCHEDULERS)}")
        need(self.precision in PRECISIONS, f"--precision must be one of {', '.join(PRECISIONS)}")
        out = Path(self.output)
        need(out.suffix.lower() == ".safetensors", f"{self.output}: the LoRA is written as NAME.safetensors")
        need(bool(out.stem), f"{self.output}: the LoRA needs a name")
        for name, value, lo, hi in (("--rank", self.rank, 1, 1024), ("--batch", self.batch, 1, 512),
                                    ("--grad-accum", self.grad_accum, 1, 1024), ("--val-steps", self.val_steps, 1, 500),
                                    ("--val-limit", self.val_limit, 1, 10_000)):
            need(isinstance(value, int) and lo <= value <= hi, f"{name} must be a whole number from {lo} to {hi}")
        for name, value in (("--val-every", self.val_every), ("--save-every", self.save_every),
                            ("--patience", self.patience), ("--warmup-steps", self.warmup_steps),
                            ("--seed", self.seed)):
            need(isinstance(value, int) and value >= 0, f"{name} must be 0 or more")
        need((self.epochs is None) != (self.steps is None), "give either --epochs N or --steps N (one of them)")
        if self.epochs is not None:
            need(isinstance(self.epochs, int) and 1 <= self.epochs <= 100_000, "--epochs must be from 1 to 100000")
        if self.steps is not None:
            need(isinstance(self.steps, int) and 1 <= self.steps <= 10_000_000, "--steps must be from 1 to 10000000")
        for name, value, lo, hi in (("--alpha", self.alpha, 1e-6, 1e6), ("--lr", self.lr, 1e-9, 1.0),
                                    ("--guidance", self.guidance, 1.0, 30.0),
                                    ("--max-grad-norm", self.max_grad_norm, 0.0, 1e6)):
            need(_finite(value) and lo <= value <= hi, f"{name} must be a number from {lo:g} to {hi:g} (got {value})")
        need(_finite(self.dropout) and 0.0 <= self.dropout < 1.0, "--dropout must be from 0 to below 1")
        need(_finite(self.shape_warmup) and 0.0 <= self.shape_warmup < 1.0, "--shape-warmup must be from 0 to below 1")
        need(bool(self.targets), "--targets names no layer")
        for t in self.targets:
            need(bool(t) and all(c.isalnum() or c in "._" for c in t), f"--targets: {t!r} is not a layer name")
        need(self.device in (None, "cpu", "cuda", "mps"), "--device must be cpu, cuda or mps")
        need(not self.controlnet or self.task == "stage",
             "--controlnet trains the inpaint ControlNet for staging: use it with --task stage")
        if self.optimizer == "adamw8bit":
            need(self.device != "cpu", "--optimizer adamw8bit needs a CUDA GPU (bitsandbytes); use adamw on the CPU")
        if self.precision == "fp16":
            need(self.device != "cpu", "--precision fp16 needs a CUDA GPU; use bf16 or fp32 on the CPU")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    def total_steps(self, train_samples: int, processes: int) -> int:
        """Optimizer steps of the run: --steps, or --epochs over the training split."""
        if self.steps is not None:
            return self.steps
        per_step = self.batch * self.grad_accum * max(1, processes)
        return max(1, self.epochs * math.ceil(train_samples / per_step))


def expand_targets(text: str | list[str]) -> list[str]:
    """'to_k,to_q' or a preset name ('attention', 'all') -> layer names."""
    parts = [p.strip() for p in (text.split(",") if isinstance(text, str) else text) if p.strip()]
    out: list[str] = []
    for p in parts:
        for name in TARGET_PRESETS.get(p, (p,)):
            if name not in out:
                out.append(name)
    return out


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
