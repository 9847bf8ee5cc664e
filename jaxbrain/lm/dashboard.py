"""The training dashboard: one PNG with seven panels, refreshed during training.

Panels: (1) loss with moving average (and validation loss), (2) accuracy, (3) throughput
(tokens/s), (4) learning rate, (5) loss vs accuracy, (6) the recent window (loss and accuracy
on two axes), (7) the latest text samples (real validation input and the model's
continuation). Every number comes from ``metrics.jsonl`` rows and ``text_samples.json``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

__all__ = ["moving_average", "write_dashboard"]


def moving_average(x, n: int = 50) -> np.ndarray:
    """Trailing mean over up to ``n`` points (same length as ``x``)."""
    x = np.asarray(x, float)
    if len(x) == 0:
        return x
    c = np.cumsum(np.insert(x, 0, 0.0))
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(idx - n, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def write_dashboard(history: list[dict], samples: list[dict], path: Path, title: str = "",
                    recent: int = 50) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig = plt.figure(figsize=(16, 12))
    gs = fig.add_gridspec(4, 3, height_ratios=[1, 1, 1, 1.1])
    steps = np.array([h["step"] for h in history], float)
    loss = np.array([h["loss"] for h in history], float)
    acc = np.array([h["accuracy"] for h in history], float)
    tps = np.array([h["tokens_per_s"] for h in history], float)
    lr = np.array([h["lr"] for h in history], float)
    val = [(h["step"], h["val_loss"]) for h in history if "val_loss" in h]
    window = max(1, min(50, len(loss) // 5 or 1))

    ax = fig.add_subplot(gs[0, 0])
    ax.plot(steps, loss, lw=0.7, alpha=0.5, label="train loss")
    ax.plot(steps, moving_average(loss, window), lw=1.5, label=f"moving avg ({window})")
    if val:
        ax.plot(*zip(*val), "o-", ms=3, label="validation")
    ax.set(title="1. loss (nats/token)", xlabel="step")
    ax.legend(fontsize=7)

    ax = fig.add_subplot(gs[0, 1])
    ax.plot(steps, 100 * acc, lw=0.7, alpha=0.5)
    ax.plot(steps, 100 * moving_average(acc, window), lw=1.5)
    ax.set(title="2. next-token accuracy (%)", xlabel="step")

    ax = fig.add_subplot(gs[0, 2])
    ax.plot(steps[1:], tps[1:]) if len(tps) > 1 else ax.plot(steps, tps)
    ax.set(title="3. throughput (tokens/s)", xlabel="step")

    ax = fig.add_subplot(gs[1, 0])
    ax.plot(steps, lr)
    ax.set(title="4. learning rate", xlabel="step")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))

    ax = fig.add_subplot(gs[1, 1])
    sc = ax.scatter(loss, 100 * acc, c=steps, s=6, cmap="viridis")
    fig.colorbar(sc, ax=ax, label="step")
    ax.set(title="5. loss vs accuracy", xlabel="loss", ylabel="accuracy (%)")

    ax = fig.add_subplot(gs[1, 2])
    r = slice(-recent, None)
    ax.plot(steps[r], loss[r], color="C0")
    ax.set(title=f"6. recent window (last {min(recent, len(steps))} rows)", xlabel="step")
    ax.set_ylabel("loss", color="C0")
    ax2 = ax.twinx()
    ax2.plot(steps[r], 100 * acc[r], color="C1")
    ax2.set_ylabel("accuracy (%)", color="C1")

    ax = fig.add_subplot(gs[2:, :])
    ax.axis("off")
    ax.set_title("7. text samples (validation input -> model)", loc="left")
    lines = []
    for s in samples[-3:]:
        lines.append(f"step {s['step']}  teacher-forced accuracy {100 * s['accuracy']:.1f}%")
        for key in ("input", "predicted", "generation"):
            txt = " ".join(str(s[key]).split())[:300]
            lines += textwrap.wrap(f"  {key:>10}: {txt}", 150) or [f"  {key:>10}:"]
        lines.append("")
    ax.text(0.0, 1.0, "\n".join(lines) or "(no samples yet)", va="top", family="monospace",
            fontsize=7.5, transform=ax.transAxes)
    fig.suptitle(title)
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    tmp.replace(path)
    return path
