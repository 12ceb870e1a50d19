"""Which models and device a request uses, and the loaded models shared between jobs.

Lives on the worker thread: one manager owns every loaded model, so a second
job with the same models reloads nothing (`loads` proves it).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from app.engine.catalog import Catalog, ModelSet
from app.engine.device import DeviceInfo, explain_no_cuda, free_memory, is_out_of_memory, pick_device
from app.errors import UserError

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    base = os.environ.get("ROOMSTAGER_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache"), "roomstager"
    )
    return Path(base)


class ModelManager:
    def __init__(self, models: str | None = None, device: str | None = None, memory_mode: str | None = None):
        self.default_models = models or "auto"
        self.default_device = device
        self.memory_mode = memory_mode
        self._devices: dict[str | None, DeviceInfo] = {}
        self._catalogs: dict[str, Catalog] = {}
        self._pipelines: dict[str, object] = {}
        self._segmenters: dict[tuple, object] = {}
        self._depths: dict[tuple, object] = {}
        self.other_loads = 0

    # ---- choices -------------------------------------------------------------

    def device(self, requested: str | None = None) -> DeviceInfo:
        requested = requested or self.default_device
        if requested not in self._devices:
            self._devices[requested] = pick_device(requested, self.memory_mode)
        return self._devices[requested]

    def catalog(self, models: str | None = None) -> Catalog:
        spec = models if models and models != "auto" else self.default_models
        if spec not in self._catalogs:
            if spec == "tiny":
                from app.engine.tiny import ensure_tiny_models

                root = ensure_tiny_models()
            elif spec == "auto":
                root = None
            else:
                root = Path(spec).expanduser()
                if not root.is_dir():
                    raise UserError(f"{spec}: models folder not found")
            self._catalogs[spec] = Catalog.load(root)
        return self._catalogs[spec]

    def model_set(self, request) -> ModelSet:
        catalog = self.catalog(request.models)
        name = request.model_set
        if name is None:
            spec = request.models if request.models != "auto" else self.default_models
            name = "tiny" if spec == "tiny" else catalog.pick_set(self.device(request.device).vram_gb)
        return catalog.resolve_set(name)

    def lora_file(self, request) -> str | None:
        """The request's LoRA (a catalog name or a file) as an existing .safetensors path."""
        if not getattr(request, "lora", None):
            return None
        path = Path(self.catalog(request.models).lora_path(request.lora)).expanduser()
        if not path.is_file():
            raise UserError(f"{request.lora}: LoRA not found (give a .safetensors file or an imported LoRA's name)")
        if path.suffix.lower() != ".safetensors":
            raise UserError(f"{path.name}: only .safetensors LoRAs are loaded")
        return str(path)

    # ---- loaded models -------------------------------------------------------

    def pipelines(self, device: DeviceInfo):
        from app.engine.pipelines import PipelineCache

        key = device.device
        cache = self._pipelines.get(key)
        if cache is None:
            cache = self._pipelines[key] = PipelineCache(device)
        elif cache.device != device:
            cache.set_device(device)
        return cache

    def segmenter(self, models: ModelSet, device: DeviceInfo):
        from app.engine.sam_model import load_segmenter_backend
        from app.engine.segmenter import Segmenter

        key = (models.sam, device.device)
        if key not in self._segmenters:
            # the backend follows the catalog's sam_type: SAM 1 .pth (vit_b ...) or a SAM 2 folder ("sam2");
            # the model id (cache key) names the backend's weights, so the two never share embeddings
            backend, model_id = load_segmenter_backend(models.sam, models.sam_type, device.device)
            self.other_loads += 1
            # SAM runs in fp32: its decoder is tiny and fp16 costs mask quality
            self._segmenters[key] = Segmenter(backend, device.device, model_id, cache_dir() / "sam")
        return self._segmenters[key]

    def depth(self, models: ModelSet, device: DeviceInfo):
        from app.engine.depth import DepthEstimator

        if models.depth is None:
            raise UserError(f"model set '{models.name}' has no depth model")
        key = (models.depth, device.device)
        if key not in self._depths:
            self._depths[key] = DepthEstimator(models.depth, device.device, device.dtype)
            self.other_loads += 1
        return self._depths[key]

    @property
    def loads(self) -> int:
        return self.other_loads + sum(c.loads for c in self._pipelines.values())

    # ---- failures ------------------------------------------------------------

    def lower_memory_tier(self, device: DeviceInfo) -> DeviceInfo | None:
        """After an out-of-memory: the next tier down for this device, or None at the bottom."""
        lower = device.lower_tier()
        free_memory()
        if lower is not None:
            for k, v in list(self._devices.items()):
                if v == device:
                    self._devices[k] = lower
        return lower

    def explain_failure(self, exc: BaseException) -> str:
        text = str(exc)
        if is_out_of_memory(exc):
            return ("the GPU ran out of memory even in the lowest memory mode. Close other programs that use the "
                    "GPU, choose the Standard model set, or select a smaller region.")
        if "not compiled with cuda" in text.lower():
            return explain_no_cuda()
        return f"{exc.__class__.__name__}: {text}"
