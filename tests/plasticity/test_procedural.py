"""Plastic weights on procedural connectivity agree with the same rule on the materialised
dense matrix, and store only the synapses that changed."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain import sparse_delta as sd
from jaxbrain.connectivity import WeightLaw, fixed_prob, materialize, to_dense
from jaxbrain.plasticity import additive_stdp, pair_stdp, triplet_params, triplet_stdp
from jaxbrain.plasticity.procedural import effective_weights, plastic_step, procedural_drive
from jaxbrain.plasticity.traces import outer

N_PRE, N_POST, T, DT = 40, 30, 120, 1.0


def trains(seed, rate_pre=0.03, rate_post=0.03):
    r = np.random.default_rng(seed)
    return ((r.random((T, N_PRE)) < rate_pre).astype(np.float32),
            (r.random((T, N_POST)) < rate_post).astype(np.float32))


@pytest.mark.parametrize("rule,params", [
    (pair_stdp, additive_stdp(a_plus=0.01, a_minus=0.012, w_min=-5.0, w_max=5.0)),
    pytest.param(triplet_stdp, triplet_params("visual_all_to_all", w_min=-5.0, w_max=5.0),
                 marks=pytest.mark.slow),
])
def test_procedural_matches_dense(rule, params):
    conn = fixed_prob(N_PRE, N_POST, 0.2, seed=3, weight=WeightLaw("normal", 0.5, 0.1))
    base = to_dense(materialize(conn))
    mask = np.asarray(base != 0)
    pre, post = trains(0)
    store = sd.init(4096)

    def body(carry, xs):
        st, store = carry
        st, store, stats = plastic_step(rule, params, st, store, conn, xs[0], xs[1], DT,
                                        cap_pre=N_PRE, cap_recent=N_PRE, eps=0.0)
        return (st, store), stats

    (_, store), stats = jax.jit(lambda s0, st0: jax.lax.scan(body, (s0, st0), (pre, post)))(
        rule.init(params, N_PRE, N_POST), store)
    assert int(stats.pre_overflow.sum()) == 0 and int(store.dropped) == 0

    # dense reference: the same rule, changes masked to existing synapses
    def dbody(carry, xs):
        w, st = carry
        f, st = rule.factors(params, st, xs[0], xs[1], DT)
        dw = outer(f.pot_pre, f.pot_post) - outer(f.dep_pre, f.dep_post)
        w = jnp.where(mask, jnp.clip(w + dw, params.w_min, params.w_max), w)
        return (w, st), None

    (w_ref, _), _ = jax.lax.scan(dbody, (base, rule.init(params, N_PRE, N_POST)), (pre, post))
    w_proc = effective_weights(base, store)
    np.testing.assert_allclose(np.asarray(w_proc), np.asarray(w_ref), rtol=1e-5, atol=1e-6)
    changed = int(np.sum(np.asarray(w_ref) != np.asarray(base)))
    _, _, delta = sd.to_numpy(store)
    assert int(np.sum(delta != 0)) == changed                 # memory = changed synapses only
    assert int(store.size) - changed <= 0.05 * changed        # (+ updates below float resolution)
    assert changed < mask.sum()                               # sparse activity: not all synapses
    # read-back: procedural drive = dense (base + delta) for a spike vector
    s = jnp.asarray(pre[5] + pre[6] > 0, jnp.float32)
    np.testing.assert_allclose(np.asarray(procedural_drive(conn, store, s, cap_pre=N_PRE)),
                               np.asarray(s @ w_proc), rtol=1e-5, atol=1e-5)


def test_overflow_is_counted():
    conn = fixed_prob(N_PRE, N_POST, 0.2, seed=1)
    p = additive_stdp(w_min=-5.0, w_max=5.0)
    st = pair_stdp.init(p, N_PRE, N_POST)
    pre = jnp.ones((N_PRE,))
    step = jax.jit(lambda st, store: plastic_step(pair_stdp, p, st, store, conn, pre,
                                                  jnp.ones((N_POST,)), DT, cap_pre=10, cap_recent=10))
    _, _, stats = step(st, sd.init(64))
    assert int(stats.pre_overflow) == N_PRE - 10


def test_pull_form_is_refused():
    from jaxbrain.connectivity import fixed_indegree
    p = additive_stdp()
    with pytest.raises(ValueError, match="push-form"):
        plastic_step(pair_stdp, p, pair_stdp.init(p, 5, 5), sd.init(8), fixed_indegree(5, 5, 2),
                     jnp.zeros(5), jnp.zeros(5), DT, 5, 5)
