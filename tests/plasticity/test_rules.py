"""Each rule against a hand-computed spike-by-spike example, dense vs synapse-list agreement,
and window accumulation vs step-by-step updates."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain.plasticity import (DiehlCookParams, PairSTDPParams, RewardSTDPParams, accumulate,
                                 additive_stdp, check_projection, diehl_cook_stdp,
                                 multiplicative_stdp, pair_stdp, reward_stdp, run_rule,
                                 triplet_params, triplet_stdp)

DT = 1.0


def trains(T, pre_times, post_times):
    pre = np.zeros((T, 1), np.float32)
    post = np.zeros((T, 1), np.float32)
    pre[list(pre_times), 0] = 1
    post[list(post_times), 0] = 1
    return pre, post


def test_pair_additive_hand_example():
    p = additive_stdp(a_plus=0.01, a_minus=0.012, tau_plus=17.0, tau_minus=34.0)
    pre, post = trains(40, [10, 25], [20])
    w = run_rule(pair_stdp, p, pre, post, jnp.full((1, 1), 0.5), DT)
    expect = 0.5 + 0.01 * math.exp(-10 / 17) - 0.012 * math.exp(-5 / 34)
    assert float(w[0, 0]) == pytest.approx(expect, rel=1e-6)


def test_pair_hard_bounds_clip():
    p = additive_stdp(a_plus=0.3, a_minus=0.3)
    pre, post = trains(40, [0, 2, 4], [1, 3, 5])
    w = run_rule(pair_stdp, p, pre, post, jnp.full((1, 1), 0.9), DT)
    assert 0.0 <= float(w[0, 0]) <= 1.0
    # potentiation-only train from 0.9 must saturate at w_max exactly
    pre, post = trains(40, [0], [1, 2, 3])
    w = run_rule(pair_stdp, p, pre, post, jnp.full((1, 1), 0.9), DT)
    assert float(w[0, 0]) == pytest.approx(1.0)


def test_pair_multiplicative_hand_example():
    p = multiplicative_stdp(a_plus=0.1, a_minus=0.2, tau_plus=20.0, tau_minus=20.0)
    pre, post = trains(30, [0, 15], [5])
    w = run_rule(pair_stdp, p, pre, post, jnp.full((1, 1), 0.4), DT)
    w1 = 0.4 + (1 - 0.4) * 0.1 * math.exp(-5 / 20)
    w2 = w1 - w1 * 0.2 * math.exp(-10 / 20)
    assert float(w[0, 0]) == pytest.approx(w2, rel=1e-6)


@pytest.mark.parametrize("name", ["visual_all_to_all", "visual_nearest"])
def test_triplet_hand_example(name):
    p = triplet_params(name)
    pre, post = trains(40, [0, 30], [10, 20])
    w = run_rule(triplet_stdp, p, pre, post, jnp.zeros((1, 1)), DT)
    tp, tm, tx, ty = p.tau_plus, p.tau_minus, p.tau_x, p.tau_y
    nearest = name.endswith("nearest")
    dw_post10 = math.exp(-10 / tp) * (p.a2_plus + 0.0)
    dw_post20 = math.exp(-20 / tp) * (p.a2_plus + p.a3_plus * math.exp(-10 / ty))
    o1 = math.exp(-10 / tm) if nearest else math.exp(-10 / tm) + math.exp(-20 / tm)
    dw_pre30 = -o1 * (p.a2_minus + p.a3_minus * math.exp(-30 / tx))
    assert float(w[0, 0]) == pytest.approx(dw_post10 + dw_post20 + dw_pre30, rel=1e-5)


def test_triplet_published_sets_and_bad_name():
    p = triplet_params("hippocampal_nearest")
    assert p.nearest and p.tau_x == 575.0 and p.a3_minus == 7.5e-9
    with pytest.raises(ValueError, match="allowed"):
        triplet_params("cortex")


def test_diehl_cook_hand_example():
    p = DiehlCookParams()
    pre, post = trains(40, [0, 8], [5, 15])
    w = run_rule(diehl_cook_stdp, p, pre, post, jnp.full((1, 1), 0.5), DT)
    # post at 5: post2_before = 0 -> no change; pre at 8: -nu_pre * post1 (set to 1 at 5)
    w1 = 0.5 - p.nu_pre * math.exp(-3 / 20)
    # post at 15: nu_post * x_pre (set to 1 at 8) * post2_before (set to 1 at 5)
    w2 = w1 + p.nu_post * math.exp(-7 / 20) * math.exp(-10 / 40)
    assert float(w[0, 0]) == pytest.approx(w2, rel=1e-6)


def test_reward_hand_example():
    p = RewardSTDPParams(a_plus=1.0, a_minus=1.5, tau_plus=20.0, tau_minus=20.0, tau_c=1000.0,
                         tau_d=200.0, lr=0.01, w_min=-10.0, w_max=10.0)
    T = 61
    pre, post = trains(T, [0], [10])
    reward = np.zeros(T, np.float32)
    reward[50] = 1.0
    state = reward_stdp.init(p, 1, 1)

    def body(carry, xs):
        w, s = carry
        dw, s = reward_stdp.update(p, s, xs[0], xs[1], w, DT, reward=xs[2])
        return (w + dw, s), w + dw

    (w, _), ws = jax.lax.scan(body, (jnp.zeros((1, 1)), state), (pre, post, reward))
    assert np.all(np.asarray(ws[:50]) == 0.0)  # no dopamine, no change
    c50 = math.exp(-10 / 20) * math.exp(-40 / 1000)
    expect = sum(0.01 * DT * math.exp(-k / 200) * c50 * math.exp(-k / 1000) for k in range(11))
    assert float(w[0, 0]) == pytest.approx(expect, rel=1e-5)


def random_trains(seed, T, n, rate):
    return (np.random.default_rng(seed).random((T, n)) < rate).astype(np.float32)


@pytest.mark.parametrize("rule,params", [
    (pair_stdp, multiplicative_stdp()),
    (triplet_stdp, triplet_params("visual_all_to_all", w_min=0.0, w_max=1.0)),
    (diehl_cook_stdp, DiehlCookParams()),
])
def test_synapse_list_matches_dense(rule, params):
    n_pre, n_post, T = 5, 4, 200
    pre, post = random_trains(0, T, n_pre, 0.05), random_trains(1, T, n_post, 0.05)
    w0 = jnp.asarray(np.random.default_rng(2).random((n_pre, n_post)), jnp.float32)
    w_dense = run_rule(rule, params, pre, post, w0, DT)
    pre_idx, post_idx = np.nonzero(np.ones((n_pre, n_post)))
    syn = (jnp.asarray(pre_idx), jnp.asarray(post_idx))
    check_projection(w0[pre_idx, post_idx], n_pre, n_post, syn)

    def body(carry, xs):
        w, s = carry
        dw, s = rule.update(params, s, xs[0], xs[1], w, DT, syn)
        return (w + dw, s), None

    (w, _), _ = jax.lax.scan(body, (w0[pre_idx, post_idx], rule.init(params, n_pre, n_post)),
                             (jnp.asarray(pre), jnp.asarray(post)))
    np.testing.assert_allclose(np.asarray(w), np.asarray(w_dense)[pre_idx, post_idx], rtol=1e-5,
                               atol=1e-6)


def test_accumulate_equals_online_sum_when_unbounded():
    p = triplet_params("visual_all_to_all")
    n_pre, n_post, T = 6, 3, 300
    pre, post = random_trains(3, T, n_pre, 0.04), random_trains(4, T, n_post, 0.04)
    w_online = run_rule(triplet_stdp, p, pre, post, jnp.zeros((n_pre, n_post)), DT)
    pot, dep, _ = accumulate(triplet_stdp, p, triplet_stdp.init(p, n_pre, n_post),
                             jnp.asarray(pre), jnp.asarray(post), DT)
    np.testing.assert_allclose(np.asarray(pot - dep), np.asarray(w_online), rtol=1e-4, atol=1e-7)


def test_check_projection_errors():
    with pytest.raises(ValueError, match="shape"):
        check_projection(jnp.zeros((3, 2)), 2, 3)
    with pytest.raises(ValueError, match="integers"):
        check_projection(jnp.zeros(2), 2, 2, (jnp.zeros(2), jnp.zeros(2)))


def test_rules_vmap_over_batch():
    p = PairSTDPParams()
    pre, post = random_trains(5, 50, 3, 0.1), random_trains(6, 50, 2, 0.1)
    w0 = jnp.full((4, 3, 2), 0.5)
    batched = jax.vmap(lambda w: run_rule(pair_stdp, p, pre, post, w, DT))(w0)
    single = run_rule(pair_stdp, p, pre, post, w0[0], DT)
    np.testing.assert_allclose(np.asarray(batched[2]), np.asarray(single), rtol=1e-6)


def test_reward_synapse_list_matches_dense():
    p = RewardSTDPParams(lr=0.05, w_min=-10.0, w_max=10.0)
    n_pre, n_post, T = 4, 3, 80
    pre, post = random_trains(7, T, n_pre, 0.08), random_trains(8, T, n_post, 0.08)
    reward = (np.arange(T) % 20 == 19).astype(np.float32)
    pre_idx, post_idx = np.nonzero(np.ones((n_pre, n_post)))
    syn = (jnp.asarray(pre_idx), jnp.asarray(post_idx))

    def run(w0, state, synapses):
        def body(carry, xs):
            w, s = carry
            dw, s = reward_stdp.update(p, s, xs[0], xs[1], w, DT, synapses, reward=xs[2])
            return (w + dw, s), None
        return jax.lax.scan(body, (w0, state), (pre, post, reward))[0][0]

    w_dense = run(jnp.zeros((n_pre, n_post)), reward_stdp.init(p, n_pre, n_post), None)
    w_list = run(jnp.zeros(n_pre * n_post), reward_stdp.init(p, n_pre, n_post, n_syn=n_pre * n_post), syn)
    assert float(jnp.abs(w_dense).max()) > 0
    np.testing.assert_allclose(np.asarray(w_list), np.asarray(w_dense)[pre_idx, post_idx],
                               rtol=1e-5, atol=1e-7)
