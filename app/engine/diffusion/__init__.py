"""Diffusion jobs (the inpaint core and what runs on it); filled in by the engine's re-organisation."""
