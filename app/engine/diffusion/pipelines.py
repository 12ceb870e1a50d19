"""Load diffusion pipelines once and share them between staging and de-furnishing.

One ControlNet-inpaint pipeline per model set serves both jobs: de-furnishing
only changes prompts and ControlNet weights. The variant with the extra SD1.5
inpaint ControlNet is made with `from_pipe`, which shares the UNet, VAE and text
encoders instead of loading them again. `loads` counts every model read from disk.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from app.engine.diffusion import quant
from app.engine.diffusion.controlnet_lora import controlnet_path, load_controlnet_lora
from app.engine.diffusion.families import family_for
from app.engine.diffusion.fast import make_scheduler
from app.engine.models.entries import ModelSet
from app.engine.runtime.device import DeviceInfo, free_memory

log = logging.getLogger(__name__)


class PipelineCache:
    def __init__(self, device: DeviceInfo):
        self.device = device
        self.loads = 0
        self._controlnets: dict[Path, object] = {}
        self._pipes: dict[tuple, object] = {}
        self._loras: dict[int, set[str]] = {}
        self._schedulers: dict[int, dict] = {}
        self._inpaint_nets: dict[int, object] = {}  # inpaint ControlNets: a staging LoRA may carry a part for them
        self._lock = threading.Lock()

    def set_device(self, device: DeviceInfo) -> None:
        """Switch memory tier (after an out-of-memory): drop pipelines, they are re-placed on next use.
        The GPU's cache is emptied once they are gone, not before (it would free nothing)."""
        self.device = device
        self.clear()
        free_memory()

    def clear(self) -> None:
        with self._lock:
            self._pipes.clear()
            self._controlnets.clear()
            self._loras.clear()
            self._schedulers.clear()
            self._inpaint_nets.clear()

    # ---- loading -------------------------------------------------------------

    def controlnet(self, path: Path, cls=None, dtype=None, base_config: Path | None = None,
                   config_cache: Path | None = None):
        """A ControlNet, loaded once per path (shared by every pipeline that uses it)."""
        if path not in self._controlnets:
            if cls is None:
                from diffusers import ControlNetModel as cls
            log.info("loading ControlNet %s", path.name)
            self._controlnets[path] = quant.load_controlnet(cls, path, dtype or self.device.dtype, base_config, config_cache)
            self.loads += 1
        return self._controlnets[path]

    def dtype_for(self, family):
        """The family's dtype on CUDA (FLUX and Z-Image want bfloat16), else the device's."""
        import torch

        return getattr(torch, family.dtype_on_cuda) if self.device.device == "cuda" else self.device.dtype

    def plan_for(self, family, models: ModelSet | None = None):
        d = self.device
        return quant.plan_for(family, d.device, d.tier, d.vram_gb, has_gguf=bool(models and models.transformer))

    def get(self, models: ModelSet, with_inpaint_controlnet: bool = False):
        """The pipeline for a model set (SD: [depth, canny] ControlNets, + the inpaint one when asked)."""
        with self._lock:
            key = (models.inpaint, models.transformer, with_inpaint_controlnet)
            if key in self._pipes:
                return self._pipes[key]
            base_key = (models.inpaint, models.transformer, False)
            if base_key not in self._pipes:
                self._pipes[base_key] = self._load(models)
            if with_inpaint_controlnet and models.controlnet_inpaint is not None:
                base = self._pipes[base_key]
                inpaint_net = self.controlnet(models.controlnet_inpaint)
                self._inpaint_nets[id(inpaint_net)] = inpaint_net
                nets = [*base.controlnet.nets, inpaint_net]
                self._pipes[key] = _share(base, nets)
            else:
                self._pipes[key] = self._pipes[base_key]
            return self._pipes[key]

    def _load(self, models: ModelSet):
        from diffusers.utils import logging as diffusers_logging

        diffusers_logging.disable_progress_bar()  # progress reaches the user as engine events instead
        family = family_for(models.arch)
        pipe = family.load(self, models)
        self._schedulers[id(pipe)] = {"normal": pipe.scheduler}
        pipe.set_progress_bar_config(disable=True)
        self._place(pipe, self.plan_for(family, models))
        return pipe

    def _place(self, pipe, plan) -> None:
        """Put the pipeline on the device the way its memory plan asks. (The VAE keeps the pipeline's
        dtype: the pipeline encodes with it; inpaint.decode_latents upcasts for the decode alone.)"""
        dev = self.device.device
        if plan.offload == "sequential":
            pipe.enable_sequential_cpu_offload()
        elif plan.offload == "model":
            pipe.enable_model_cpu_offload()
        else:
            pipe.to(dev)
        if plan.vae_tiling:
            pipe.vae.enable_tiling()
            pipe.vae.enable_slicing()

    # ---- schedulers (fast mode) ------------------------------------------------

    def use_scheduler(self, pipe, name: str | None) -> None:
        """The pipeline's normal scheduler (None), or a step-distillation one ("lcm", "tcd") built from it."""
        known = self._schedulers.setdefault(id(pipe), {"normal": pipe.scheduler})
        name = name or "normal"
        if name not in known:
            known[name] = make_scheduler(name, known["normal"])
        pipe.scheduler = known[name]

    # ---- LoRAs ---------------------------------------------------------------

    def apply_loras(self, pipe, loras: list[tuple[str, float]]) -> None:
        """Activate these LoRAs (each loaded once per pipeline) at their weights, or none."""
        loaded = self._loras.setdefault(id(pipe), set())
        if not loras:
            if loaded:
                pipe.disable_lora()
            self._apply_controlnet_loras(pipe, [])
            return
        names, weights = [], []
        for lora, scale in loras:
            path = Path(lora)
            name = path.stem.replace(".", "_")
            if name not in loaded:
                pipe.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=name)
                loaded.add(name)
                self.loads += 1
            names.append(name)
            weights.append(float(scale))
        pipe.enable_lora()
        pipe.set_adapters(names, adapter_weights=weights)
        self._apply_controlnet_loras(pipe, loras)

    def _apply_controlnet_loras(self, pipe, loras: list[tuple[str, float]]) -> None:
        """A staging LoRA trained with the inpaint ControlNet (train-lora --controlnet) has a second file,
        NAME.controlnet.safetensors: its adapter goes on the inpaint ControlNet when the job uses it."""
        parts = [(controlnet_path(Path(lora)), Path(lora).stem.replace(".", "_"), float(scale)) for lora, scale in loras]
        parts = [(p, name, scale) for p, name, scale in parts if p.is_file()]
        for net in getattr(getattr(pipe, "controlnet", None), "nets", []):
            if id(net) not in self._inpaint_nets:
                continue
            loaded = self._loras.setdefault(id(net), set())
            if not parts:
                if loaded:
                    net.disable_adapters()
                continue
            for part, name, _ in parts:
                if name not in loaded:
                    load_controlnet_lora(net, part, name)
                    loaded.add(name)
                    self.loads += 1
            net.enable_adapters()
            net.set_adapters([name for _, name, _ in parts], weights=[scale for _, _, scale in parts])


def _share(base, nets):
    """A pipeline of the same class with other ControlNets and every other component shared."""
    from diffusers import MultiControlNetModel

    pipe = type(base).from_pipe(base, controlnet=MultiControlNetModel(nets))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def pipelines_for(manager, device: DeviceInfo) -> PipelineCache:
    """The manager's pipeline cache for this device, moved to its current memory tier."""
    cache = manager.cached("pipelines", "diffusers", device, lambda: PipelineCache(device))
    if cache.device != device:
        cache.set_device(device)
    return cache
