"""Multiscale coupling: exchange interval vs delays, delays honoured, rate -> Poisson drive,
spike counts -> rate, region groups."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain.meanfield import MPRParams, WongWangParams, ww_fixed_point
from jaxbrain.multiscale import (SpikingRegionParams, build_brain, init_state, lags_from_delays,
                                 simulate)
from jaxbrain.neurons import LIFParams

SMALL = SpikingRegionParams(n_exc=80, n_inh=20, k_ext=100, nu_bg=40.0, w_ext=12.0, k_conn=20)


def test_exchange_interval_must_not_exceed_shortest_delay():
    w = np.array([[0, 1.0], [0.5, 0]], np.float32)
    d = np.array([[0, 4.0], [2.5, 0]], np.float32)
    np.testing.assert_array_equal(lags_from_delays(d, w, 0.5), [[1, 8], [5, 1]])
    with pytest.raises(ValueError, match="shortest inter-region delay 2.5"):
        lags_from_delays(d, w, 3.0)
    with pytest.raises(ValueError, match="exceeds"):
        build_brain(w, d, ["spiking", "montbrio"], spk=SMALL, t_ex=3.0)


def test_bad_levels_and_groups_rejected():
    w = np.zeros((3, 3), np.float32)
    d = np.ones((3, 3), np.float32)
    with pytest.raises(ValueError, match="levels\\[1\\]"):
        build_brain(w, d, ["spiking", "lif", "montbrio"], spk=SMALL)
    with pytest.raises(ValueError, match="share one mean-field level"):
        build_brain(w, d, ["spiking", "wong_wang", "montbrio"], groups=[[1, 2]], spk=SMALL)
    with pytest.raises(ValueError, match="multiple of dt"):
        build_brain(w, d, ["spiking", "wong_wang", "montbrio"], spk=SMALL, t_ex=0.25, dt=0.1)


@pytest.fixture(scope="module")
def two_node():
    """node 0: detailed region -> node 1: MPR (C[1, 0] = 1), and back (C[0, 1] = 0.5);
    delays 3 ms, exchange every 1 ms (lag 3)."""
    w = np.array([[0.0, 0.5], [1.0, 0.0]], np.float32)
    d = np.array([[0.0, 3.0], [3.0, 0.0]], np.float32)
    b = build_brain(w, d, ["spiking", "montbrio"], spk=SMALL, mpr=MPRParams(tau=10.0), t_ex=1.0,
                    n_raster=SMALL.n_exc)
    return b, init_state(b, jax.random.key(1))


def _run(b, st, n_ex, stim_at=None, rate_in=0.0):
    stim = np.zeros((n_ex, b.n_units), np.float32)
    stim[:, 0] = rate_in
    if stim_at is not None:
        stim[stim_at:stim_at + 3, 0] = 2000.0   # a burst of connectome-source rate into node 0
    return simulate(b, st, n_ex, stim)


def test_delays_honoured_exactly(two_node):
    b, st = two_node
    m, lag = 4, 3
    assert int(b.lags[1, 0]) == lag
    _, base = _run(b, st, 20)
    _, pulse = _run(b, st, 20, stim_at=m)
    r0b, r0p = np.asarray(base.rate_hz[:, 0]), np.asarray(pulse.rate_hz[:, 0])
    r1b, r1p = np.asarray(base.rate_hz[:, 1]), np.asarray(pulse.rate_hz[:, 1])
    # the sender's exported rate first changes in interval m0 >= m (not before the stimulus)
    diff0 = np.nonzero(r0b != r0p)[0]
    assert len(diff0) and diff0[0] >= m
    m0 = int(diff0[0])
    assert r0p[m0:m0 + 3].sum() > r0b[m0:m0 + 3].sum() + 50
    # the receiver is bit-identical until interval m0 + lag - 1 and differs from m0 + lag on
    np.testing.assert_array_equal(r1b[:m0 + lag], r1p[:m0 + lag])
    assert r1p[m0 + lag] > r1b[m0 + lag]


def test_rate_to_poisson_drive_matches_shot_noise_mean(two_node):
    """No recurrence, no threshold: the mean membrane depolarisation equals the shot-noise
    mean (k_ext nu_bg + k_conn rate_in) w_ext tau_syn tau_m / C_m of the Poisson drive."""
    b, st = two_node
    lif = LIFParams(v_th=1e6)
    p = b.spk.replace(lif=lif)
    zero = jax.tree.map(jnp.zeros_like, b.spk_syn)
    b = b.replace(spk=p, spk_syn=zero, weights=jnp.zeros_like(b.weights))
    for rate_in in (0.0, 150.0):
        end, _ = _run(b, st, 20, rate_in=rate_in)
        end, _ = _run(b, end, 20, rate_in=rate_in)        # 40 ms, transient of tau_m + tau_syn
        v = np.asarray(end.spk.neurons.v)
        lam_khz = (p.k_ext * p.nu_bg + p.k_conn * rate_in) * 1e-3
        expected = lif.v_rest + lam_khz * p.w_ext * lif.tau_syn_ex * lif.tau_m / lif.c_m
        # stationary shot-noise variance of v (exponential PSC filtered by the membrane)
        var = (lam_khz * (p.w_ext / lif.c_m) ** 2 * (lif.tau_m * lif.tau_syn_ex) ** 2
               / (2 * (lif.tau_m + lif.tau_syn_ex)))
        sd_mean = np.sqrt(var / v.size)
        transient = (expected - lif.v_rest) * np.exp(-40.0 / lif.tau_m) * 3
        assert abs(v.mean() - expected) < 5 * sd_mean + transient, (rate_in, v.mean(), expected)
        np.testing.assert_allclose(v.std(), np.sqrt(var), rtol=0.3)


def test_spike_counts_become_rates(two_node):
    b, st = two_node
    _, rec = _run(b, st, 20)
    counts = np.asarray(rec.spike_counts[:, 0])
    raster_counts = np.asarray(rec.raster[:, 0]).sum(axis=(1, 2))
    np.testing.assert_array_equal(counts, raster_counts)
    assert counts.sum() > 0
    np.testing.assert_allclose(np.asarray(rec.rate_hz[:, 0]), counts / (SMALL.n_exc * b.t_ex) * 1e3,
                               rtol=1e-6)


def test_region_group_equals_its_members_when_symmetric():
    """Two Wong-Wang nodes with identical connections: one group unit = two units."""
    w = np.array([[0.0, 0.4, 0.4], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]], np.float32)
    d = np.array([[0.0, 4.0, 4.0], [4.0, 0.0, 0.0], [4.0, 0.0, 0.0]], np.float32)
    lv = ["spiking", "wong_wang", "wong_wang"]
    b1 = build_brain(w, d, lv, spk=SMALL, t_ex=1.0, g_ww=2.0)
    b2 = build_brain(w, d, lv, groups=[[1, 2]], spk=SMALL, t_ex=1.0, g_ww=2.0)
    assert (b1.n_units, b2.n_units) == (3, 2)
    _, r1 = simulate(b1, init_state(b1, jax.random.key(3)), 20)
    _, r2 = simulate(b2, init_state(b2, jax.random.key(3)), 20)
    np.testing.assert_allclose(np.asarray(r1.rate_hz[:, 0]), np.asarray(r2.rate_hz[:, 0]), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(r1.S[:, 1]), np.asarray(r2.S[:, 1]), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(r1.S[:, 2]), np.asarray(r2.S[:, 1]), rtol=1e-5)


