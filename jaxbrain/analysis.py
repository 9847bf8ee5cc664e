"""Spike-train statistics from monitors: population rate, ISI CV, pairwise correlations."""

from __future__ import annotations

import numpy as np

__all__ = ["population_rate", "isi_cv", "spike_times", "pairwise_correlations", "neuron_rates",
           "raster_from_spikes", "spike_statistics", "ks_distance"]


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


def raster_from_spikes(senders: np.ndarray, times_ms: np.ndarray, n: int, n_steps: int, dt: float,
                       t0_ms: float = 0.0) -> np.ndarray:
    """A [n_steps, n] boolean raster from spike events (e.g. another simulator's recorder).

    ``senders`` are neuron indices in [0, n); a spike at time t (ms) falls in step
    ``floor((t - t0_ms) / dt)``, so NEST's end-of-step stamps ``(k + 1) dt`` map to step ``k``
    when ``t0_ms`` is the recording start plus one ``dt``. Events outside [0, n_steps) are dropped.
    """
    senders = np.asarray(senders, np.int64)
    step = np.floor((np.asarray(times_ms, np.float64) - t0_ms) / dt + 1e-6).astype(np.int64)
    keep = (step >= 0) & (step < n_steps) & (senders >= 0) & (senders < n)
    raster = np.zeros((n_steps, n), bool)
    raster[step[keep], senders[keep]] = True
    return raster


def spike_statistics(raster: np.ndarray, dt: float, bin_ms: float = 2.0, max_corr_neurons: int = 200,
                     min_spikes: int = 3) -> dict:
    """The three distributions the Potjans-Diesmann reference data compares, from one
    population's [T, n] raster: per-neuron rates (Hz, every neuron), ISI CVs (neurons with at
    least ``min_spikes`` spikes) and pairwise spike-count correlations (the first
    ``max_corr_neurons`` active neurons, ``bin_ms`` bins)."""
    return {"rate": neuron_rates(raster, dt), "cv": isi_cv(raster, dt, min_spikes),
            "corr": pairwise_correlations(raster, dt, bin_ms, max_corr_neurons)}


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov distance: the largest gap between the empirical CDFs of
    ``a`` and ``b`` (0 for equal samples, 1 for disjoint ones; NaN when either is empty)."""
    a = np.sort(np.asarray(a, np.float64).ravel())
    b = np.sort(np.asarray(b, np.float64).ravel())
    if a.size == 0 or b.size == 0:
        return float("nan")
    x = np.concatenate([a, b])
    fa = np.searchsorted(a, x, side="right") / a.size
    fb = np.searchsorted(b, x, side="right") / b.size
    return float(np.abs(fa - fb).max())
