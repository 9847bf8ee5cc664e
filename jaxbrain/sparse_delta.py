"""A fixed-capacity sparse store of learned weight changes keyed by (pre, post) ids.

Procedural connectivity (synapses regenerated from a counter-based hash, never stored) cannot
hold learned weights. This module stores only the synapses whose weight has changed, as a
sorted COO list of ``(pre, post, delta)`` with a static capacity, so every operation jits and
vmaps:

* :func:`init` makes an empty store of ``capacity`` slots;
* :func:`lookup` finds the deltas of given keys (lexicographic binary search, ``log2 C``
  gathers fused into one kernel);
* :func:`update` applies ``delta <- fn(delta, found)`` to a batch of keys, inserting the keys
  not yet present (a sort of the new keys and a merge by rank, no full re-sort);
  :func:`update_existing` does the in-place part only (no insert, no O(C) merge);
* :func:`sum_into_post` adds the deltas of all entries whose ``pre`` is in a given set of
  active ids into a vector over ``post`` ids (the read-back a projection needs);
* :func:`fill` and ``store.dropped`` report how full the store is and how many inserts were
  refused because it was full; :func:`grow` re-allocates a larger store outside jit.

Keys are two ``uint32`` arrays (``pre``, ``post``), ordered lexicographically; the id
``0xFFFFFFFF`` is reserved for empty slots, so valid ids are ``0 .. 2**32 - 2``. What the ids
mean is up to the caller (global neuron ids, or ids local to one projection). A store holds
one value per key (``delta``, float32 by default); callers define what it adds to (the NEMO
code stores ``w - 1`` of a synapse whose baseline weight is 1).

When the store is full, new keys with the largest (pre, post) are dropped and counted in
``dropped``; nothing is silently lost: check ``dropped`` (or :func:`fill`) between jitted
chunks and call :func:`grow`.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["DeltaStore", "EMPTY", "init", "lookup", "update", "update_existing",
           "sum_into_post", "members",
           "fill", "grow", "count_less", "to_numpy"]

EMPTY = np.uint32(0xFFFFFFFF)


class DeltaStore(NamedTuple):
    """Sorted COO of learned deltas.

    Attributes:
        pre: uint32[C], presynaptic ids, sorted lexicographically with ``post``;
            ``EMPTY`` in unused slots (which all sit after the ``size`` used ones).
        post: uint32[C], postsynaptic ids.
        delta: float[C], the stored value per key (0 in unused slots).
        size: int32[], number of used slots.
        dropped: int32[], cumulative number of new keys refused because the store was full.
    """
    pre: jax.Array
    post: jax.Array
    delta: jax.Array
    size: jax.Array
    dropped: jax.Array

    @property
    def capacity(self) -> int:
        return self.pre.shape[-1]


def init(capacity: int, dtype=jnp.float32) -> DeltaStore:
    """An empty store with ``capacity`` slots (a positive int)."""
    if not isinstance(capacity, (int, np.integer)) or capacity <= 0:
        raise ValueError(f"sparse_delta.init: capacity must be a positive int, got {capacity!r}")
    return DeltaStore(
        pre=jnp.full((capacity,), EMPTY, jnp.uint32),
        post=jnp.full((capacity,), EMPTY, jnp.uint32),
        delta=jnp.zeros((capacity,), dtype),
        size=jnp.zeros((), jnp.int32),
        dropped=jnp.zeros((), jnp.int32),
    )


def _less(ap, aq, bp, bq):
    """Lexicographic (ap, aq) < (bp, bq), elementwise."""
    return (ap < bp) | ((ap == bp) & (aq < bq))


def count_less(keys_pre, keys_post, q_pre, q_post, strict: bool = True,
               unroll: bool | None = None) -> jax.Array:
    """Number of sorted keys ``< q`` (``strict``) or ``<= q``, per query (binary lifting).

    Arguments:
        keys_pre, keys_post: uint32[C], sorted lexicographically.
        q_pre, q_post: uint32[...], queries.
        unroll: unroll the ``log2 C`` steps (one fused GPU kernel, slow to compile on the
            CPU backend); ``None``: unroll unless the default backend is the CPU.
    Returns:
        int32[...] in ``0..C``.
    """
    c = keys_pre.shape[0]
    if unroll is None:
        unroll = jax.default_backend() != "cpu"
    top = 1 << (max(c, 1).bit_length() - 1)
    steps = top.bit_length()

    def body(i, pos):
        step = jnp.right_shift(jnp.int32(top), i)
        cand = pos + step
        idx = jnp.minimum(cand - 1, c - 1)
        kp, kq = keys_pre[idx], keys_post[idx]
        if strict:
            ok = _less(kp, kq, q_pre, q_post)
        else:
            ok = ~_less(q_pre, q_post, kp, kq)
        return jnp.where((cand <= c) & ok, cand, pos)

    pos = jnp.zeros(q_pre.shape, jnp.int32)
    if unroll:
        for i in range(steps):
            pos = body(jnp.int32(i), pos)
        return pos
    return jax.lax.fori_loop(0, steps, body, pos)


def lookup(store: DeltaStore, pre, post):
    """Deltas of the keys ``(pre, post)`` (any equal shapes of ids).

    Returns:
        ``(delta, found, pos)``: delta (0 where not found), bool found, int32 slot index.
    """
    pre = jnp.asarray(pre).astype(jnp.uint32)
    post = jnp.asarray(post).astype(jnp.uint32)
    pos = count_less(store.pre, store.post, pre, post)
    idx = jnp.minimum(pos, store.capacity - 1)
    found = (pos < store.capacity) & (store.pre[idx] == pre) & (store.post[idx] == post) & (pre != EMPTY)
    return jnp.where(found, store.delta[idx], 0).astype(store.delta.dtype), found, pos


def update(store: DeltaStore, pre, post, fn: Callable, valid=None,
           unique: bool = False) -> DeltaStore:
    """Set ``delta <- fn(old_delta, found)`` for every valid key, inserting missing keys.

    Arguments:
        store: the store.
        pre, post: uint32-compatible ids, 1-D of equal length M (flatten first).
        fn: elementwise ``fn(old, found) -> new``; ``old`` is 0 where not found.
        valid: bool[M] mask of keys to touch (default all). A repeated new key is inserted
            once (unless ``unique``).
        unique: promise that the valid keys are distinct (skips the de-duplication, one
            sort fewer).
    Returns:
        The new store. If fewer than the new keys fit, the largest keys are dropped and
        counted in ``dropped``.
    """
    pre = jnp.asarray(pre).astype(jnp.uint32).reshape(-1)
    post = jnp.asarray(post).astype(jnp.uint32).reshape(-1)
    m = pre.shape[0]
    valid = jnp.ones((m,), bool) if valid is None else jnp.asarray(valid, bool).reshape(-1)
    valid = valid & (pre != EMPTY) & (post != EMPTY)
    c = store.capacity
    old, found, pos = lookup(store, pre, post)
    new_val = fn(old, found).astype(store.delta.dtype)
    # 1. existing keys: update in place
    upd_idx = jnp.where(valid & found, pos, c)
    delta = store.delta.at[upd_idx].set(new_val, mode="drop")
    # 2. new keys: sort them, drop repeats, merge by rank
    is_new = valid & ~found
    np_ = jnp.where(is_new, pre, EMPTY)
    nq_ = jnp.where(is_new, post, EMPTY)
    np_, nq_, nv_ = jax.lax.sort((np_, nq_, new_val), num_keys=2)
    if unique:
        keep = np_ != EMPTY
    else:
        rep = jnp.concatenate([jnp.zeros((1,), bool),
                               (np_[1:] == np_[:-1]) & (nq_[1:] == nq_[:-1])])
        keep = (np_ != EMPTY) & ~rep
        np_ = jnp.where(keep, np_, EMPTY)
        nq_ = jnp.where(keep, nq_, EMPTY)
        np_, nq_, nv_ = jax.lax.sort((np_, nq_, nv_), num_keys=2)
    n_new = jnp.sum(keep, dtype=jnp.int32)
    ar_c = jnp.arange(c, dtype=jnp.int32)
    ar_m = jnp.arange(m, dtype=jnp.int32)
    old_valid = ar_c < store.size
    new_valid = ar_m < n_new
    pos_old = ar_c + count_less(np_, nq_, store.pre, store.post)
    pos_new = ar_m + count_less(store.pre, store.post, np_, nq_)
    pos_old = jnp.where(old_valid, pos_old, c)
    pos_new = jnp.where(new_valid, pos_new, c)
    out_pre = jnp.full((c,), EMPTY, jnp.uint32).at[pos_old].set(store.pre, mode="drop")
    out_pre = out_pre.at[pos_new].set(np_, mode="drop")
    out_post = jnp.full((c,), EMPTY, jnp.uint32).at[pos_old].set(store.post, mode="drop")
    out_post = out_post.at[pos_new].set(nq_, mode="drop")
    out_d = jnp.zeros((c,), store.delta.dtype).at[pos_old].set(delta, mode="drop")
    out_d = out_d.at[pos_new].set(nv_, mode="drop")
    total = store.size + n_new
    size = jnp.minimum(total, c)
    return DeltaStore(out_pre, out_post, out_d, size, store.dropped + (total - size))


def update_existing(store: DeltaStore, pre, post, fn: Callable, valid=None) -> DeltaStore:
    """Like :func:`update` but only for keys already in the store: ``delta <- fn(old, True)``
    in place; keys not found are ignored (not inserted, not counted). No sort, no merge:
    ``O(M log C)`` instead of ``O(C)``. Callers use it when they know no key is new.
    """
    pre = jnp.asarray(pre).astype(jnp.uint32).reshape(-1)
    post = jnp.asarray(post).astype(jnp.uint32).reshape(-1)
    valid = jnp.ones(pre.shape, bool) if valid is None else jnp.asarray(valid, bool).reshape(-1)
    old, found, pos = lookup(store, pre, post)
    new_val = fn(old, found).astype(store.delta.dtype)
    idx = jnp.where(valid & found, pos, store.capacity)
    return store._replace(delta=store.delta.at[idx].set(new_val, mode="drop"))


def members(ids, sorted_set) -> jax.Array:
    """bool mask: ``ids[i]`` is in ``sorted_set`` (a sorted 1-D array, padded with large values)."""
    ids = jnp.asarray(ids)
    s = jnp.asarray(sorted_set).astype(ids.dtype)
    method = "compare_all" if s.shape[0] <= 64 else (
        "scan" if jax.default_backend() == "cpu" else "scan_unrolled")
    pos = jnp.searchsorted(s, ids, side="left", method=method)
    pos = jnp.minimum(pos, s.shape[0] - 1)
    return s[pos] == ids


def sum_into_post(store: DeltaStore, active_pre_sorted, n_post: int, weight_by_post=None,
                  post_offset=0, into=None) -> jax.Array:
    """Sum of deltas over entries whose ``pre`` is active, scattered to their ``post``.

    Arguments:
        store: the store.
        active_pre_sorted: uint32/int[K] sorted ids of active presynaptic units (pad with a
            value that matches no stored pre, e.g. ``EMPTY`` or 2**31 - 1).
        n_post: static length of the output vector.
        weight_by_post: optional float[n_post] multiplying each entry's delta by a per-post
            factor (e.g. an aggregated synapse count).
        post_offset: post id of the output's first entry (int, may be traced): the output
            covers posts ``post_offset .. post_offset + n_post - 1`` and entries outside are
            left out (one device's slice of the targets).
        into: optional float32[n_post] the deltas are added to, one entry at a time in
            store order (default zeros). ``sum_into_post(s, a, n, into=x)`` is not
            ``x + sum_into_post(s, a, n)`` in float32: pass ``into`` to fix the order
            (XLA may rewrite ``x + scatter_add(zeros, ...)`` into ``scatter_add(x, ...)``).
    Returns:
        float32[n_post].
    """
    act = jnp.asarray(active_pre_sorted).astype(jnp.uint32)
    m = members(store.pre, act) & (store.pre != EMPTY)
    d = jnp.where(m, store.delta, 0).astype(jnp.float32)
    # uint32 arithmetic: EMPTY and posts below the offset wrap to >= n_post and are dropped
    local = store.post - jnp.asarray(post_offset).astype(jnp.uint32)
    if weight_by_post is not None:
        d = d * weight_by_post[jnp.minimum(local, n_post - 1)]
    base = jnp.zeros((n_post,), jnp.float32) if into is None else into
    return base.at[local].add(d, mode="drop")


def fill(store: DeltaStore) -> jax.Array:
    """Fraction of slots in use (float32 scalar)."""
    return store.size.astype(jnp.float32) / store.capacity


def grow(store: DeltaStore, new_capacity: int) -> DeltaStore:
    """A copy of ``store`` with ``new_capacity`` slots (outside jit; ``dropped`` is kept)."""
    c = store.capacity
    if new_capacity < c:
        raise ValueError(f"sparse_delta.grow: new_capacity {new_capacity} < capacity {c}")
    pad = new_capacity - c
    return DeltaStore(
        pre=jnp.concatenate([store.pre, jnp.full((pad,), EMPTY, jnp.uint32)]),
        post=jnp.concatenate([store.post, jnp.full((pad,), EMPTY, jnp.uint32)]),
        delta=jnp.concatenate([store.delta, jnp.zeros((pad,), store.delta.dtype)]),
        size=store.size, dropped=store.dropped)


def to_numpy(store: DeltaStore):
    """(pre, post, delta) of the used entries as numpy arrays (for inspection and tests)."""
    s = int(store.size)
    return (np.asarray(store.pre[:s]), np.asarray(store.post[:s]), np.asarray(store.delta[:s]))
