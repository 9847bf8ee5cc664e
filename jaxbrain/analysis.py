"""Spike-train statistics from monitors: population rate, ISI CV, pairwise correlations."""

from __future__ import annotations

import numpy as np

__all__ = ["population_rate", "isi_cv", "spike_times", "pairwise_correlations", "neuron_rates"]


def population_rate(pop_spikes: np.ndarray, n: int, dt: float, bin_ms: float = 1.0):
    """(bin centres in ms, rate in Hz) of a population from its per-step spike counts."""
    per_bin = max(1, int(round(bin_ms / dt)))
    m = len(pop_spikes) // per_bin
    counts = np.asarray(pop_spikes[: m * per_bin], np.float64).reshape(m, per_bin).sum(1)
    return (np.arange(m) + 0.5) * per_bin * dt, counts / n / (per_bin * dt * 1e-3)


def spike_times(raster: np.ndarray, dt: float) -> list[np.ndarray]:
    """Spike times (ms) of each recorded neuron from a [T, m] boolean raster."""
    return [np.nonzero(raster[:, j])[0] * dt for j in range(raster.shape[1])]


def isi_cv(raster: np.ndarray, dt: float, min_spikes: int = 3) -> np.ndarray:
    """Coefficient of variation of the inter-spike intervals of each recorded neuron with at
    least ``min_spikes`` spikes (1 for a Poisson process, 0 for a clock)."""
    cvs = []
    for t in spike_times(raster, dt):
        if len(t) >= min_spikes:
            isi = np.diff(t)
            cvs.append(isi.std() / isi.mean())
    return np.asarray(cvs)


def neuron_rates(raster: np.ndarray, dt: float) -> np.ndarray:
    """Firing rate (Hz) of each recorded neuron."""
    return raster.sum(0) / (raster.shape[0] * dt * 1e-3)


def pairwise_correlations(raster: np.ndarray, dt: float, bin_ms: float = 2.0,
                          max_neurons: int = 200) -> np.ndarray:
    """Pearson correlations of binned spike counts between pairs of recorded, active neurons
    (the measure of Potjans & Diesmann 2014 / the PD14 reference data, 2 ms bins)."""
    per_bin = max(1, int(round(bin_ms / dt)))
    m = raster.shape[0] // per_bin
    counts = raster[: m * per_bin].reshape(m, per_bin, -1).sum(1).astype(np.float64)
    counts = counts[:, counts.sum(0) > 0][:, :max_neurons]
    if counts.shape[1] < 2:
        return np.zeros(0)
    c = np.corrcoef(counts.T)
    return c[np.triu_indices_from(c, k=1)]
