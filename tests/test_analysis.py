"""Spike-train statistics: closed-form cases and a reference implementation of the KS distance."""

import numpy as np
import pytest

from jaxbrain import analysis


def test_ks_distance_closed_forms_and_scipy():
    assert analysis.ks_distance([1, 2, 3], [1, 2, 3]) == 0.0
    assert analysis.ks_distance([0, 1], [2, 3]) == 1.0
    assert analysis.ks_distance([0, 2], [1]) == 0.5  # CDFs 1/2 vs 0 between 0 and 1
    assert np.isnan(analysis.ks_distance([], [1.0]))
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for n, m, shift in ((50, 80, 0.0), (200, 37, 0.3), (1000, 1000, 0.05)):
        a, b = rng.normal(size=n), rng.normal(shift, 1.0, size=m)
        b[:5] = a[:5]  # ties across samples
        assert analysis.ks_distance(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)


def test_ks_distance_of_two_samples_of_one_law_shrinks_as_one_over_sqrt_n():
    rng = np.random.default_rng(1)
    d = [np.mean([analysis.ks_distance(rng.exponential(size=n), rng.exponential(size=n)) for _ in range(30)])
         for n in (100, 1600)]
    # E[D] ~ 0.87 sqrt(2/n) for two samples of n: 0.123 at n=100, 0.031 at n=1600
    assert 0.09 < d[0] < 0.16 and 0.02 < d[1] < 0.045


def test_raster_from_spikes_places_nest_stamps_in_their_steps():
    dt = 0.1
    # NEST stamps a spike of step k at (k + 1) dt; recording starts at 100 ms
    steps, senders = np.array([0, 3, 3, 9, 10]), np.array([1, 0, 2, 2, 1])
    times = 100.0 + (steps + 1) * dt
    r = analysis.raster_from_spikes(senders, times, n=3, n_steps=10, dt=dt, t0_ms=100.0 + dt)
    assert r.shape == (10, 3) and r.sum() == 4  # the step-10 spike is outside
    assert r[0, 1] and r[3, 0] and r[3, 2] and r[9, 2]


def test_spike_statistics_of_a_clock_and_of_poisson_trains():
    dt, T = 0.1, 20_000  # 2 s
    rng = np.random.default_rng(2)
    raster = np.zeros((T, 300), bool)
    raster[::500, 0] = True  # a 20 Hz clock: CV 0
    raster[:, 1:] = rng.random((T, 299)) < 50.0 * dt * 1e-3  # 50 Hz Bernoulli-per-step ~ Poisson
    s = analysis.spike_statistics(raster, dt)
    assert s["rate"][0] == pytest.approx(20.0) and abs(s["rate"][1:].mean() - 50.0) < 0.5
    assert s["cv"][0] == pytest.approx(0.0, abs=1e-9) and abs(s["cv"][1:].mean() - 1.0) < 0.03
    # 200 neurons -> 19,900 pairs; independent trains: correlations ~ N(0, 1/sqrt(bins))
    assert s["corr"].size == 200 * 199 // 2
    assert abs(s["corr"].mean()) < 0.005 and abs(s["corr"].std() - 1 / np.sqrt(T // 20)) < 0.003
