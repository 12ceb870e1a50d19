"""`train-lora`: a LoRA on the inpainting UNet, trained the way diffusers' LoRA scripts train one.

accelerate carries mixed precision, gradient accumulation, data parallelism and the
checkpoints; peft the adapter; the pipeline itself encodes the prompt and samples the
validation pictures. Every step's randomness is seeded by (seed, step, micro-batch,
process) and the data order by the samples drawn so far, so a resumed run repeats the
uninterrupted one step for step. The main process validates, keeps the best LoRA,
stops early when validation stops improving, writes the metrics log, the plot and
status.json, and listens for pause / cancel (runstate.py).
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from pathlib import Path

import torch
from accelerate.utils import broadcast_object_list
from diffusers import ControlNetModel, DDPMScheduler, StableDiffusionControlNetInpaintPipeline
from diffusers.training_utils import cast_training_params

from app import __version__
from app.engine.diffusion.controlnet_lora import controlnet_path
from app.engine.evaluation.lpips_catalog import load_lpips, lpips_files, missing_message
from app.engine.models.optional import find_optional as find_model
from app.engine.runtime.manager import ModelManager
from app.engine.tiny.models import MODEL_SOURCES
from app.engine.training import checkpoints, model, runstate, setup
from app.engine.training.config import ARCHES, TrainConfig
from app.engine.training.data import SampleStore, Stream, step_generator
from app.engine.training.lora_file import (
    load_controlnet_lora_into,
    load_lora_into,
    save_controlnet_lora,
    save_lora,
)
from app.engine.training.metrics_log import (
    MetricsLog,
    best_summary,
    log_paths,
    plot,
    summary_mean,
    summary_median,
)
from app.engine.training.register import register_lora
from app.engine.training.validation import Validator, better, sampling_scheduler
from app.engine.vision.detector import TextDetector
from app.errors import ModelMissing, UserError

log = logging.getLogger(__name__)


def train(cfg: TrainConfig, progress=None) -> dict:
    """Run (or resume) a training; returns the summary `train-lora --json` prints.

    `progress(dict)` gets the main process's status after every step."""
    cfg.validate()
    return _Run(cfg, progress).run()


