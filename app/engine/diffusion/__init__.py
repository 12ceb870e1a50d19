"""Diffusion model families, their memory plans and fast mode (issue #13)."""
