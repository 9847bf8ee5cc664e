"""All propagation implementations deliver the same input, with and without delays."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain import connectivity as cx
from jaxbrain import propagation as pg
from jaxbrain.delays import ring_init

RNG = np.random.default_rng(0)


def _all_impls(conn, spikes, impls, cap=8):
    f = jax.jit(pg.propagate)
    return {i: np.asarray(f(pg.build(conn, i, cap=cap), jnp.asarray(spikes))) for i in impls}


@pytest.fixture(params=["top_k", "nonzero"])
def compaction(request, monkeypatch):
    """Run a test with each way of listing the active sources (CPU default / GPU default)."""
    monkeypatch.setitem(pg.COMPACTION, "method", request.param)
    return request.param


@pytest.mark.parametrize("frac", [0.0, 0.01, 0.3, 1.0])
def test_impls_agree_at_all_activity_levels(frac, compaction):
    conn = cx.fixed_prob(400, 300, 0.1, seed=2, weight=cx.WeightLaw("normal", 1.0, 0.2))
    spikes = (RNG.random(400) < frac).astype(np.float32)
    out = _all_impls(conn, spikes, ["dense", "segment_sum", "event", "procedural", "switch"])
    expected = spikes @ np.asarray(cx.to_dense(cx.materialize(conn)))
    for impl, v in out.items():
        np.testing.assert_allclose(v, expected, rtol=1e-5, atol=1e-4, err_msg=impl)


def test_graded_spikes_and_heterogeneous_delays(compaction):
    conn = cx.fixed_prob(300, 200, 0.1, seed=4, weight=cx.WeightLaw("normal", 1.0, 0.2),
                         delay=cx.DelayLaw("normal", 1.0, 0.5))
    spikes = RNG.poisson(0.5, 300).astype(np.float32)
    rings = {}
    for impl in ("segment_sum", "event", "procedural", "switch"):
        syn = pg.build(conn, impl, cap=16)
        ring = jax.jit(pg.deliver)(syn, jnp.asarray(spikes), ring_init(200, syn.max_delay), jnp.asarray(0))
        rings[impl] = np.asarray(ring.buf)
    pre, post, w, d = cx.to_coo(cx.materialize(conn))
    expected = np.zeros_like(rings["event"])
    np.add.at(expected, (d % expected.shape[0], post), w * spikes[pre])
    for impl, buf in rings.items():
        np.testing.assert_allclose(buf, expected, rtol=1e-5, atol=1e-4, err_msg=impl)


def test_pull_equals_push_for_fixed_indegree():
    conn = cx.fixed_indegree(500, 300, 30, seed=1, weight=cx.WeightLaw("normal", 1.0, 0.1))
    spikes = (RNG.random(500) < 0.2).astype(np.float32)
    out = _all_impls(conn, spikes, ["pull", "event", "segment_sum", "dense"])
    for impl, v in out.items():
        np.testing.assert_allclose(v, out["dense"], rtol=1e-5, atol=1e-4, err_msg=impl)


def test_vmap_over_batch_equals_loop():
    conn = cx.fixed_prob(300, 200, 0.1, seed=3)
    syn = pg.build(conn, "procedural", cap=8)
    batch = jnp.asarray((RNG.random((4, 300)) < 0.05).astype(np.float32))
    vm = jax.jit(jax.vmap(pg.propagate, in_axes=(None, 0)))(syn, batch)
    one = jax.jit(pg.propagate)
    for b in range(4):
        np.testing.assert_allclose(np.asarray(vm[b]), np.asarray(one(syn, batch[b])), atol=1e-5)


def test_choose_impl_by_regime():
    small_dense = cx.fixed_prob(200, 200, 0.5)
    assert pg.choose_impl(small_dense, batch=64, rate_hz=200.0) == "dense"
    sparse = cx.fixed_prob(100_000, 100_000, 0.001)
    assert pg.choose_impl(sparse, rate_hz=5.0) == "event"
    huge = cx.fixed_prob(4_000_000, 4_000_000, 0.0001)
    assert pg.choose_impl(huge) == "procedural"
    assert pg.choose_impl(cx.fixed_indegree(4_000_000, 4_000_000, 1000)) == "pull"


def test_bad_impl_and_shape_are_refused():
    conn = cx.fixed_prob(10, 10, 0.5)
    with pytest.raises(ValueError, match="allowed"):
        pg.build(conn, "magic")
    with pytest.raises(ValueError, match="fixed_indegree"):
        pg.build(conn, "pull")
    with pytest.raises(ValueError, match="expected"):
        pg.propagate(pg.build(conn, "event"), jnp.zeros(11))


def test_switch_threshold_and_both_branches_are_exact():
    """The per-step switch sends 1 % activity to the event path and 50 % to segment_sum
    (its predicate is the active count against ``switch_at``); both give the exact input."""
    conn = cx.fixed_prob(1000, 200, 0.05, seed=7)
    syn = pg.build(conn, "switch")
    assert syn.switch_at == int(pg.SWITCH_FRACTION * 1000)
    w = np.asarray(cx.to_dense(cx.materialize(conn)))
    for frac, sparse in ((0.01, True), (0.5, False)):
        spikes = jnp.asarray((RNG.random(1000) < frac).astype(np.float32))
        assert bool(jnp.count_nonzero(spikes) <= syn.switch_at) == sparse
        np.testing.assert_allclose(np.asarray(jax.jit(pg.propagate)(syn, spikes)), np.asarray(spikes) @ w,
                                   rtol=1e-5, atol=1e-4)
