"""Which models and device a request uses, and every loaded model, shared between jobs.

Lives on the worker thread: one manager owns every loaded model (pipelines, SAM,
depth, detectors, the erase model ...), so a second job with the same models
reloads nothing (`loads` proves it). The rooms say how to build a model; the
manager keeps it (`cached`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from app.engine.models.catalog import Catalog
from app.engine.models.entries import ModelSet
from app.engine.models.weights import check_lora_file
from app.engine.runtime.device import DeviceInfo, explain_no_cuda, is_out_of_memory, pick_device
from app.errors import UserError

log = logging.getLogger(__name__)

# A models "folder" that is not a folder: a name -> a function writing (or finding) it and returning its path.
ModelSources = dict[str, Callable[[], Path]]


class ModelManager:
    def __init__(self, models: str | None = None, device: str | None = None, memory_mode: str | None = None,
                 sources: ModelSources | None = None):
        self.default_models = models or "auto"
        self.default_device = device
        self.memory_mode = memory_mode
        self.sources: ModelSources = dict(sources or {})
        self._devices: dict[str | None, DeviceInfo] = {}
        self._catalogs: dict[str, Catalog] = {}
        self._loaded: dict[tuple, object] = {}
        self._created = 0

    # ---- choices -------------------------------------------------------------

    def device(self, requested: str | None = None) -> DeviceInfo:
        requested = requested or self.default_device
        if requested not in self._devices:
            self._devices[requested] = pick_device(requested, self.memory_mode)
        return self._devices[requested]

    def catalog(self, models: str | None = None) -> Catalog:
        spec = models if models and models != "auto" else self.default_models
        if spec not in self._catalogs:
            if spec in self.sources:
                root = self.sources[spec]()
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
            name = spec if spec in self.sources and spec in catalog.sets else catalog.pick_set(
                self.device(request.device).vram_gb)
        return catalog.resolve_set(name)

    def lora_file(self, request) -> str | None:
        """The request's LoRA (a catalog name or a file) as an existing .safetensors path."""
        if not getattr(request, "lora", None):
            return None
        path = Path(self.catalog(request.models).lora_path(request.lora)).expanduser()
        if not path.is_file():
            raise UserError(f"{request.lora}: LoRA not found (give a .safetensors file or an imported LoRA's name)")
        check_lora_file(path)  # a damaged file, or code in a LoRA's place: refused, naming it
        return str(path)

    # ---- loaded models -------------------------------------------------------

    def cached(self, kind: str, path: Path | str, device: DeviceInfo | str, build: Callable[[], object]):
        """The model of this kind, file and device, built once by `build` and kept for later jobs."""
        where = device.device if isinstance(device, DeviceInfo) else str(device)
        key = (kind, str(path), where)
        if key not in self._loaded:
            t0 = time.perf_counter()
            self._loaded[key] = build()
            self._created += 1
            log.info("loaded %s %s in %.1f s", kind, Path(path).name, time.perf_counter() - t0)
        return self._loaded[key]

    def drop(self, kind: str) -> None:
        """Forget every loaded model of this kind (they are built again on next use)."""
        for key in [k for k in self._loaded if k[0] == kind]:
            del self._loaded[key]

    @property
    def loads(self) -> int:
        """Models read from disk so far. Containers (the pipeline cache) count what they load themselves."""
        inner = sum(getattr(v, "loads", 0) for v in self._loaded.values())
        containers = sum(1 for v in self._loaded.values() if hasattr(v, "loads"))
        return self._created - containers + inner

    # ---- failures ------------------------------------------------------------

    def lower_memory_tier(self, device: DeviceInfo) -> DeviceInfo | None:
        """After an out-of-memory: the next tier down for this device, or None at the bottom."""
        lower = device.lower_tier()
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
