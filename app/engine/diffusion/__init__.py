"""Diffusion: the inpaint core and the jobs on it (staging, de-furnishing, repaint), model families, memory plans, fast mode."""
