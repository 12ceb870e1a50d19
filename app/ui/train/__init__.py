"""The Train window (Tools ▸ Train a LoRA…): a dialog over training child processes."""
