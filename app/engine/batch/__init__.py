"""Batches: a folder or a job file of photos, staged or de-furnished into one output folder.

jobs (what the batch is) -> plan (items, output names, request keys) -> manifest (the record
of truth in OUT_DIR, what to do on a rerun) -> item (one photo on an engine) run by local
(threads on this machine) or ray_runner (a Ray cluster) -> report (report.html).
The command line and the window both drive it through session.BatchSession.
Nothing here imports Ray unless a Ray run is asked for.
"""

from app.engine.batch.jobs import TASKS, read_source
from app.engine.batch.manifest import Manifest
from app.engine.batch.plan import BatchItem, BatchOptions
from app.engine.batch.session import BatchEvent, BatchSession

__all__ = ["TASKS", "BatchEvent", "BatchItem", "BatchOptions", "BatchSession", "Manifest", "read_source"]
