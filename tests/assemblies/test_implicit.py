"""Statistics of the hashed NEMO connectivity (the seed's hash fails these; ours must pass)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxbrain import rng
from jaxbrain.assemblies import implicit


def _chi2_binomial(counts, k, p):
    """p-value of a chi-square test of integer samples against Binomial(k, p) (tail bins pooled)."""
    n = counts.size
    pmf = stats.binom.pmf(np.arange(k + 1), k, p)
    exp = n * pmf
    obs = np.bincount(counts.astype(int), minlength=k + 1)[:k + 1]
    keep = exp >= 5
    lo, hi = np.argmax(keep), len(keep) - np.argmax(keep[::-1]) - 1
    e = np.concatenate([[exp[:lo + 1].sum()], exp[lo + 1:hi], [exp[hi:].sum()]])
    o = np.concatenate([[obs[:lo + 1].sum()], obs[lo + 1:hi], [obs[hi:].sum()]])
    return stats.chisquare(o, e).pvalue


@pytest.mark.parametrize("law", implicit.LAWS)
def test_area_input_is_binomial(law):
    k, p, n = 200, 0.05, 50_000
    src = np.random.default_rng(0).choice(10**6, k, replace=False)
    x = np.asarray(jax.jit(lambda s: implicit.law_area_input(law, 7, 3, p, s, jnp.ones(k, bool), n))(src))
    assert _chi2_binomial(x, k, p) > 1e-3
    assert abs(x.mean() - k * p) < 4 * np.sqrt(k * p * (1 - p) / n)


def test_stimulus_counts_are_binomial():
    k, p, n = 300, 0.01, 200_000
    c = np.asarray(jax.jit(lambda: implicit.stim_counts(1, 2, k, p, n))())
    assert _chi2_binomial(c, k, p) > 1e-3


def test_pairwise_overlap_is_p_squared_n():
    p, n, pairs = 0.05, 20_000, 60
    j = jnp.arange(n)
    f = jax.jit(lambda i: implicit.connected(3, 9, p, i, j))
    ov = [int(jnp.sum(f(2 * t) & f(2 * t + 1))) for t in range(pairs)]
    # mean of `pairs` Binomial-ish overlaps ~ p^2 n with sd sqrt(p^2 n / pairs)
    assert abs(np.mean(ov) - p * p * n) < 5 * np.sqrt(p * p * n / pairs)


def test_no_periodicity_up_to_1e9():
    """conn(i, j) and conn(i, j + d) must be independent for d = 2**24 (the seed hash's period)
    and other large offsets, with j sampled up to 1e9."""
    p = 0.1
    j = np.random.default_rng(3).integers(0, 10**9, 200_000).astype(np.uint32)
    i = np.arange(j.size, dtype=np.uint32) % 1000
    base = np.asarray(implicit.connected(0, 1, p, i, j))
    for d in (2**24, 2**25 + 12345, 10**8, 2**30):
        other = np.asarray(implicit.connected(0, 1, p, i, j + np.uint32(d)))
        r = np.corrcoef(base, other)[0, 1]
        assert abs(r) < 0.02, (d, r)
    # the seed's hash (low 24 bits of a multiplicative hash) repeats exactly: the test can fail
    def seed_conn(i, j):
        h = (i.astype(np.uint64) * 2654435761 ^ j.astype(np.uint64) * 2246822519) & 0xFFFFFFFF
        return (h & 0xFFFFFF) < p * 2**24
    assert np.array_equal(seed_conn(i, j), seed_conn(i, j + np.uint32(2**24)))


def test_few_ties_at_kth_input():
    """At n = 1e6, k = 50 sources, p = 0.1 (the seed workload), the number of neurons tied at
    the k-th largest input must match an ideal Binomial (~tens to hundreds), not the seed's
    tens of thousands."""
    n, k, p = 10**6, 50, 0.1
    src = np.random.default_rng(4).choice(n, k, replace=False)
    x = np.asarray(jax.jit(lambda s: implicit.area_input(11, 5, p, s, jnp.ones(k, bool), n))(src))
    v = np.sort(x)[-k]
    ties = int(np.sum(x == v))
    exp = stats.binom.pmf(v, k, p) * n
    assert ties < 2000
    assert abs(ties - exp) < 6 * np.sqrt(exp) + 5, (ties, exp)


def test_seed_and_fibre_change_graph():
    j = jnp.arange(5000)
    a = np.asarray(implicit.connected(0, 1, 0.2, 5, j))
    b = np.asarray(implicit.connected(0, 2, 0.2, 5, j))
    c = np.asarray(implicit.connected(1, 1, 0.2, 5, j))
    assert 0.1 < a.mean() < 0.3
    assert (a != b).mean() > 0.2 and (a != c).mean() > 0.2


def test_area_input_loop_equals_fused():
    src = jnp.asarray([3, 17, 99, 1000, 4095, 2**31 - 1], jnp.int32)
    valid = jnp.asarray([True, True, True, True, True, False])
    a = implicit.area_input(5, 9, 0.1, src, valid, 5000, method="loop")
    b = implicit.area_input(5, 9, 0.1, src, valid, 5000, method="fused")
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert float(a.sum()) > 0
    with pytest.raises(ValueError, match="method"):
        implicit.area_input(5, 9, 0.1, src, valid, 10, method="dense")


# ---- block law (implicit.block_*) -------------------------------------------------------

def test_block_rank_is_a_bijection_with_its_inverse():
    for bits in (3, 8, implicit.BLOCK_BITS):
        r = jnp.arange(1 << bits, dtype=jnp.uint32)
        for key in (0, 1, 0xDEADBEEF):
            rk = np.asarray(implicit.block_rank(jnp.uint32(key), r, bits))
            assert np.array_equal(np.sort(rk), np.arange(1 << bits))
            back = implicit.block_position(jnp.uint32(key), jnp.asarray(rk), bits)
            assert np.array_equal(np.asarray(back), np.asarray(r))


def test_block_scatter_equals_pairwise_definition():
    """The generated targets (scatter) are exactly the pairs block_connected says exist."""
    k, p, n = 40, 0.1, 9_000            # n not a multiple of the block: the last one is cut
    src = np.random.default_rng(4).choice(10**7, k, replace=False)
    valid = jnp.arange(k) < 37
    sc = np.asarray(jax.jit(lambda s: implicit.block_area_input(5, 6, p, s, valid, n))(src))
    ga = np.asarray(jax.jit(lambda s: implicit.block_area_input(5, 6, p, s, valid, n,
                                                                 method="gather"))(src))
    pair = np.asarray(implicit.block_connected(5, 6, p, jnp.asarray(src[:37])[:, None],
                                               jnp.arange(n)[None, :])).sum(0)
    assert np.array_equal(sc, ga) and np.array_equal(sc, pair)
    # the law does not depend on n: a longer target range starts with the same counts
    longer = np.asarray(jax.jit(lambda s: implicit.block_area_input(5, 6, p, s, valid, 3 * n))(src))
    assert np.array_equal(longer[:n], sc)


def test_block_law_out_degree_right():
    p, n = 0.05, 50_000   # in-degree: test_area_input_is_binomial[block]
    # out-degree of one source over n targets ~ Binomial(n, p)
    out = [int(jnp.sum(implicit.block_connected(7, 3, p, i, jnp.arange(n)))) for i in range(30)]
    assert abs(np.mean(out) - n * p) < 5 * np.sqrt(n * p * (1 - p) / 30)


def test_block_law_overlaps_and_within_block_pairs():
    """Two sources share ~p^2 n targets; two targets of one block share a source with
    probability p^2 (an identity 'permutation' would make neighbours co-connected ~always)."""
    p, n, pairs = 0.05, 20_000, 60
    j = jnp.arange(n)
    f = jax.jit(lambda i: implicit.block_connected(3, 9, p, i, j))
    ov = [int(jnp.sum(f(2 * t) & f(2 * t + 1))) for t in range(pairs)]
    assert abs(np.mean(ov) - p * p * n) < 5 * np.sqrt(p * p * n / pairs)
    rng_ = np.random.default_rng(1)
    m = 200_000
    i = jnp.asarray(rng_.integers(0, 10**6, m))
    b = rng_.integers(0, 1000, m) << implicit.BLOCK_BITS
    for d in (1, 2, 64, 2049):         # neighbours, and far apart inside the block
        r = rng_.integers(0, (1 << implicit.BLOCK_BITS) - d, m)
        c1 = implicit.block_connected(3, 9, p, i, jnp.asarray(b + r))
        c2 = implicit.block_connected(3, 9, p, i, jnp.asarray(b + r + d))
        both = float(jnp.mean(c1 & c2))
        assert abs(both - p * p) < 5 * np.sqrt(p * p / m), (d, both)
    r = rng_.integers(0, (1 << implicit.BLOCK_BITS) - 1, m)    # control: no permutation
    c = p * (1 << implicit.BLOCK_BITS)
    assert np.mean((r < c) & (r + 1 < c)) > 10 * p * p
