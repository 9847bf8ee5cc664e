"""Figures written by experiments (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .analysis import population_rate  # noqa: E402

__all__ = ["raster_and_rate"]


def raster_and_rate(rec, path: str | Path, title: str = "", bin_ms: float = 1.0,
                    max_ms: float | None = None) -> Path:
    """Raster of the recorded neurons of each population (stacked) over their population rates."""
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6), sharex=True,
                                   gridspec_kw={"height_ratios": [3, 1]})
    offset = 0
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (pop, r) in enumerate(sorted(rec.raster.items())):
        t_idx, n_idx = np.nonzero(r)
        ax1.scatter(t_idx * rec.dt, n_idx + offset, s=0.5, color=colors[i % len(colors)],
                    label=pop, rasterized=True)
        offset += r.shape[1]
    ax1.set_ylabel("neuron (recorded subset)")
    ax1.legend(loc="upper right", markerscale=10)
    for i, (pop, s) in enumerate(sorted(rec.pop_spikes.items())):
        t, rate = population_rate(s, len(rec.counts[pop]), rec.dt, bin_ms)
        ax2.plot(t, rate, lw=0.8, color=colors[i % len(colors)], label=f"{pop} {rate.mean():.1f} Hz")
    ax2.set_xlabel("time (ms)")
    ax2.set_ylabel(f"rate (Hz, {bin_ms:g} ms bins)")
    ax2.legend(loc="upper right")
    if max_ms:
        ax2.set_xlim(0, max_ms)
    if title:
        ax1.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
