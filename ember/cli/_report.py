"""What ``ember finetune`` writes and prints about a run: ``metrics.csv``, the learning-rate
schedule, per-class accuracy and the confusion matrix (``confusion.png``)."""
from __future__ import annotations

import csv
import io
import math
from typing import Any

__all__ = ["metrics_csv", "schedule_lr", "confusion_text", "confusion_png", "SCHEDULES"]

SCHEDULES = ("constant", "step", "cosine")


def schedule_lr(base: float, epoch: int, epochs: int, schedule: str, warmup: int) -> float:
    """The learning rate of ``epoch`` (0-based), a pure function of the epoch so that a resumed
    run uses the same rates as an uninterrupted one. Warm-up rises linearly to ``base`` over
    ``warmup`` epochs; then ``step`` divides by 10 after each third of the remaining epochs
    (torchvision's 30/60/90 recipe, scaled) and ``cosine`` anneals towards 0 (CosineAnnealingLR
    with T_max the remaining epochs, evaluated per epoch)."""
    if epoch < warmup:
        return base * (epoch + 1) / (warmup + 1)
    t, span = epoch - warmup, max(epochs - warmup, 1)
    if schedule == "step":
        return base * 0.1 ** (t // max(span // 3, 1)) if span >= 3 else base
    if schedule == "cosine":
        return base * 0.5 * (1 + math.cos(math.pi * t / span))
    return base


def metrics_csv(history: dict[str, list[float]], seconds: list[float]) -> bytes:
    """``metrics.csv``: one row an epoch (epoch, train_loss, val_loss, val_acc, val_top5 where
    the run has more than 5 classes, lr, seconds); a value a resumed older checkpoint lacks is
    empty."""
    columns = ["train_loss", "val_loss", "val_acc"] + \
        (["val_top5"] if "val_top5" in history else []) + ["lr"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch", *columns, "seconds"])
    n = len(history["train_loss"])
    for i in range(n):
        row: list[Any] = [i + 1]
        for key in columns:
            values = history.get(key, [])
            row.append(f"{values[i]:.6g}" if i < len(values) else "")
        row.append(f"{seconds[i]:.2f}" if i < len(seconds) else "")
        writer.writerow(row)
    return out.getvalue().encode()


def confusion_text(matrix: list[list[int]], classes: list[str]) -> str:
    """Per-class accuracy (rows: true classes), then the confusion matrix when it fits a
    terminal (at most 20 classes)."""
    width = max(len(c) for c in classes)
    lines = ["per-class validation accuracy:"]
    for name, row in zip(classes, matrix):
        total = sum(row)
        right = row[classes.index(name)]
        acc = f"{right / total:6.1%}" if total else "     -"
        lines.append(f"  {name:<{width}}  {acc}  ({right}/{total})")
    if len(classes) <= 20:
        cell = max(max(len(str(v)) for row in matrix for v in row), 3)
        short = [c[:cell] for c in classes]
        lines.append("confusion matrix (rows: true class, columns: predicted):")
        lines.append(" " * (width + 2) + " ".join(f"{c:>{cell}}" for c in short))
        for name, row in zip(classes, matrix):
            lines.append(f"  {name:<{width}}" + " ".join(f"{v:>{cell}}" for v in row))
    return "\n".join(lines)


def confusion_png(matrix: list[list[int]], classes: list[str]) -> bytes | None:
    """The confusion matrix as a PNG (counts in the cells, rows normalised for the colour);
    None without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    import numpy as np

    counts = np.asarray(matrix, dtype=np.int64)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    n = len(classes)
    side = min(max(4.0, 0.5 * n + 2), 16.0)
    fig = Figure(figsize=(side + 1, side))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    ax.set(xticks=range(n), yticks=range(n), xlabel="predicted", ylabel="true class",
           title="validation confusion matrix (best epoch)")
    ax.set_xticklabels(classes, rotation=90 if n > 8 else 0)
    ax.set_yticklabels(classes)
    if n <= 30:  # the counts, where they can still be read
        for (i, j), v in np.ndenumerate(counts):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                    color="white" if rates[i, j] > 0.5 else "black")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()
