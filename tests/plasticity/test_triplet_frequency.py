"""Pairing-frequency experiment (Sjostrom et al. 2001; Pfister & Gerstner 2006 Fig. 4A;
REFERENCE.md): 60 pairings at +-10 ms, rho = 1..50 Hz."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain.plasticity import (PairSTDPParams, pair_stdp, pairing_protocol, run_rule,
                                 triplet_params, triplet_stdp)

RHOS = (1, 5, 10, 20, 40, 50)
DT = 1.0


def frequency_curve(rule, params, deltas=(10.0, -10.0), rhos=RHOS):
    """dw after 60 pairings for each (delta, rho), all protocols padded and run in one vmap."""
    conds = list(itertools.product(deltas, rhos))
    T = max(len(pairing_protocol(60, r, d, DT)[0]) for d, r in conds)
    pre, post = zip(*(pairing_protocol(60, r, d, DT, n_steps=T) for d, r in conds))
    run = jax.jit(jax.vmap(lambda a, b: run_rule(rule, params, a, b, jnp.zeros((1, 1)), DT)[0, 0]))
    dw = np.asarray(run(jnp.asarray(np.stack(pre)), jnp.asarray(np.stack(post))))
    return dw.reshape(len(deltas), len(rhos))


@pytest.mark.parametrize("name", ["visual_all_to_all", "visual_nearest"])
def test_triplet_reproduces_frequency_dependence(name):
    dw = frequency_curve(triplet_stdp, triplet_params(name))
    plus, minus = dw
    assert abs(plus[0]) < 1e-3                     # no change at 1 Hz for +10 ms
    assert np.all(np.diff(plus) > 0)               # potentiation grows with frequency
    assert plus[-1] > 0.3                          # and is large at 50 Hz (~+70%)
    assert minus[0] < -0.1                         # -10 ms: depression at low frequency
    assert minus[-1] > 0.1                         # ... turns into potentiation at 50 Hz
    assert minus[-1] > minus[0] and minus[-2] > minus[0]


def test_pair_rule_cannot_reproduce_it():
    """For every pair rule on a grid of amplitudes and time constants, the +10 ms change at
    50 Hz is at most a few times the change at 1 Hz (bounded by 1/(1-exp(-20/tau_plus))),
    whereas the triplet rule turns a ~0 change at 1 Hz into a large potentiation."""
    grid = list(itertools.product([1e-5, 1e-4, 1e-3, 1e-2], [1e-5, 1e-4, 1e-3, 1e-2],
                                  [10.0, 16.8, 40.0, 100.0], [20.0, 33.7]))
    params = PairSTDPParams(a_plus=jnp.array([g[0] for g in grid]),
                            a_minus=jnp.array([g[1] for g in grid]),
                            tau_plus=jnp.array([g[2] for g in grid]),
                            tau_minus=jnp.array([g[3] for g in grid]),
                            w_min=-jnp.inf, w_max=jnp.inf)
    pre1, post1 = pairing_protocol(60, 1, 10.0, DT)
    pre50, post50 = pairing_protocol(60, 50, 10.0, DT)

    def dw(p, pre, post):
        return run_rule(pair_stdp, p, pre, post, jnp.zeros((1, 1)), DT)[0, 0]

    axes = PairSTDPParams(a_plus=0, a_minus=0, tau_plus=0, tau_minus=0, w_min=None, w_max=None,
                          mu_plus=None, mu_minus=None)
    dw1 = np.asarray(jax.jit(jax.vmap(dw, in_axes=(axes, None, None)))(params, pre1, post1))
    dw50 = np.asarray(jax.jit(jax.vmap(dw, in_axes=(axes, None, None)))(params, pre50, post50))
    ratio = dw50 / np.maximum(np.abs(dw1), 1e-12)
    tau_p = np.array([g[2] for g in grid])
    assert np.all(ratio <= 1.0 / (1.0 - np.exp(-20.0 / tau_p)) + 1e-3)
    assert ratio.max() < 10.0
    tri = frequency_curve(triplet_stdp, triplet_params("visual_all_to_all"), deltas=(10.0,),
                          rhos=(1, 50))[0]
    assert tri[1] / abs(tri[0]) > 1000.0
