"""Tests of the sparse delta store against a Python dict reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain import sparse_delta as sd


def _unique_batch(rng, m, hi):
    keys = {}
    for a, b in zip(rng.integers(0, hi, m), rng.integers(0, hi, m)):
        keys[(int(a), int(b))] = True
    k = np.array(list(keys), dtype=np.uint32).reshape(-1, 2)
    return k[:, 0], k[:, 1]


M = 64


@jax.jit
def _upd(store, p, q, a, v, valid):
    """One compiled update for every test: delta <- a * old + v on the valid keys."""
    return sd.update(store, p, q, lambda old, found: a * old + v, valid)


def upd(store, p, q, a=1.0, v=1.0, valid=None):
    m = len(p)
    pad = lambda x, fill: np.concatenate([np.asarray(x), np.full(M - m, fill, np.asarray(x).dtype)])
    valid = np.ones(m, bool) if valid is None else np.asarray(valid)
    v = np.broadcast_to(np.float32(v), (m,)) if np.ndim(v) == 0 else np.asarray(v, np.float32)
    return _upd(store, pad(p, 0).astype(np.uint32), pad(q, 0).astype(np.uint32),
                jnp.float32(a), pad(v, 0.0), pad(valid, False))


def test_update_lookup_matches_dict():
    rng = np.random.default_rng(1)
    store = sd.init(512)
    ref = {}
    for _ in range(8):
        p, q = _unique_batch(rng, 40, 30)
        store = upd(store, p, q, a=2.0, v=1.0)
        for a, b in zip(p, q):
            ref[(a, b)] = ref.get((a, b), 0.0) * 2.0 + 1.0
    pre, post, d = sd.to_numpy(store)
    assert int(store.size) == len(ref) and int(store.dropped) == 0
    assert list(zip(pre, post)) == sorted(ref), "store is not sorted lexicographically"
    assert np.allclose(d, [ref[k] for k in sorted(ref)])
    qp, qq = _unique_batch(rng, 200, 35)
    got, found, _ = sd.lookup(store, qp, qq)
    exp = np.array([ref.get((a, b), 0.0) for a, b in zip(qp, qq)])
    assert np.array_equal(np.asarray(found), [(a, b) in ref for a, b in zip(qp, qq)])
    assert np.allclose(np.asarray(got), exp)


def test_full_store_counts_dropped_and_grow_keeps_entries():
    store = sd.init(8)
    p = np.arange(12, dtype=np.uint32)
    store = upd(store, p, p)
    assert int(store.size) == 8 and int(store.dropped) == 4
    assert float(sd.fill(store)) == 1.0
    # the smallest keys are kept
    assert np.array_equal(sd.to_numpy(store)[0], np.arange(8))
    big = sd.grow(store, 32)
    big = upd(big, p, p)
    pre, _, d = sd.to_numpy(big)
    assert np.array_equal(pre, np.arange(12))
    assert np.allclose(d, [2.0] * 8 + [1.0] * 4)


def test_valid_mask_and_repeated_new_keys():
    store = sd.init(512)
    p = np.array([3, 3, 5, 7], np.uint32)
    q = np.array([1, 1, 2, 9], np.uint32)
    store = upd(store, p, q, valid=np.array([True, True, True, False]))
    pre, post, _ = sd.to_numpy(store)
    assert list(zip(pre, post)) == [(3, 1), (5, 2)]


def test_sum_into_post_matches_numpy():
    rng = np.random.default_rng(2)
    store = sd.init(512)
    p, q = _unique_batch(rng, 60, 20)
    vals = rng.random(len(p)).astype(np.float32)
    store = upd(store, p, q, a=0.0, v=vals)
    active = np.array([1, 4, 7, 11, 2**31 - 1], np.uint32)
    got = np.asarray(sd.sum_into_post(store, active, 20))
    exp = np.zeros(20)
    for a, b, v in zip(p, q, vals):
        if a in active[:-1]:
            exp[b] += v
    assert np.allclose(got, exp, atol=1e-5)


def test_sum_into_post_into_adds_in_store_order():
    """``into=x``: the deltas are added onto x one at a time in store order (float32), which
    is not ``x + sum_into_post(...)``; jitted, the order holds (XLA does not reassociate)."""
    rng = np.random.default_rng(3)
    store = sd.init(256)
    p, q = _unique_batch(rng, 60, 8)
    vals = (rng.random(len(p)) * 1e-3).astype(np.float32)
    store = upd(store, p, q, a=0.0, v=vals)
    active = np.array([0, 2, 3, 5, 2**31 - 1], np.uint32)
    x = (1.0 + rng.random(8)).astype(np.float32) * 3000
    got = np.asarray(jax.jit(lambda s, x: sd.sum_into_post(s, active, 8, into=x))(store, x))
    exp = x.copy()
    sp, sq, sv = sd.to_numpy(store)
    for a, b, v in zip(sp, sq, sv):
        if a in active[:-1]:
            exp[b] = np.float32(exp[b] + v)
    np.testing.assert_array_equal(got, exp)
    assert not np.array_equal(got, x + np.asarray(sd.sum_into_post(store, active, 8)))


def test_vmap_over_stores():
    stores = jax.vmap(lambda _: sd.init(16))(jnp.arange(3))
    p = jnp.array([[1, 2], [3, 4], [5, 6]], jnp.uint32)
    out = jax.vmap(lambda s, k: sd.update(s, k, k, lambda o, f: o + 1.0))(stores, p)
    assert np.array_equal(np.asarray(out.size), [2, 2, 2])
    assert np.array_equal(np.asarray(out.pre[:, :2]), np.asarray(p))


def test_bad_capacity_message():
    with pytest.raises(ValueError, match="capacity"):
        sd.init(0)


def test_update_existing_changes_only_stored_keys():
    st = sd.init(16)
    st = sd.update(st, jnp.array([1, 2, 3]), jnp.array([5, 6, 7]), lambda o, f: o + 1.0)
    add = lambda o, f: o + 10.0  # noqa: E731
    got = sd.update_existing(st, jnp.array([2, 9, 3]), jnp.array([6, 9, 7]), add,
                             jnp.array([True, True, False]))
    ref = sd.update(st, jnp.array([2]), jnp.array([6]), add)
    for a, b in zip(sd.to_numpy(got), sd.to_numpy(ref)):
        np.testing.assert_array_equal(a, b)
    assert int(got.size) == 3 and int(got.dropped) == 0
    np.testing.assert_allclose(sd.to_numpy(got)[2], [1.0, 11.0, 1.0])
