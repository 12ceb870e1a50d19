"""`train-lora`: train a de-furnishing or staging LoRA on a dataset from `dataset`.

    python main.py train-lora DATASET_DIR --task defurnish|stage -o NAME.safetensors [--base SET]
        [--rank 32] [--alpha 16] [--dropout 0.1] [--targets to_k,to_q,to_v,to_out.0] [--lr 1e-3]
        [--optimizer adamw|adagrad|adamw8bit] [--scheduler cosine|linear|constant] [--epochs N | --steps N]
        [--batch B] [--grad-accum K] [--precision fp32|fp16|bf16] [--overfit] [--val-every N]
        [--save-every N] [--resume DIR] [--seed S] [--processes N] [--controlnet] [--models DIR|tiny] [--json]

Beside NAME.safetensors: NAME.metrics.jsonl / .csv (the metrics log), NAME.plot.png and the run
folder NAME.training (checkpoints, validation samples, status.json). The LoRA is registered in
the models folder's catalog under NAME, so `stage` / `defurnish --lora NAME` use it at once.
`--processes N` (or the same command under `accelerate launch`) trains data-parallel; a
checkpoint resumes with any number of processes. `--targets` takes layer names or a preset:
`attention` (the default four) or `all` (every projection and convolution). `--controlnet` (staging,
SD1.5 sets) also trains a LoRA on the inpaint ControlNet, written as NAME.controlnet.safetensors; `stage
--lora NAME --inpaint-control W` uses both.
"""

from __future__ import annotations

import argparse
import sys
import time

from app.cli.common import emit_json
from app.engine import TRAIN_OPTIMIZERS as OPTIMIZERS
from app.engine import TRAIN_PRECISIONS as PRECISIONS
from app.engine import TRAIN_SCHEDULERS as SCHEDULERS
from app.engine import TRAIN_TASKS as TASKS
from app.engine import (
    TrainConfig,
    expand_targets,
    launch_training,
    pick_device,
    train,
    under_training_launcher,
    without_training_processes,
)
from app.errors import UserError

OVERFIT_STEPS = 1200  # the de-furnishing study's best single-image run


def register(sub) -> None:
    p = sub.add_parser("train-lora", help="train a de-furnishing or staging LoRA on a dataset",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", metavar="DATASET_DIR", help="a folder made by `python main.py dataset`")
    p.add_argument("--task", required=True, choices=TASKS)
    p.add_argument("-o", "--output", required=True, metavar="NAME.safetensors")
    p.add_argument("--base", default=None, metavar="SET", help="the model set to train on (default: picked for the GPU)")
    p.add_argument("--rank", type=int, default=32)
    p.add_argument("--alpha", type=float, default=16.0)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--targets", default="to_k,to_q,to_v,to_out.0", metavar="LAYERS",
                   help="comma-separated layer names, or 'attention' / 'all'")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--optimizer", default="adamw", choices=OPTIMIZERS)
    p.add_argument("--scheduler", default="cosine", choices=SCHEDULERS)
    p.add_argument("--warmup-steps", type=int, default=0, metavar="N")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, default=None, metavar="N", help="default 20 (1200 steps with --overfit)")
    length.add_argument("--steps", type=int, default=None, metavar="N")
    p.add_argument("--batch", type=int, default=1, metavar="B")
    p.add_argument("--grad-accum", type=int, default=1, metavar="K")
    p.add_argument("--precision", default="fp32", choices=PRECISIONS)
    p.add_argument("--overfit", action="store_true", help="train and validate on one picture (a pipeline check)")
    p.add_argument("--val-every", type=int, default=100, metavar="N", help="steps between validations (0: at the end)")
    p.add_argument("--val-steps", type=int, default=20, metavar="N", help="sampling steps of a validation picture")
    p.add_argument("--val-limit", type=int, default=8, metavar="N", help="validation pictures per validation")
    p.add_argument("--patience", type=int, default=5, metavar="N",
                   help="stop after N validations without improvement (0: never)")
    p.add_argument("--save-every", type=int, default=500, metavar="N", help="steps between checkpoints")
    p.add_argument("--shape-warmup", type=float, default=0.0, metavar="F",
                   help="share of the steps trained on synthetic shape masks first (e.g. 0.1)")
    p.add_argument("--controlnet", action="store_true",
                   help="staging: also train a LoRA on the inpaint ControlNet (used with `stage --inpaint-control W`)")
    p.add_argument("--vae-mean", action="store_true",
                   help="train on the VAE's mean latents, not samples of them (fixed targets)")
    p.add_argument("--prompt", default=None, metavar="TEXT", help="default: the task's own prompt")
    p.add_argument("--guidance", type=float, default=7.5, metavar="G", help="for validation pictures")
    p.add_argument("--gradient-checkpointing", dest="gradient_checkpointing", action="store_true", default=None,
                   help="default: on when training on a GPU")
    p.add_argument("--no-gradient-checkpointing", dest="gradient_checkpointing", action="store_false")
    p.add_argument("--resume", default=None, metavar="DIR", help="a run folder (NAME.training) or a checkpoint in it")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--processes", type=int, default=1, metavar="N", help="data-parallel processes (GPUs, or CPU)")
    p.add_argument("--no-register", dest="register", action="store_false",
                   help="do not record the LoRA in the models folder's catalog")
    p.add_argument("--overwrite", action="store_true", help="replace an existing NAME.safetensors and its run")
    p.add_argument("--models", default="auto", metavar="tiny|DIR", help="models folder (default: the app's)")
    p.add_argument("--device", default=None, choices=["cpu", "cuda", "mps"])
    p.add_argument("--json", action="store_true", help="print one JSON object with the result")
    p.set_defaults(run=run_train_command)


