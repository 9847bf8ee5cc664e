"""k-cap: exact top-k with ties to the lower index, for both methods."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain.assemblies import kcap


def _ref(x, k):
    return np.sort(np.lexsort((np.arange(x.size), -x))[:k])


@pytest.mark.parametrize("case", ["binomial", "learned", "all_equal", "big_tie"])
def test_threshold_and_top_k_match_reference(case):
    rng = np.random.default_rng(0)
    n, k = 100_000, 200
    x = rng.binomial(50, 0.1, n).astype(np.float32)
    if case == "learned":
        x[rng.integers(0, n, 500)] += rng.random(500).astype(np.float32) * 4
    elif case == "all_equal":
        x[:] = 2.0
    elif case == "big_tie":
        x = np.minimum(x, 5.0)   # tens of thousands tied at the k-th value
        x[rng.integers(0, n, 50)] += 0.25
    ref = _ref(x, k)
    thr = np.asarray(jax.jit(kcap.k_cap_threshold, static_argnums=1)(jnp.asarray(x), k))
    top = np.asarray(jax.jit(kcap.k_cap_top_k, static_argnums=1)(jnp.asarray(x), k))
    blk = np.asarray(jax.jit(kcap.k_cap_blocks, static_argnums=1)(jnp.asarray(x), k))
    assert np.array_equal(thr, ref)
    assert np.array_equal(top, ref)
    assert np.array_equal(blk, ref)


def test_k_cap_validates():
    with pytest.raises(ValueError, match="k=0"):
        kcap.k_cap(jnp.zeros(10), 0)
    with pytest.raises(ValueError, match="method"):
        kcap.k_cap(jnp.zeros(10), 2, "bogus")


def test_threshold_negative_zero_and_random_floats():
    rng = np.random.default_rng(1)
    for x, ks in [(rng.standard_normal(5000).astype(np.float32), (1, 50)),
                  (np.array([0.0, -0.0, -1.0, 3.0, -0.0, 0.0, 2.0, -5.0], np.float32), (5, 8))]:
        for k in ks:
            got = np.asarray(jax.jit(kcap.k_cap_threshold, static_argnums=1)(jnp.asarray(x), k))
            assert np.array_equal(got, _ref(x, k)), (x[:8], k, got)


def test_threshold_is_branch_free_and_vmaps():
    """No cond / while in the traced k-cap (no host sync on GPU); vmap gives per-row results."""
    jaxpr = str(jax.make_jaxpr(lambda x: kcap.k_cap_threshold(x, 10))(jnp.zeros(1000)))
    assert "cond" not in jaxpr and "while" not in jaxpr
    rng = np.random.default_rng(2)
    xs = rng.binomial(30, 0.1, (3, 2000)).astype(np.float32)
    got = np.asarray(jax.vmap(lambda x: kcap.k_cap_threshold(x, 25))(jnp.asarray(xs)))
    for row, g in zip(xs, got):
        assert np.array_equal(g, _ref(row, 25))


def test_blocks_exact_on_adversarial_layouts():
    """Winners packed into one block, ties across many blocks, -0.0, n not a multiple of the
    block, -inf entries (the padding value), under vmap; against the lexsort reference."""
    rng = np.random.default_rng(3)
    n, k = 10_007, 50
    cases = [np.zeros(n, np.float32), rng.binomial(20, 0.1, n).astype(np.float32)]
    packed = np.zeros(n, np.float32)
    packed[4000:4000 + 2 * k] = 7.0                      # all winners in one or two blocks
    cases.append(packed)
    neg = rng.standard_normal(n).astype(np.float32)
    neg[rng.integers(0, n, 300)] = -0.0
    neg[rng.integers(0, n, 300)] = 0.0
    neg[-5:] = -np.inf
    cases.append(-np.abs(neg))
    for x in cases:
        for block in (8, 16, 64, None):
            got = np.asarray(kcap.k_cap_blocks(jnp.asarray(x), k, block))
            assert np.array_equal(got, _ref(x, k)), block
    tail = np.full(n, -np.inf, np.float32)
    tail[:3] = 1.0
    assert np.array_equal(np.asarray(kcap.k_cap_blocks(jnp.asarray(tail), k, 8)), _ref(tail, k))
    xs = jnp.asarray(np.stack(cases[:3]))
    got = np.asarray(jax.vmap(lambda r: kcap.k_cap(r, k, "blocks"))(xs))
    for row, g in zip(np.asarray(xs), got):
        assert np.array_equal(g, _ref(row, k))


@pytest.mark.parametrize("n,k", [(7, 3), (300, 50), (2098, 50)])
def test_rank_equals_top_k_with_ties(n, k):
    rng = np.random.default_rng(n)
    x = jnp.asarray(rng.integers(0, 5, n).astype(np.float32))       # many ties
    x = x.at[:3].set(-jnp.inf)
    np.testing.assert_array_equal(np.asarray(kcap.k_cap_rank(x, k)), np.asarray(kcap.k_cap_top_k(x, k)))
    np.testing.assert_array_equal(np.asarray(kcap.k_cap(x, k, "rank")), np.asarray(kcap.k_cap(x, k, "top_k")))