class _Run:
    def __init__(self, cfg: TrainConfig, progress):
        self.cfg = cfg
        self.progress = progress
        self.output = Path(cfg.output).expanduser().resolve()
        self.paths = log_paths(self.output)
        self.run_dir = self.paths["run"]

    # ---- setting up -----------------------------------------------------------------

    def _prepare(self) -> None:
        cfg, acc = self.cfg, self.acc
        setup.threads_per_process(acc.num_processes)
        self.data = setup.load_data(cfg)
        manager = ModelManager(models=cfg.models, device=cfg.device, sources=MODEL_SOURCES)
        self.catalog = manager.catalog(cfg.models)
        set_name = cfg.base or ("tiny" if cfg.models == "tiny" else trainable_set(self.catalog, manager, cfg))
        self.models = self.catalog.resolve_set(set_name)
        if self.models.arch not in ARCHES:
            raise UserError(f"--base {set_name}: a {self.models.arch} set; LoRAs are trained on SD1.5 and SDXL "
                            f"sets (choose one of: {', '.join(trainable_sets(self.catalog)) or 'none installed'})")
        # what the user can put right is checked before the models load (minutes for a big set)
        self.total = cfg.total_steps(len(self.data.train), acc.num_processes)
        state = checkpoints.read_state(self.resume_from) if self.resume_from else {}
        if state:
            checkpoints.check_compatible(state, self._identity(), self.resume_from)
        self.start = int(state.get("step", 0))
        if self.start >= self.total:
            raise UserError(f"{self.resume_from}: already at step {self.start} of {self.total}; "
                            f"give more --steps or --epochs to train on")
        if self.data.val:  # every process stops here, not only the main one when it validates
            missing = [role for role, path in lpips_files(self.catalog).items() if path is None]
            if missing:
                raise ModelMissing(missing_message(self.catalog, missing))
        self._load_models()
        optimizer = setup.make_optimizer(cfg, self.params)
        nets = acc.prepare(self.pipe.unet, *([self.controlnet] if self.controlnet is not None else []), optimizer)
        self.unet, self.optimizer = nets[0], nets[-1]
        self.controlnet = nets[1] if self.controlnet is not None else None
        checkpoints.register_hooks(acc, self._save_checkpoint_lora, _load_checkpoint_lora)
        if self.resume_from:
            acc.load_state(str(self.resume_from))
        # one schedule step per optimizer step, fast-forwarded on a resume (see setup.make_schedule)
        self.schedule = setup.make_schedule(cfg, optimizer, self.total, self.start)
        self.seen = dict(state.get("seen", {"main": 0, "shape": 0}))
        self.best = state.get("best")
        self.bad = int(state.get("bad", 0))
        self.store = SampleStore(self.data.folder, self.data.samples)
        self.latents = model.LatentCache(self.pipe.vae, mean=cfg.vae_mean)
        self.log = MetricsLog(self.paths["log"], self.paths["csv"]) if self.main else None
        if self.main:
            self.log.start(self.start if self.resume_from else None)
            runstate.clear_request(self.run_dir)
        self.validator = self._validator() if self.main and self.data.val else None

    def _load_models(self) -> None:
        """The base pipeline with a LoRA on its UNet (and on the inpaint ControlNet with --controlnet)."""
        cfg, acc = self.cfg, self.acc
        self.weight_dtype = model.weight_dtype_for(cfg.precision)
        pipe = model.load_pipeline(self.models, torch.float32)
        pipe.to(acc.device)
        if self.weight_dtype != torch.float32:  # the frozen base in half precision; the VAE stays fp32
            pipe.unet.to(dtype=self.weight_dtype)
        prompt, negative = model.task_prompts(cfg.task, cfg.prompt)
        self.cond = model.encode_prompt(pipe, prompt, negative, acc.device)
        self.noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
        pipe.scheduler = sampling_scheduler(pipe.scheduler.config)
        self.pipe = pipe
        nets = [pipe.unet]
        self.controlnet = None
        if cfg.controlnet:  # staging: the inpaint ControlNet in the loop, with its own LoRA
            self.controlnet = model.load_inpaint_controlnet(self.models, self.weight_dtype).to(acc.device)
            nets.append(self.controlnet)
        self.params = []
        for net in nets:
            model.add_lora(net, cfg.rank, cfg.alpha, cfg.dropout, cfg.targets)
            if self.weight_dtype != torch.float32:
                cast_training_params(net, dtype=torch.float32)  # the LoRA trains in fp32 on a half-precision base
            if cfg.gradient_checkpointing or (cfg.gradient_checkpointing is None and self.device == "cuda"):
                net.enable_gradient_checkpointing()
            self.params += model.trainable(net)
        if not cfg.adapter_enabled:
            pipe.unet.disable_adapters()

    def _check_output(self) -> None:
        if self.resume_from or self.cfg.overwrite:
            return
        existing = [p for p in (self.output, self.run_dir) if p.exists() and not (p == self.run_dir and checkpoints.failed_before_training(p))]
        if existing:
            raise UserError(f"{existing[0]}: exists; choose another -o name, resume it with --resume "
                            f"{self.run_dir}, or replace it with --overwrite")

    def _identity(self) -> dict:
        cfg = self.cfg
        return {"task": cfg.task, "rank": cfg.rank, "alpha": cfg.alpha, "targets": list(cfg.targets),
                "base_model": self.models.name, "dataset_sha256": self.data.sha256}

    def _validator(self):
        lpips = load_lpips(self.catalog, "cuda" if self.device == "cuda" else "cpu")
        detector = None
        if self.cfg.task == "defurnish":
            found = find_model(self.catalog, self.models.name, "detector")
            detector = TextDetector(found[1], self.acc.device) if found else None
        pipe = self.pipe
        if self.controlnet is not None:  # validate the way staging uses it: with the inpaint ControlNet
            pipe = StableDiffusionControlNetInpaintPipeline.from_pipe(self.pipe,
                                                                      controlnet=self.acc.unwrap_model(self.controlnet))
        return Validator(pipe, self.cond, self.store, self.data.val, lpips=lpips, detector=detector,
                         steps=self.cfg.val_steps, guidance=self.cfg.guidance, seed=self.cfg.seed,
                         sample_dir=self.run_dir / "samples", task=self.cfg.task)

    # ---- the loop ----------------------------------------------------------------------

    def _begin(self) -> None:
        """Device and accelerate; the output checked by every process before the main one writes."""
        self.device = setup.pick_device_name(self.cfg)
        self.acc = setup.make_accelerator(self.cfg, self.device)
        self.main = self.acc.is_main_process
        self.resume_from = checkpoints.find(self.cfg.resume) if self.cfg.resume else None
        self._check_output()
        self.acc.wait_for_everyone()
        if self.main:
            if (self.cfg.overwrite and not self.cfg.resume) or checkpoints.failed_before_training(self.run_dir):
                shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.acc.wait_for_everyone()

    def run(self) -> dict:
        self._begin()
        self._status("starting", 0)
        try:
            self._prepare()
            stop = self._loop()
        except KeyboardInterrupt:
            self._status("cancelled", getattr(self, "done", getattr(self, "start", 0)))
            raise
        except Exception as exc:
            self._status("failed", getattr(self, "done", getattr(self, "start", 0)), error=str(exc))
            raise
        return self._finish(stop)

    def _loop(self) -> str:
        acc, cfg = self.acc, self.cfg
        streams = {"main": Stream(len(self.data.train), cfg.seed, 1),
                   "shape": Stream(len(self.data.shapes), cfg.seed, 2) if self.data.shapes else None}
        warm = int(cfg.shape_warmup * self.total) if self.data.shapes else 0
        for net in (self.unet, self.controlnet):
            if net is not None:
                net.train()  # LoRA dropout on
        self.t0, self.step_times = time.perf_counter(), []
        if self.validator is not None and self.start == 0:
            self._validate(0)
        for step in range(self.start, self.total):
            t = time.perf_counter()
            key = "shape" if step < warm else "main"
            losses = [self._micro(step, m, streams[key], key) for m in range(cfg.grad_accum)]
            self.schedule.step()
            loss = float(acc.reduce(torch.stack(losses).mean().to(acc.device), "mean"))
            if not math.isfinite(loss):
                raise UserError(f"the loss became {loss} at step {step + 1}: lower --lr, or use --precision bf16 "
                                f"or fp32 instead of fp16")
            self.step_times.append(time.perf_counter() - t)
            done = step + 1
            stop = self._after_step(done, loss)
            if stop:
                return stop
        return "done"

    def _micro(self, step: int, micro: int, stream, key: str):
        acc, cfg = self.acc, self.cfg
        pool = self.data.shapes if key == "shape" else self.data.train
        start = self.seen[key] + acc.process_index * cfg.batch
        self.seen[key] += acc.num_processes * cfg.batch
        indices = [pool[j] for j in stream.take(start, cfg.batch)]
        batch = {k: v.to(acc.device) for k, v in self.store.batch(indices).items()}
        generator = step_generator(cfg.seed, step, micro, acc.process_index)
        torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator)))  # LoRA dropout
        latents, mask, masked = self.latents.latents(indices, batch, generator)
        nets = (self.unet,) if self.controlnet is None else (self.unet, self.controlnet)
        with acc.accumulate(*nets):
            loss = model.noise_loss(self.unet, self.noise_scheduler, latents, mask, masked, self.cond, generator,
                                    self.weight_dtype, int(batch["pixels"].shape[-1]), controlnet=self.controlnet,
                                    hint=model.control_hint(batch) if self.controlnet is not None else None)
            if loss.requires_grad:  # not with the LoRA switched off (the ablation)
                acc.backward(loss)
            if acc.sync_gradients and cfg.max_grad_norm > 0:
                acc.clip_grad_norm_(self.params, cfg.max_grad_norm)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        return loss.detach().float()

    def _after_step(self, done: int, loss: float) -> str | None:
        """Log, validate, checkpoint and decide (on the main process) whether to stop; all processes agree."""
        cfg = self.cfg
        stop = None
        if self.main:
            self.log.add({"step": done, "kind": "train", "loss": loss, "lr": self.schedule.get_last_lr()[0],
                          "seconds": round(self.step_times[-1], 4), "epoch": self._epoch()})
            self._status("running", done, loss=loss)
            last = done == self.total
            if self.validator is not None and ((cfg.val_every and done % cfg.val_every == 0) or last):
                if self._validate(done) and cfg.patience and self.bad >= cfg.patience:
                    stop = "early"
            stop = stop or runstate.requested(self.run_dir)
        if self.acc.num_processes > 1:
            box = [stop]
            broadcast_object_list(box)
            stop = box[0]
        self.done = done
        if stop in ("pause", "early") or (cfg.save_every and done % cfg.save_every == 0) or done == self.total:
            checkpoints.save(self.acc, self.run_dir, done, self._state())
        return stop

    def _validate(self, step: int) -> bool:
        """One validation; True when it did not beat the best so far."""
        self._status("validating", step)
        with self.acc.autocast():  # a half-precision UNet samples from full-precision latents
            metrics, pictures = self.validator.run(step)
        self.log.add({"step": step, "kind": "val", **metrics, "samples": pictures})
        self.samples = pictures
        if step > 0 and better(metrics, self.best):
            self.best = {**metrics, "step": step}
            self._save_lora(self.run_dir / "best.safetensors", best=self.best, steps=step)
            self.bad = 0
            return False
        if step > 0:
            self.bad += 1
        return step > 0

    # ---- state, files, the end -----------------------------------------------------------

    def _state(self) -> dict:
        return {**self._identity(), "seen": self.seen, "best": self.best, "bad": self.bad, "total": self.total,
                "processes": self.acc.num_processes, "config": self.cfg.to_dict()}

    def _epoch(self) -> float:
        return round(self.seen["main"] / max(1, len(self.data.train)), 3)

    def _metadata(self, best, steps: int) -> dict:
        cfg = self.cfg
        return {"task": cfg.task, "base_set": self.models.name, "base_model": str(self.models.inpaint.name),
                "arch": self.models.arch, "rank": cfg.rank, "alpha": cfg.alpha, "dropout": cfg.dropout,
                "targets": list(cfg.targets), "steps": steps, "dataset_sha256": self.data.sha256,
                "dataset": str(self.data.folder), "best": best, "lr": cfg.lr, "optimizer": cfg.optimizer,
                "precision": cfg.precision, "seed": cfg.seed, "app": f"RoomStager {__version__}",
                "trained": time.strftime("%Y-%m-%dT%H:%M:%S")}

    def _save_lora(self, path: Path, best=None, steps: int = 0) -> Path:
        """The LoRA at `path` (and, training the ControlNet too, its half beside it)."""
        meta = self._metadata(best, steps)
        save_lora(path, self.acc.unwrap_model(self.unet), type(self.pipe), meta)
        if self.controlnet is not None:
            save_controlnet_lora(controlnet_path(path), self.acc.unwrap_model(self.controlnet), meta)
        return path

    def _save_checkpoint_lora(self, net, folder: Path) -> None:
        meta = self._metadata(self.best, getattr(self, "done", self.start))
        if isinstance(net, ControlNetModel):
            save_controlnet_lora(controlnet_path(folder / checkpoints.LORA), net, meta)
        else:
            save_lora(folder / checkpoints.LORA, net, type(self.pipe), meta)

    def _status(self, state: str, step: int, **extra) -> None:
        if not getattr(self, "main", True):
            return
        times = getattr(self, "step_times", [])
        per = sum(times[-20:]) / len(times[-20:]) if times else None
        total = getattr(self, "total", None)
        status = {"state": state, "step": step, "total": total, "seconds_per_step": per,
                  "eta_s": per * (total - step) if per and total else None, "best": getattr(self, "best", None),
                  "samples": getattr(self, "samples", []), "lora": str(self.output), "task": self.cfg.task,
                  **{k: str(v) for k, v in self.paths.items()}, **extra}
        runstate.write_status(self.run_dir, status)
        if self.progress is not None:
            self.progress(status)

    def _finish(self, stop: str) -> dict:
        self.acc.wait_for_everyone()
        state = {"done": "done", "early": "done", "pause": "paused", "cancel": "cancelled"}[stop]
        result = {"state": state, "stopped_early": stop == "early", "processes": self.acc.num_processes,
                  "device": self.device, "steps": getattr(self, "done", self.start), "total": self.total,
                  "seconds_per_step": summary_median(self.step_times[1:] or self.step_times),
                  "peak_memory_mb": setup.peak_memory_mb(self.device), "notes": self.data.notes}
        if not self.main:
            return result
        rows = self.log.rows
        losses = [r["loss"] for r in rows if r.get("kind") == "train"]
        # a step's loss depends on its random timestep: the start is the first 10 steps, the end the last tenth
        first, last = min(10, len(losses)), max(1, min(100, len(losses) // 10))
        result.update(loss_first=summary_mean(losses[:first]), loss_last=summary_mean(losses[-last:]),
                      loss_windows=[first, last],
                      log=str(self.paths["log"]), csv=str(self.paths["csv"]), plot=str(self.paths["plot"]),
                      run=str(self.run_dir), checkpoint=str(checkpoints.folder(self.run_dir, result["steps"])),
                      lora=None, name=None, best=best_summary(self.best))
        self.log.write_csv()
        plot(rows, self.paths["plot"], title=f"{self.output.name}: {self.cfg.task} LoRA on {self.models.name}")
        if state == "done":
            best_file = self.run_dir / "best.safetensors"
            if self.best is not None and best_file.is_file():
                for src, dst in ((best_file, self.output), (controlnet_path(best_file), controlnet_path(self.output))):
                    if src.is_file():
                        shutil.copyfile(src, dst.with_name(dst.name + ".tmp"))
                        dst.with_name(dst.name + ".tmp").replace(dst)
            else:
                self._save_lora(self.output, best=None, steps=result["steps"])

            result["lora"] = str(self.output)
            if self.cfg.register:
                result["name"] = register_lora(self.catalog, self.output, arch=self.models.arch, task=self.cfg.task,
                                               base=self.models.name, metadata=self._metadata(self.best, result["steps"]))
        self._status(state, result["steps"], **{k: v for k, v in result.items() if k not in ("best", "steps", "state")})
        return result


def _load_checkpoint_lora(net, folder: Path) -> None:
    if isinstance(net, ControlNetModel):
        load_controlnet_lora_into(net, controlnet_path(folder / checkpoints.LORA))
    else:
        load_lora_into(net, folder / checkpoints.LORA)


def trainable_sets(catalog) -> list[str]:
    """Installed sets whose inpainting model a LoRA can be trained on (SD1.5, SDXL)."""
    return [n for n in catalog.installed_sets() if catalog.sets[n].get("arch") in ARCHES]


def trainable_set(catalog, manager, cfg: TrainConfig) -> str:
    """The set to train on when none is named: the one picked for this device, if trainable, else the
    first trainable one."""
    picked = catalog.pick_set(manager.device(cfg.device).vram_gb)
    sets = trainable_sets(catalog)
    return picked if picked in sets or not sets else sets[0]
