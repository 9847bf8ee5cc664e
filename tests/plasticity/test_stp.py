"""Tsodyks-Markram STP against the analytic steady state and REFERENCE.md figures."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain.plasticity import (STPParams, depressing, facilitating, steady_state_ratio,
                                 tsodyks_markram)


def train_releases(params, rate_hz, n_spikes, dt=0.5):
    """Release of each spike of a regular train (first spike at t = 0)."""
    period = int(round(1000.0 / rate_hz / dt))
    T = period * (n_spikes - 1) + 1
    spikes = np.zeros((T, 1), np.float32)
    spikes[::period] = 1.0

    def body(s, x):
        r, s = tsodyks_markram.update(params, s, x, dt)
        return s, r[0]

    _, rel = jax.lax.scan(body, tsodyks_markram.init(params, 1), jnp.asarray(spikes))
    return np.asarray(rel)[::period]


@pytest.mark.parametrize("rate,expect", [(5, 0.362), (10, 0.210), (20, 0.114), (70, 0.035)])
def test_depressing_steady_state(rate, expect):
    p = depressing()
    # 70 Hz: period 14.2857 ms is not on a 0.5 ms grid; use a grid that divides it
    dt = 1000.0 / rate / 20
    rel = train_releases(p, rate, 60, dt=dt)
    ratio = rel[-1] / rel[0]
    assert ratio == pytest.approx(float(steady_state_ratio(p.U, p.tau_d, 1000.0 / rate)), rel=1e-3)
    assert ratio == pytest.approx(expect, abs=1.5e-3)


def test_depressing_20hz_sequence():
    rel = train_releases(depressing(), 20, 4)
    np.testing.assert_allclose(rel / rel[0], [1.0, 0.53, 0.31, 0.21], atol=0.01)
    # hand computation of the second release: u = U, x = 1 - U exp(-50/800)
    assert rel[1] == pytest.approx(0.5 * (1 - 0.5 * math.exp(-50 / 800)), rel=1e-5)


def test_facilitating_20hz():
    p = facilitating()
    rel = train_releases(p, 20, 200)
    assert rel[0] == pytest.approx(p.U, rel=1e-6)
    assert rel[19] / rel[0] == pytest.approx(5.3, abs=0.05)       # after 1 s (20th spike)
    # analytic steady state: u* = U/(1-(1-U)F), x* = (1-D)/(1-(1-u*)D)
    F, D = math.exp(-50 / p.tau_f), math.exp(-50 / p.tau_d)
    u = p.U / (1 - (1 - p.U) * F)
    x = (1 - D) / (1 - (1 - u) * D)
    assert rel[-1] == pytest.approx(u * x, rel=1e-4)


def test_no_spike_no_release_and_recovery():
    p = STPParams(U=0.5, tau_d=100.0, tau_f=0.0)
    s = tsodyks_markram.init(p, 3)
    r, s = tsodyks_markram.update(p, s, jnp.array([1.0, 0.0, 1.0]), 1.0)
    np.testing.assert_allclose(np.asarray(r), [0.5, 0.0, 0.5])
    s, _ = jax.lax.scan(lambda s, _: (tsodyks_markram.update(p, s, jnp.zeros(3), 1.0)[1], None),
                        s, None, length=1000)
    np.testing.assert_allclose(np.asarray(s.x), 1.0, atol=1e-4)