def config_from(args) -> TrainConfig:
    steps, epochs = args.steps, args.epochs
    if steps is None and epochs is None:
        steps, epochs = (OVERFIT_STEPS, None) if args.overfit else (None, 20)
    return TrainConfig(
        dataset=args.dataset, output=args.output, task=args.task, models=args.models, base=args.base,
        device=args.device, rank=args.rank, alpha=args.alpha, dropout=args.dropout,
        targets=expand_targets(args.targets), lr=args.lr, optimizer=args.optimizer, scheduler=args.scheduler,
        warmup_steps=args.warmup_steps, epochs=epochs, steps=steps, batch=args.batch, grad_accum=args.grad_accum,
        precision=args.precision, overfit=args.overfit, val_every=args.val_every, save_every=args.save_every,
        val_steps=args.val_steps, val_limit=args.val_limit, guidance=args.guidance, patience=args.patience,
        shape_warmup=args.shape_warmup, prompt=args.prompt, resume=args.resume, seed=args.seed,
        gradient_checkpointing=args.gradient_checkpointing, overwrite=args.overwrite, vae_mean=args.vae_mean,
        register=args.register, controlnet=args.controlnet,
    ).validate()


def run_train_command(args) -> int:
    cfg = config_from(args)
    if not 1 <= args.processes <= 64:
        raise UserError("--processes must be from 1 to 64")
    if args.processes > 1 and not under_training_launcher():
        device = pick_device(args.device).device
        argv = without_training_processes(getattr(args, "argv", None) or sys.argv[1:])
        print(f"training in {args.processes} processes ({device}) under accelerate", file=sys.stderr)
        return launch_training(argv, args.processes, device)
    printer = StatusPrinter()
    result = train(cfg, printer)
    printer.end()
    if "log" not in result:
        return 0  # a launched process other than the main one: the main one reports
    if args.json:
        emit_json(result)
    else:
        print(result["lora"] or f"{result['state']} at step {result['steps']}: resume with --resume {result['run']}")
        print(f"log {result['log']}\nplot {result['plot']}", file=sys.stderr)
    if result["state"] == "cancelled":
        print("cancelled: resume with --resume " + result.get("run", ""), file=sys.stderr)
        return 1
    return 0


class StatusPrinter:
    """Trainer status -> one updating line on a terminal (a line per 5 % otherwise), with the ETA."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last = -1
        self._val = None
        self._t = 0.0

    def __call__(self, status: dict) -> None:
        step, total = status.get("step") or 0, status.get("total") or 0
        if status.get("state") == "validating":
            self._line(f"validating at step {step} ...", force=True)
            return
        best = status.get("best")
        if best and best != self._val:
            self._val = best
            self._line(f"best so far (step {best.get('step')}): PSNR {_f(best.get('psnr_mask'))} dB, SSIM "
                       f"{_f(best.get('ssim_mask'), 3)}, LPIPS {_f(best.get('lpips_mask'), 3)} in the mask", force=True)
        if not total or status.get("state") != "running":
            return
        eta = status.get("eta_s")
        text = (f"step {step}/{total}  loss {status.get('loss', 0):.4f}  "
                f"{_f(status.get('seconds_per_step'), 2)} s/step  ETA {_eta(eta)}")
        twentieth = int(20 * step / total)
        now = time.monotonic()
        if self.tty and now - self._t > 0.2:
            self._t = now
            self.stream.write("\r" + text + "   ")
            self.stream.flush()
        elif not self.tty and twentieth != self._last:
            self._last = twentieth
            self._line(text)

    def _line(self, text: str, force: bool = False) -> None:
        self.stream.write(("\r" if self.tty else "") + text + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.tty:
            self.stream.write("\n")


def _f(v, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _eta(seconds) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
