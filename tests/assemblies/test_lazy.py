"""Lazy (sparse) mode: brain.py's binomial-tail sampling, n-independent cost, agreement with
the implicit mode on the same operations."""

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from jaxbrain.assemblies import brain as B
from jaxbrain.assemblies import lazy as Lz

K, P, BETA, STEPS = 100, 0.05, 0.1, 12


def _spec(n):
    return B.BrainSpec(areas=(B.Area("A", n, K, BETA),), stimuli=(B.Stimulus("stim", K),), p=P,
                       fibres=(B.Fibre("stim", "A"), B.Fibre("A", "A")), store_capacity=2**14)


def _run(brain):
    brain.project({"stim": ["A"]})
    w, new = [brain.support("A")], [brain.num_new("A")]
    for _ in range(STEPS):
        brain.project({"stim": ["A"]}, {"A": ["A"]})
        w.append(brain.support("A"))
        new.append(brain.num_new("A"))
    return np.array(w), np.array(new)


def test_tail_threshold_matches_scipy_and_draws_are_in_the_tail():
    total, k, eff_n = 300, 100, 10**6 - 500
    u = jnp.linspace(0.001, 0.999, k)
    x, alpha = Lz._tail_sample(total, jnp.int32(total), P, jnp.int32(eff_n), k, u)
    assert int(alpha) == int(stats.binom.ppf((eff_n - k) / eff_n, total, P))
    assert np.all(np.asarray(x) >= int(alpha))
    # the draws follow Binomial conditioned on X >= alpha: compare the mean
    xs = np.arange(int(alpha), total + 1)
    pm = stats.binom.pmf(xs, total, P)
    assert abs(np.mean(np.asarray(x)) - (xs * pm).sum() / pm.sum()) < 0.5


def test_lazy_and_implicit_agree_on_projection():
    wl, nl = _run(Lz.LazyBrain(_spec(100_000), 1024))
    wi, ni = _run(B.Brain(_spec(100_000)))
    assert nl[0] == ni[0] == K                       # the first projection is all new
    assert nl[-3:].max() <= 2 and ni[-3:].max() <= 2  # both converge
    ratio = wl[-1] / wi[-1]
    assert 0.7 < ratio < 1.5, (wl, wi)               # to a support of the same size


def test_lazy_runs_at_1e9_with_memory_independent_of_n():
    small = Lz.LazyBrain(_spec(100_000), 1024)
    big = Lz.LazyBrain(_spec(10**9), 1024)
    size = lambda s: sum(x.nbytes for x in jax.tree_util.tree_leaves(s))
    assert size(small.state) == size(big.state)
    w, new = _run(big)
    assert w[0] == K and new[-3:].max() <= 2 and big.overflow("A") == 0
    assert K < w[-1] < 10 * K


def test_source_choice_is_the_same_by_sort_and_by_rank():
    """Step 5 (which firing sources feed a new winner): distinct keys, so the CPU's sort and
    the GPU's pairwise ranks choose the same x sources per row, exactly x of the valid ones."""
    ok = jnp.arange(100) < 83
    keys = Lz._source_keys(3, jnp.uint32(7), 1, 50, 100, ok)
    x = jnp.asarray(np.random.default_rng(0).integers(0, 84, 50), jnp.int32)
    a = Lz._choose_smallest(keys, x, by_rank=False)
    b = Lz._choose_smallest(keys, x, by_rank=True)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(np.asarray(a.sum(1)), np.asarray(x))
    assert not bool(jnp.any(a[:, 83:]))
