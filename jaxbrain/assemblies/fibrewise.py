"""``brain.project`` run as small per-fibre jitted kernels driven from the host.

:func:`brain.project` traces one fused function per projection map: the best form on an
accelerator, but on the CPU backend every distinct map costs seconds of compilation, and
applications such as the parser (:mod:`.parser`) and word order (:mod:`.word_order`) use
dozens of maps. :func:`project_round` computes the same step with kernels whose fibre id,
seed and beta are *data*: one kernel per fibre input, per k-cap and per Hebbian update, each
compiled once per shape (about ten in all). A target the caller knows is fixed gets no input
and no k-cap (only its incoming synapses learn). ``tests/assemblies/test_parser.py::
test_round_matches_brain_project`` checks the result equals ``brain.project`` bit for bit.

:func:`total_input` is learner.py / word_order_int.py's ``get_total_input``: the summed
weight (hashed synapses times learned weights) from one area's winners onto another's.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from functools import partial

import jax
import jax.numpy as jnp

from .. import sparse_delta as sd
from . import brain as B
from . import implicit
from .kcap import k_cap

__all__ = ["project_round", "repeat_rounds", "seedless", "total_input"]


def _opaque(*args):
    """The arguments behind an ``optimization_barrier``: a kernel traced inside a larger
    program (one jitted parse) then compiles as when called alone, where its arguments are
    parameters; otherwise XLA can simplify across kernels (e.g. fold the zero initial input
    into the scatter-add of the learned weights) and change float rounding."""
    return jax.lax.optimization_barrier(args)


@partial(jax.jit, static_argnames=("p", "n_dst"))
def _k_input(x, winners, n_winners, store, fid, seed, *, p, n_dst):
    """``x`` plus one fibre's input: ``x + c`` (hashed synapse counts), then the learned
    deltas added in store order (the order XLA compiled ``x + (c + d)`` to; explicit, so
    that :mod:`.batched` computes the same)."""
    x, winners, n_winners, store, fid, seed = _opaque(x, winners, n_winners, store, fid, seed)
    valid = jnp.arange(winners.shape[0]) < n_winners
    c = implicit.area_input(seed, fid, p, winners, valid, n_dst)
    return sd.sum_into_post(store, winners, n_dst, into=x + c)


@partial(jax.jit, static_argnames=("k", "method"))
def _k_cap(x, *, k, method):
    x, = _opaque(x)
    return k_cap(x, k, method)


@partial(jax.jit, static_argnames=("p", "m_cap"))
def _k_hebb(store, src_w, src_n, new_w, n_new, fid, seed, beta, w_max, plastic, *, p, m_cap):
    """brain._hebbian for an area fibre, with the fibre id and beta as data."""
    store, src_w, src_n, new_w, n_new, fid, seed, beta, w_max, plastic = _opaque(
        store, src_w, src_n, new_w, n_new, fid, seed, beta, w_max, plastic)
    def rule(old, found):
        return jnp.minimum((1.0 + old) * (1.0 + beta), w_max) - 1.0

    ks, kd = src_w.shape[0], new_w.shape[0]
    do = plastic & (beta != 0)
    conn = implicit.pair_hash(implicit.source_keys(seed, fid, src_w)[:, None],
                              new_w[None, :]) < implicit.p_threshold(p)
    valid = (conn & (jnp.arange(ks) < src_n)[:, None] & (jnp.arange(kd) < n_new)[None, :]
             & do).reshape(-1)
    m = ks * kd
    sel = jnp.nonzero(valid, size=m_cap, fill_value=m)[0]
    ok = sel < m
    sel = jnp.minimum(sel, m - 1)
    pre, post = src_w[sel // kd], new_w[sel % kd]
    store = B._update_store(store, pre, post, rule, ok)
    overflow = jnp.sum(valid, dtype=jnp.int32) - jnp.sum(ok, dtype=jnp.int32)
    return store._replace(dropped=store.dropped + overflow)


def _hebb_cap(spec: B.BrainSpec, src: str, dst: str, density: float) -> int:
    m = spec.area(src).k * spec.area(dst).k
    return int(min(m, max(256, math.ceil(density * m))))


def project_round(spec: B.BrainSpec, state: B.BrainState, pm, fixed=frozenset(),
                  learn: bool = True, hebb_density: float = 0.4, seed=None) -> B.BrainState:
    """One synchronous projection (``brain.project(spec, state, None, dict(pm))``) run as
    per-fibre kernels.

    Arguments:
        spec, state: the brain.
        pm: ``((src, (dst, ...)), ...)``; every source must hold an assembly.
        fixed: targets whose assembly is fixed in ``state`` (their input is not computed).
        learn: apply the Hebbian update (``state.plastic`` and each fibre's beta apply).
        hebb_density: at most this fraction of source-winner x target-winner pairs of a
            fibre are treated as synapses per update; excess is counted in the store's
            ``dropped``.
        seed: the connectivity seed as data (uint32[]; default ``spec.seed``), so that a
            program tracing rounds compiles once for every seed.
    Returns:
        The new state.
    """
    incoming = defaultdict(list)
    for src, tgts in pm:
        for t in tgts:
            incoming[t].append(spec.fibre(src, t))
    areas = state.areas
    # data, so one compilation serves every seed
    seed = jnp.uint32(spec.seed) if seed is None else seed
    new = {}
    for t, fibres in incoming.items():
        if t in fixed:
            continue
        a = spec.area(t)
        x = jnp.zeros((a.n,), jnp.float32)
        for f in fibres:
            sa = areas[f.src]
            x = _k_input(x, sa.winners, sa.n_winners, state.stores[f.key], jnp.uint32(f.fid),
                         seed, p=f.p, n_dst=a.n)
        new[t] = _k_cap(x, k=a.k, method=spec.kcap)
    stores = dict(state.stores)
    if learn:
        for t, fibres in incoming.items():
            nw = new[t] if t in new else areas[t].winners
            nn = jnp.int32(spec.area(t).k) if t in new else areas[t].n_winners
            for f in fibres:
                sa = areas[f.src]
                stores[f.key] = _k_hebb(stores[f.key], sa.winners, sa.n_winners, nw, nn,
                                        jnp.uint32(f.fid), seed, state.beta[f.key],
                                        state.w_max, state.plastic, p=f.p,
                                        m_cap=_hebb_cap(spec, f.src, t, hebb_density))
    new_areas = dict(areas)
    for t in incoming:
        if t in new:
            new_areas[t] = areas[t]._replace(winners=new[t], n_winners=jnp.int32(spec.area(t).k),
                                             num_new=jnp.int32(0))
        else:
            new_areas[t] = areas[t]._replace(num_new=jnp.int32(0))
    return state._replace(areas=new_areas, stores=stores)


def seedless(spec):
    """``spec`` (a frozen dataclass with a ``seed``) with seed 0: the static argument of a
    program that takes the seed as data (:func:`project_round`'s ``seed``), so that one
    compilation serves every seed."""
    return dataclasses.replace(spec, seed=0)


def repeat_rounds(count: int, round_, state: B.BrainState, loop: bool = False):
    """``round_(state=...)`` applied ``count`` times: each dispatched from the host, or
    (``loop``, inside a traced program) as one ``fori_loop``, traced once."""
    if not loop or count == 1:
        for _ in range(count):
            state = round_(state=state)
        return state
    return jax.lax.fori_loop(0, count, lambda _, s: round_(state=s), state)


@partial(jax.jit, static_argnames=("p",))
def _k_total(store, src_w, src_n, dst_w, dst_n, fid, seed, *, p):
    store, src_w, src_n, dst_w, dst_n, fid, seed = _opaque(store, src_w, src_n, dst_w, dst_n,
                                                           fid, seed)
    conn = implicit.pair_hash(implicit.source_keys(seed, fid, src_w)[:, None],
                              dst_w[None, :]) < implicit.p_threshold(p)
    valid = conn & (jnp.arange(src_w.shape[0]) < src_n)[:, None] \
        & (jnp.arange(dst_w.shape[0]) < dst_n)[None, :]
    d, _, _ = sd.lookup(store, jnp.broadcast_to(src_w[:, None], conn.shape),
                        jnp.broadcast_to(dst_w[None, :], conn.shape))
    return jnp.sum(jnp.where(valid, 1.0 + d, 0.0))


def total_input(spec: B.BrainSpec, state: B.BrainState, src: str, dst: str,
                seed=None) -> jax.Array:
    """float32[]: sum of the weights of fibre ``src -> dst`` from ``src``'s current winners
    onto ``dst``'s current winners (learned weights included); ``seed`` as in
    :func:`project_round`."""
    f = spec.fibre(src, dst)
    a, b = state.areas[src], state.areas[dst]
    seed = jnp.uint32(spec.seed) if seed is None else seed
    return _k_total(state.stores[f.key], a.winners, a.n_winners, b.winners, b.n_winners,
                    jnp.uint32(f.fid), seed, p=f.p)
