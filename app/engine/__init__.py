"""The engine's public face: what the window, the commands and scripts use.

Callers build a request, `Engine.submit` checks and queues it, and events come
back (`Started`, `Progress`, `Finished`, `Failed`, `Cancelled`). Models are
managed through the catalog functions below. Nothing here imports torch: the
heavy libraries load on the engine's worker thread when a job first needs them.

The rooms below (`runtime`, `models`, `diffusion`, `vision`, `automask`,
`evaluation`, `tiny`) are the engine's inside; see docs/architecture.md.
"""

from app.engine.automask.objects import combine as combine_objects
from app.engine.automask.objects import default_margin
from app.engine.checks import InvalidRequest
from app.engine.evaluation.defurnish import EvalSettings, evaluate, table
from app.engine.events import Cancelled, Event, Failed, Finished, Progress, Started
from app.engine.models.catalog import Catalog
from app.engine.models.downloads import check_space_for, install, plan
from app.engine.models.entries import default_models_dir
from app.engine.models.importer import import_path
from app.engine.models.store import remove, verify
from app.engine.models.transfer import DownloadCancelled, DownloadProgress, check_disk_space, human_bytes
from app.engine.models.weights import check_lora_file
from app.engine.requests import (
    AutoMaskRequest,
    DefurnishRequest,
    EmbedRequest,
    GenerationRequest,
    GuidesRequest,
    JobKind,
    Request,
    SegmentRequest,
    StageRequest,
    array_digest,
    request_type,
)
from app.engine.results import (
    AutoMaskResult,
    EmbedResult,
    GenerationResult,
    GuidesResult,
    MaskObject,
    SegmentResult,
)
from app.engine.runtime.device import DeviceInfo, pick_device
from app.engine.runtime.logs import quiet_libraries
from app.engine.tiny.models import TINY_SAM_CONFIG, ensure_tiny_models, tiny_models_dir
from app.engine.vision.sam_model import build_sam
from app.engine.vision.segmenter import Segmenter
from app.engine.worker import Engine, Job

__all__ = [
    "AutoMaskRequest", "AutoMaskResult", "Cancelled", "Catalog", "DefurnishRequest", "DeviceInfo",
    "DownloadCancelled", "DownloadProgress", "EmbedRequest", "EmbedResult", "Engine", "EvalSettings", "Event",
    "Failed", "Finished", "GenerationRequest", "GenerationResult", "GuidesRequest", "GuidesResult",
    "InvalidRequest", "Job", "JobKind", "MaskObject", "Progress", "Request", "SegmentRequest", "SegmentResult",
    "Segmenter", "StageRequest", "Started", "TINY_SAM_CONFIG", "array_digest", "build_sam", "check_disk_space", "check_lora_file",
    "check_space_for", "combine_objects", "default_margin", "default_models_dir", "ensure_tiny_models",
    "evaluate", "human_bytes", "import_path", "install", "pick_device", "plan", "quiet_libraries", "remove", "request_type",
    "table", "tiny_models_dir", "verify",
]
