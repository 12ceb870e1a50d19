"""The click-selection model of a set: SAM 1 (.pth) or SAM 2 (a transformers folder), loaded once."""

from __future__ import annotations

from pathlib import Path

from app import settings
from app.engine.models.entries import ModelSet
from app.engine.runtime.device import DeviceInfo
from app.engine.vision.sam2_backend import Sam2Backend, load_sam2, sam2_model_id
from app.engine.vision.sam_model import load_sam
from app.engine.vision.segmenter import SamBackend, Segmenter


def load_segmenter_backend(path: Path, sam_type: str, device: str) -> tuple[object, str]:
    """(backend for Segmenter, model id for its embedding cache). The ids of the two backends differ."""
    path = Path(path)
    if sam_type == "sam2":
        model, processor = load_sam2(path)
        return Sam2Backend(model, processor, device), sam2_model_id(path)
    sam = load_sam(path, sam_type)
    stat = path.stat()
    return SamBackend(sam, device), f"{path.name}:{stat.st_size}:{int(stat.st_mtime)}"


def segmenter_for(manager, models: ModelSet, device: DeviceInfo) -> Segmenter:
    """The set's SAM session on this device, with its embedding cache on disk."""

    def build() -> Segmenter:
        # the backend follows the catalog's sam_type: SAM 1 .pth (vit_b ...) or a SAM 2 folder ("sam2");
        # the model id (cache key) names the backend's weights, so the two never share embeddings
        backend, model_id = load_segmenter_backend(models.sam, models.sam_type, device.device)
        # SAM runs in fp32: its decoder is tiny and fp16 costs mask quality
        return Segmenter(backend, device.device, model_id, settings.cache_dir() / "sam")

    return manager.cached("sam", models.sam, device, build)
