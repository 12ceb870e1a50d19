"""The engine's public face: what the window, the commands and scripts use.

Callers build a request, `Engine.submit` checks and queues it, and events come
back (`Started`, `Progress`, `Finished`, `Failed`, `Cancelled`). Models are
managed through the catalog functions below. Nothing here imports torch: the
heavy libraries load on the engine's worker thread when a job first needs them.

The rooms below (`runtime`, `models`, `diffusion`, `vision`, `automask`,
`evaluation`, `tiny`, `benchmarks`) are the engine's inside; see docs/architecture.md.
"""

from app.engine.automask.objects import combine as combine_objects
from app.engine.automask.objects import default_margin
from app.engine.batch import TASKS as BATCH_TASKS
from app.engine.batch import BatchEvent, BatchOptions, BatchSession
from app.engine.batch.jobs import PHOTO_SUFFIXES, JobRow, JobSource, photos_source, read_source
from app.engine.batch.session import previous_batch
from app.engine.benchmarks.batch import run_batch_bench
from app.engine.benchmarks.run import run_benchmarks
from app.engine.checks import InvalidRequest
from app.engine.evaluation.defurnish import EvalSettings, evaluate, table
from app.engine.events import Cancelled, Event, Failed, Finished, Progress, Started
from app.engine.geometry.camera import focal_35mm_from_exif
from app.engine.geometry.export import FORMATS as ROOM_FORMATS
from app.engine.geometry.export import write_room
from app.engine.geometry.render import Orbit, home_orbit, render_points
from app.engine.geometry.room import grid_colors
from app.engine.models.catalog import Catalog
from app.engine.models.downloads import check_space_for, install, plan
from app.engine.models.entries import default_models_dir
from app.engine.models.importer import import_path
from app.engine.models.store import remove, verify
from app.engine.models.transfer import DownloadCancelled, DownloadProgress, check_disk_space, human_bytes
from app.engine.models.user_catalog import safe_name
from app.engine.models.weights import check_lora_file
from app.engine.requests import (
    AutoMaskRequest,
    DefurnishRequest,
    EmbedRequest,
    GenerationRequest,
    GuidesRequest,
    JobKind,
    RepaintRequest,
    Request,
    Room3DRequest,
    SegmentRequest,
    StageRequest,
    TextSegmentRequest,
    array_digest,
    photo_fields,
    request_type,
)
from app.engine.results import (
    AutoMaskResult,
    EmbedResult,
    GenerationResult,
    GuidesResult,
    MaskObject,
    Room3DResult,
    SegmentResult,
    TextSegmentResult,
)
from app.engine.runtime.device import MEMORY_MODES, DeviceInfo, available_devices, pick_device
from app.engine.runtime.logs import quiet_libraries
from app.engine.tiny.models import ensure_tiny_models, tiny_models_dir
from app.engine.training import ARCHES as TRAINABLE_ARCHES
from app.engine.training import OPTIMIZERS as TRAIN_OPTIMIZERS
from app.engine.training import PRECISIONS as TRAIN_PRECISIONS
from app.engine.training import PRESETS as TRAIN_PRESETS
from app.engine.training import SCHEDULERS as TRAIN_SCHEDULERS
from app.engine.training import STATUS as TRAINING_STATUS
from app.engine.training import TASKS as TRAIN_TASKS
from app.engine.training import DatasetOptions, TrainConfig, build_dataset, expand_targets, train
from app.engine.training import clear_request as clear_training_request
from app.engine.training import launch as launch_training
from app.engine.training import log_paths as training_log_paths
from app.engine.training import read_rows as read_training_log
from app.engine.training import read_status as read_training_status
from app.engine.training import request as request_training
from app.engine.training import under_launcher as under_training_launcher
from app.engine.training import without_processes as without_training_processes
from app.engine.worker import Engine, Job

__all__ = [
    "array_digest", "AutoMaskRequest", "AutoMaskResult", "available_devices", "BATCH_TASKS", "BatchEvent",
    "BatchOptions", "BatchSession", "build_dataset", "Cancelled", "Catalog", "check_disk_space",
    "check_lora_file", "check_space_for", "clear_training_request", "combine_objects", "DatasetOptions",
    "default_margin", "default_models_dir", "DefurnishRequest", "DeviceInfo", "DownloadCancelled",
    "DownloadProgress", "EmbedRequest", "EmbedResult", "Engine", "ensure_tiny_models", "EvalSettings",
    "evaluate", "Event", "expand_targets", "Failed", "Finished", "focal_35mm_from_exif", "GenerationRequest",
    "GenerationResult", "grid_colors", "GuidesRequest", "GuidesResult", "home_orbit", "human_bytes",
    "import_path", "install", "InvalidRequest", "Job", "JobKind", "JobRow", "JobSource", "launch_training",
    "MaskObject", "MEMORY_MODES", "Orbit", "PHOTO_SUFFIXES", "photos_source", "pick_device", "plan",
    "previous_batch", "Progress", "quiet_libraries", "read_source", "read_training_log",
    "read_training_status", "remove", "render_points", "RepaintRequest", "Request", "request_training",
    "photo_fields", "request_type", "Room3DRequest", "Room3DResult", "ROOM_FORMATS", "run_batch_bench", "run_benchmarks",
    "safe_name", "SegmentRequest", "SegmentResult", "StageRequest", "Started", "table", "TextSegmentRequest",
    "TextSegmentResult", "tiny_models_dir", "train", "TRAIN_OPTIMIZERS", "TRAIN_PRECISIONS", "TRAIN_PRESETS",
    "TRAIN_SCHEDULERS", "TRAIN_TASKS", "TRAINABLE_ARCHES", "TrainConfig", "training_log_paths", "TRAINING_STATUS",
    "under_training_launcher", "verify", "without_training_processes", "write_room",
]
