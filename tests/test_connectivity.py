"""Connectivity: exact statistics, determinism across batch / chunking / implementation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxbrain import connectivity as cx
from jaxbrain import rng


def _dense_bool(conn):
    ell = cx.materialize(conn)
    return np.asarray(cx.to_dense(ell.replace(weights=jnp.ones_like(ell.weights)))) > 0


def test_fixed_prob_in_degree_is_binomial():
    n, p = 2000, 0.05
    conn = cx.fixed_prob(n, n, p, seed=3)
    pre, post, _, _ = cx.to_coo(cx.materialize(conn))
    indeg = np.bincount(post, minlength=n)
    outdeg = np.bincount(pre, minlength=n)
    for deg in (indeg, outdeg):
        assert abs(deg.mean() - n * p) < 4 * np.sqrt(n * p * (1 - p) / n)
        # exact Bernoulli: the variance is binomial (uniform-gap samplers give less)
        assert abs(deg.var() / (n * p * (1 - p)) - 1) < 0.12
    # chi-square of the in-degree histogram against Binomial(n, p)
    k = np.arange(indeg.min(), indeg.max() + 1)
    obs = np.array([(indeg == x).sum() for x in k])
    exp = stats.binom.pmf(k, n, p) * n
    mask = exp > 5
    chi2 = ((obs[mask] - exp[mask]) ** 2 / exp[mask]).sum()
    assert stats.chi2.sf(chi2, mask.sum() - 1) > 1e-3


def test_pairwise_target_overlap_is_p_squared_n():
    n, p = 4000, 0.05
    conn = cx.fixed_prob(300, n, p, seed=1)
    rows = jax.jit(cx.source_rows)(conn, jnp.arange(300))
    sets = [set(np.asarray(t)[np.asarray(v)]) for t, v in zip(rows.targets, rows.valid)]
    overlaps = [len(sets[i] & sets[i + 1]) for i in range(0, 298, 2)]
    assert abs(np.mean(overlaps) - p * p * n) < 4 * np.sqrt(p * p * n / len(overlaps))


def test_no_periodicity_in_neuron_index():
    """Rows of sources 2**k apart are independent (no repeat of the generator)."""
    conn = cx.fixed_prob(2**31 - 1, 10_000, 0.01, seed=2)
    base = jnp.arange(64)
    rows = jax.jit(cx.source_rows)
    a = rows(conn, base)
    for shift in (2**16, 2**20, 2**24, 2**28):
        b = rows(conn, base + shift)
        same = (np.asarray(a.targets) == np.asarray(b.targets)) & np.asarray(a.valid)
        assert same.sum() < 0.05 * np.asarray(a.valid).sum()


def test_no_autapses_and_fixed_degrees():
    conn = cx.fixed_prob(300, 300, 0.2, seed=0, allow_autapses=False)
    d = _dense_bool(conn)
    assert not np.any(np.diag(d)) and abs(d.mean() - 0.2 * 299 / 300) < 0.01
    ell = cx.materialize(cx.fixed_indegree(400, 300, 25, seed=1))
    _, post, _, _ = cx.to_coo(ell)
    assert np.all(np.bincount(post, minlength=300) == 25)
    pre, _, _, _ = cx.to_coo(cx.materialize(cx.fixed_outdegree(400, 300, 12, seed=1)))
    assert np.all(np.bincount(pre, minlength=400) == 12)


def test_small_world_limits():
    ring = _dense_bool(cx.small_world(100, 6, 0.0, seed=0))
    i = np.arange(100)
    for off in (1, 2, 3):
        assert ring[i, (i + off) % 100].all() and ring[i, (i - off) % 100].all()
    assert ring.sum() == 600
    rewired = _dense_bool(cx.small_world(1000, 6, 0.2, seed=0))
    lattice = np.zeros_like(rewired)
    i = np.arange(1000)
    for off in (1, 2, 3, -1, -2, -3):
        lattice[i, (i + off) % 1000] = True
    frac_kept = (rewired & lattice).sum() / 6000
    assert abs(frac_kept - 0.8) < 0.03 and not np.any(np.diag(rewired))


def test_gaussian_probability_falls_with_distance():
    conn = cx.gaussian(900, 900, 0.8, 0.08, seed=4)
    d = _dense_bool(conn)
    side = 30
    xy = np.stack([(np.arange(900) % side + 0.5) / side, (np.arange(900) // side + 0.5) / side], 1)
    diff = np.abs(xy[:, None] - xy[None])
    diff = np.minimum(diff, 1 - diff)
    dist = np.sqrt((diff ** 2).sum(-1))
    for lo, hi in ((0.0, 0.05), (0.08, 0.12), (0.2, 0.3)):
        m = (dist >= lo) & (dist < hi)
        expected = (0.8 * np.exp(-dist[m] ** 2 / (2 * 0.08 ** 2))).mean()
        assert abs(d[m].mean() - expected) < 0.03


def test_all_to_all_and_one_to_one():
    assert _dense_bool(cx.all_to_all(5, 7)).all()
    assert np.array_equal(_dense_bool(cx.one_to_one(6)), np.eye(6, dtype=bool))


def test_weight_laws_and_dale_signs():
    law = cx.WeightLaw("lognormal", mean=2.0, std=1.0)
    conn = cx.fixed_prob(1000, 1000, 0.1, seed=0, weight=law, exc_fraction=0.8, g_inh=5.0)
    pre, _, w, _ = cx.to_coo(cx.materialize(conn))
    exc = pre < 800
    assert np.all(w[exc] > 0) and np.all(w[~exc] < 0)
    assert abs(w[exc].mean() - 2.0) < 0.05 and abs(w[exc].std() - 1.0) < 0.05
    assert abs(w[~exc].mean() + 10.0) < 0.3
    clipped = cx.fixed_prob(500, 500, 0.1, weight=cx.WeightLaw("normal", 0.0, 1.0, lo=0.0))
    assert np.all(cx.to_coo(cx.materialize(clipped))[2] >= 0)


def test_same_synapses_whatever_batch_chunk_or_vmap():
    conn = cx.fixed_prob(1000, 800, 0.05, seed=9, weight=cx.WeightLaw("normal", 1.0, 0.3),
                         delay=cx.DelayLaw("normal", 1.5, 0.75))
    rows = jax.jit(cx.source_rows)
    full = rows(conn, jnp.arange(1000))
    part = rows(conn, jnp.array([999, 3, 500]))
    for a, b in zip(part, full):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b)[np.array([999, 3, 500])])
    vm = jax.jit(jax.vmap(cx.source_rows, in_axes=(None, 0)))(conn, jnp.arange(1000))
    for a, b in zip(vm, full):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    jitted = jax.jit(lambda c, s: cx.source_rows(c, s))(conn, jnp.arange(1000))
    np.testing.assert_array_equal(np.asarray(jitted.targets), np.asarray(full.targets))
    # vmap over seeds gives each seed's own matrix
    seeds = jax.jit(jax.vmap(lambda s: cx.source_rows(conn.replace(seed=s), jnp.arange(10)).targets))(
        jnp.array([9, 10]))
    np.testing.assert_array_equal(np.asarray(seeds[0]), np.asarray(full.targets[:10]))
    assert not np.array_equal(np.asarray(seeds[0]), np.asarray(seeds[1]))


def test_materialised_forms_agree():
    conn = cx.fixed_prob(200, 150, 0.1, seed=5, weight=cx.WeightLaw("normal", 1.0, 0.5))
    ell = cx.materialize(conn)
    pre, post, w, _ = cx.to_coo(ell)
    indptr, idx, data = cx.to_csr(ell)
    dense = np.asarray(cx.to_dense(ell))
    m = np.zeros((200, 150), np.float32)
    np.add.at(m, (pre, post), w)
    np.testing.assert_allclose(dense, m, atol=1e-6)
    for i in (0, 17, 199):
        np.testing.assert_array_equal(idx[indptr[i]:indptr[i + 1]], post[pre == i])
    assert cx.overflow(conn) == 0


def test_bad_descriptions_are_refused():
    with pytest.raises(ValueError, match="p=1.5"):
        cx.fixed_prob(10, 10, 1.5)
    with pytest.raises(ValueError, match="even"):
        cx.small_world(10, 3, 0.1)
    with pytest.raises(ValueError, match="lognormal"):
        cx.WeightLaw("lognormal", mean=-1.0)
    with pytest.raises(ValueError, match="allowed"):
        cx.WeightLaw("uniform")


def test_same_synapses_on_any_device_count():
    """Sources split over 1, 2, 4 or 8 devices generate exactly the same rows."""
    from jax.sharding import NamedSharding, PartitionSpec as P

    conn = cx.fixed_prob(4096, 1000, 0.05, seed=11, weight=cx.WeightLaw("normal", 1.0, 0.2))
    f = jax.jit(cx.source_rows)
    ref = f(conn, jnp.arange(4096))
    for n_dev in (1, 2, 4, 8):
        mesh = jax.make_mesh((n_dev,), ("neurons",), devices=jax.devices()[:n_dev])
        src = jax.device_put(jnp.arange(4096), NamedSharding(mesh, P("neurons")))
        rows = f(conn, src)
        assert len(rows.targets.sharding.device_set) == n_dev
        for a, b in zip(rows, ref):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_truncated_normal_delays_match_rejection_sampling():
    """redraw_below_ms: the normal truncated below (NEST's redraw), not clipped."""
    law = cx.DelayLaw("normal", 1.5, 0.75, max_ms=4.5, redraw_below_ms=0.1)
    z = rng.normal(0, jnp.arange(400_000))
    steps = np.asarray(jax.jit(lambda z: law.sample_steps(z, 0.1))(z))  # as inside materialize
    r = np.random.default_rng(0).normal(1.5, 0.75, 1_000_000)
    ref = np.clip(np.floor(r[r >= 0.1][:400_000] / 0.1 + 0.5), 1, 45).astype(int)
    hist, ref_hist = np.bincount(steps, minlength=46) / steps.size, np.bincount(ref, minlength=46) / ref.size
    assert np.abs(hist - ref_hist).max() < 0.003
    clipped = np.asarray(cx.DelayLaw("normal", 1.5, 0.75, max_ms=4.5).sample_steps(z, 0.1))
    assert (steps == 1).mean() < 0.01 < (clipped == 1).mean()  # clipping piles 3.6 % at one step
