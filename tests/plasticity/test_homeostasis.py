import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain.plasticity import (TargetRateParams, ThresholdParams, adaptive_threshold,
                                 normalize_weights, target_rate_threshold)
from jaxbrain.rng import uniform


def test_adaptive_threshold_hand_example():
    p = ThresholdParams(theta_plus=0.05, tau_theta=100.0)
    th = adaptive_threshold.init(p, 2)
    th = adaptive_threshold.update(p, th, jnp.array([1.0, 0.0]), 1.0)
    for _ in range(9):
        th = adaptive_threshold.update(p, th, jnp.zeros(2), 1.0)
    th = adaptive_threshold.update(p, th, jnp.array([1.0, 1.0]), 1.0)
    # spike at step 1 -> 0.05; ten decays of 1 ms; spike at step 11 adds 0.05
    assert float(th[0]) == pytest.approx(0.05 * math.exp(-10 / 100) + 0.05, rel=1e-5)
    assert float(th[1]) == pytest.approx(0.05)


def test_target_rate_converges_to_target():
    """A neuron whose rate falls with its threshold, 50 Hz * exp(-theta / 2 mV), settles at
    the target rate."""
    p = TargetRateParams(eta=0.5, target_rate=20.0)

    def body(th, t):
        rate = 50.0 * jnp.exp(-th / 2.0)
        s = (uniform(0, t) < rate * 1e-3).astype(jnp.float32)
        return target_rate_threshold.update(p, th, s, 1.0), rate[0]

    _, rates = jax.lax.scan(body, target_rate_threshold.init(p, 1), jnp.arange(40000))
    assert float(np.mean(np.asarray(rates[-10000:]))) == pytest.approx(20.0, rel=0.1)


def test_normalize_dense_and_list():
    w = jnp.asarray(np.random.default_rng(0).random((5, 3)), jnp.float32)
    wn = normalize_weights(w, 78.0)
    np.testing.assert_allclose(np.asarray(wn.sum(0)), 78.0, rtol=1e-5)
    pre, post = np.nonzero(np.ones((5, 3)))
    wl = normalize_weights(w[pre, post], 78.0, (jnp.asarray(pre), jnp.asarray(post)), n_post=3)
    np.testing.assert_allclose(np.asarray(wl), np.asarray(wn)[pre, post], rtol=1e-5)
    assert float(normalize_weights(jnp.zeros((2, 2)), 1.0).sum()) == 0.0
