"""The run's metrics beside the LoRA: JSON lines (every row), CSV (spreadsheets) and a PNG plot.

Rows are {"step", "kind": "train" | "val", ...}: training rows carry the loss and the
learning rate, validation rows the metrics of validation.METRICS. On a resume the rows
after the checkpoint's step are dropped, so the log reads as one uninterrupted run.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np

CSV_COLUMNS = ("step", "kind", "epoch", "loss", "lr", "seconds", "psnr_mask", "ssim_mask", "lpips_mask", "psnr",
               "ssim", "lpips", "latent_mse_mask", "furniture_score")


def log_paths(output: Path) -> dict[str, Path]:
    """NAME.safetensors -> NAME.metrics.jsonl, NAME.metrics.csv, NAME.plot.png and the run folder NAME.training."""
    stem = output.with_suffix("")
    return {"log": Path(f"{stem}.metrics.jsonl"), "csv": Path(f"{stem}.metrics.csv"),
            "plot": Path(f"{stem}.plot.png"), "run": Path(f"{stem}.training")}


class MetricsLog:
    def __init__(self, path: Path, csv_path: Path):
        self.path, self.csv_path = Path(path), Path(csv_path)
        self.rows: list[dict] = []

    def start(self, resume_step: int | None) -> None:
        """A new log, or (resuming) the old one cut back to the checkpoint's step."""
        if resume_step is not None:
            self.rows = [r for r in read_rows(self.path) if int(r.get("step", 0)) <= resume_step]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_text(self.path, "".join(json.dumps(r) + "\n" for r in self.rows))

    def add(self, row: dict) -> None:
        self.rows.append(row)
        with open(self.path, "a", encoding="utf-8", newline="\n") as f:
            f.write(json.dumps(row) + "\n")

    def write_csv(self) -> None:
        with open_text(self.csv_path) as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for r in self.rows:
                writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in CSV_COLUMNS})


class open_text:
    """A text file written to NAME.tmp and renamed when closed without error."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + ".tmp")

    def __enter__(self):
        self.f = open(self.tmp, "w", encoding="utf-8", newline="")
        return self.f

    def __exit__(self, kind, *_):
        self.f.close()
        if kind is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def _atomic_text(path: Path, text: str) -> None:
    with open_text(path) as f:
        f.write(text)


def read_rows(path: Path) -> list[dict]:
    """The rows of a metrics log (a torn last line, from a run that was killed, is skipped)."""
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    continue
    except FileNotFoundError:
        pass
    return rows


def plot(rows: list[dict], path: Path, title: str = "") -> Path:
    """Loss (raw and smoothed, log scale) over the steps, and the validation metrics in the mask."""
    # matplotlib loads only when a plot is drawn: the Train window reads this module's logs without it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    train = [r for r in rows if r.get("kind") == "train" and r.get("loss") is not None]
    val = [r for r in rows if r.get("kind") == "val"]
    fig = Figure(figsize=(10, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 2, 1)
    if train:
        steps = np.array([r["step"] for r in train])
        loss = np.array([r["loss"] for r in train], dtype=float)
        ax.plot(steps, loss, color="#9bb7d4", linewidth=0.8, label="loss")
        k = max(1, len(loss) // 25)
        if k > 1:
            smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
            ax.plot(steps[k - 1:], smooth, color="#1f5f9e", linewidth=1.8, label=f"mean of {k}")
        if (loss > 0).all():
            ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title("training loss")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    ax2 = fig.add_subplot(1, 2, 2)
    for key, colour in (("lpips_mask", "#c0392b"), ("ssim_mask", "#27ae60")):
        pts = [(r["step"], r[key]) for r in val if r.get(key) is not None]
        if pts:
            ax2.plot(*zip(*pts, strict=True), "o-", color=colour, label=key.replace("_mask", " (mask)"))
    ax2.set_ylim(bottom=0)
    ax2.set_xlabel("step")
    ax2.set_title("validation")
    ax2.grid(alpha=0.3)
    psnr = [(r["step"], r["psnr_mask"]) for r in val if r.get("psnr_mask") is not None]
    if psnr:
        ax3 = ax2.twinx()
        ax3.plot(*zip(*psnr, strict=True), "s--", color="#8e44ad", label="PSNR (mask), dB")
        ax3.set_ylabel("PSNR dB")
        ax3.legend(loc="lower right", fontsize=8)
    if val:
        ax2.legend(loc="upper right", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    tmp = Path(path).with_name(Path(path).name + ".tmp.png")
    fig.savefig(tmp, format="png")
    os.replace(tmp, path)
    return Path(path)


def summary_mean(values) -> float | None:
    return float(sum(values) / len(values)) if values else None


def summary_median(values) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return float(s[len(s) // 2])


def best_summary(best: dict | None) -> dict | None:
    """The best validation for `--json`: inside the mask first (the contract: psnr, ssim, lpips), then the rest."""
    if best is None:
        return None
    return {"psnr": best.get("psnr_mask"), "ssim": best.get("ssim_mask"), "lpips": best.get("lpips_mask"),
            "step": best.get("step"), "latent_mse": best.get("latent_mse_mask"),
            "furniture_score": best.get("furniture_score"),
            "whole": {"psnr": best.get("psnr"), "ssim": best.get("ssim"), "lpips": best.get("lpips")}}
