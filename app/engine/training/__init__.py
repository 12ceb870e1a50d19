"""LoRA training for de-furnishing and staging: datasets (dataset_builder), the run (trainer),
validation, checkpoints and the trained LoRA's file and catalog entry."""
