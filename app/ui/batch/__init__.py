"""File ▸ Batch…: the batch dialog and its bridge to the engine's batch session."""
