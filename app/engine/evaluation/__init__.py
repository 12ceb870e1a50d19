"""Quality measures: LPIPS, and (after the reorganisation) the de-furnishing evaluation."""
