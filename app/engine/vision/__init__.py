"""Models that look at a photo: segmenters, detectors, depth (the rest moves here with the reorganisation)."""
