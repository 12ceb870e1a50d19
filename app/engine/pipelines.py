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

from app.engine.catalog import ModelSet
from app.engine.device import DeviceInfo

log = logging.getLogger(__name__)


class PipelineCache:
    def __init__(self, device: DeviceInfo):
        self.device = device
        self.loads = 0
        self._controlnets: dict[Path, object] = {}
        self._pipes: dict[tuple, object] = {}
        self._loras: dict[int, set[str]] = {}
        self._inpaint_nets: dict[int, object] = {}  # inpaint ControlNets: a staging LoRA may carry a part for them
        self._lock = threading.Lock()

    def set_device(self, device: DeviceInfo) -> None:
        """Switch memory tier (after an out-of-memory): drop pipelines, they are re-placed on next use."""
        self.device = device
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._pipes.clear()
            self._controlnets.clear()
            self._loras.clear()
            self._inpaint_nets.clear()

    # ---- loading -------------------------------------------------------------

    def _controlnet(self, path: Path):
        from diffusers import ControlNetModel

        if path not in self._controlnets:
            log.info("loading ControlNet %s", path.name)
            self._controlnets[path] = ControlNetModel.from_pretrained(
                path, dtype=self.device.dtype, local_files_only=True
            )
            self.loads += 1
        return self._controlnets[path]

    def get(self, models: ModelSet, with_inpaint_controlnet: bool = False):
        """The ControlNet-inpaint pipeline for a model set: [depth, canny] (+ inpaint)."""
        with self._lock:
            key = (models.inpaint, with_inpaint_controlnet)
            if key in self._pipes:
                return self._pipes[key]
            base_key = (models.inpaint, False)
            if base_key not in self._pipes:
                self._pipes[base_key] = self._load(models)
            if with_inpaint_controlnet and models.controlnet_inpaint is not None:
                base = self._pipes[base_key]
                inpaint_net = self._controlnet(models.controlnet_inpaint)
                self._inpaint_nets[id(inpaint_net)] = inpaint_net
                nets = [*base.controlnet.nets, inpaint_net]
                self._pipes[key] = _share(base, nets)
            else:
                self._pipes[key] = self._pipes[base_key]
            return self._pipes[key]

    def _load(self, models: ModelSet):
        from diffusers import (
            DPMSolverMultistepScheduler,
            MultiControlNetModel,
            StableDiffusionControlNetInpaintPipeline,
            StableDiffusionXLControlNetInpaintPipeline,
        )
        from diffusers.utils import logging as diffusers_logging

        diffusers_logging.disable_progress_bar()  # progress reaches the user as engine events instead
        nets = [self._controlnet(p) for p in (models.controlnet_depth, models.controlnet_canny) if p]
        cls = (StableDiffusionXLControlNetInpaintPipeline if models.arch == "sdxl"
               else StableDiffusionControlNetInpaintPipeline)
        extra = {} if models.arch == "sdxl" else {"safety_checker": None, "requires_safety_checker": False}
        log.info("loading %s pipeline from %s", models.arch, models.inpaint)
        if models.inpaint.is_file():  # a single-file checkpoint, loaded against a local config folder
            from app.engine.single_file import load_single_file_pipeline

            pipe = load_single_file_pipeline(
                cls, models.inpaint, getattr(models, "inpaint_config", None), self.device.dtype,
                controlnet=MultiControlNetModel(nets), **extra,
            )
        else:
            pipe = cls.from_pretrained(
                models.inpaint, controlnet=MultiControlNetModel(nets), dtype=self.device.dtype,
                local_files_only=True, **extra,
            )
        self.loads += 1
        # DPM++ 2M Karras: good pictures in 20-30 steps.
        pipe.scheduler = DPMSolverMultistepScheduler.from_config(
            pipe.scheduler.config, use_karras_sigmas=True, algorithm_type="dpmsolver++"
        )
        pipe.set_progress_bar_config(disable=True)
        self._place(pipe)
        return pipe

    def _place(self, pipe) -> None:
        """Put the pipeline on the device the way its memory tier asks. (The VAE keeps the pipeline's
        dtype: the pipeline encodes with it; inpaint.decode_latents upcasts for the decode alone.)"""
        dev, tier = self.device.device, self.device.tier
        if dev == "cuda" and tier == "sequential":
            pipe.enable_sequential_cpu_offload()
        elif dev == "cuda" and tier == "offload":
            pipe.enable_model_cpu_offload()
        else:
            pipe.to(dev)
        if tier in ("sequential", "offload", "low"):
            pipe.vae.enable_tiling()
            pipe.vae.enable_slicing()

    # ---- LoRAs ---------------------------------------------------------------

    def apply_lora(self, pipe, lora: str | None, scale: float) -> None:
        """Activate one LoRA (loaded once per pipeline) or none."""
        loaded = self._loras.setdefault(id(pipe), set())
        if lora is None:
            if loaded:
                pipe.disable_lora()
            self._apply_controlnet_lora(pipe, None, "", 0.0)
            return
        path = Path(lora)
        name = path.stem.replace(".", "_")
        if name not in loaded:
            pipe.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=name)
            loaded.add(name)
            self.loads += 1
        pipe.enable_lora()
        pipe.set_adapters([name], adapter_weights=[scale])
        self._apply_controlnet_lora(pipe, path, name, scale)

    def _apply_controlnet_lora(self, pipe, path: Path | None, name: str, scale: float) -> None:
        """A staging LoRA trained with the inpaint ControlNet (train-lora --controlnet) has a second file,
        NAME.controlnet.safetensors: its adapter goes on the inpaint ControlNet when the job uses it."""
        # peft and safetensors come with the LoRA file module: loaded with the first LoRA, not at start-up
        from app.engine.training.lora_file import controlnet_path, load_controlnet_lora

        part = controlnet_path(path) if path is not None else None
        for net in getattr(getattr(pipe, "controlnet", None), "nets", []):
            if id(net) not in self._inpaint_nets:
                continue
            loaded = self._loras.setdefault(id(net), set())
            if part is None or not part.is_file():
                if loaded:
                    net.disable_adapters()
                continue
            if name not in loaded:
                load_controlnet_lora(net, part, name)
                loaded.add(name)
                self.loads += 1
            net.enable_adapters()
            net.set_adapters([name], weights=[scale])


def _share(base, nets):
    """A pipeline of the same class with other ControlNets and every other component shared."""
    from diffusers import MultiControlNetModel

    pipe = type(base).from_pipe(base, controlnet=MultiControlNetModel(nets))
    pipe.set_progress_bar_config(disable=True)
    return pipe
