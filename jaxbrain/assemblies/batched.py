"""Projection rounds with the fibres and areas of a round batched, for one traced program
(the parser's one-program-per-sentence path, :func:`.parser.parse_and_read`).

:func:`.fibrewise.project_round` runs one set of kernels per fibre and per target: right for
host-driven rounds on the CPU, but inlined into one GPU program every area and fibre of every
round is its own handful of ~2 us kernels (docs/assemblies.md, "Where the time goes"). Here
a round is a few batched stages, whatever the number of areas and fibres:

1. **counts**: the hashed synapse counts ``c`` of every fibre into a computed target,
   stacked by (source k, target n, p) and vmapped;
2. **sum**: each target adds its fibres in :func:`.fibrewise.project_round`'s order
   (``x = 0``, then per fibre ``x = x + c`` and the fibre's learned deltas scattered onto
   it in store order), the targets of one (n, k) stacked: one vmapped add-and-scatter per
   fibre slot; a target with fewer fibres gets empty slots (adding +0.0: exact, as no
   partial sum is -0.0);
3. **k-cap**: vmapped over the targets of one (n, k);
4. **Hebbian**: every fibre of the round in one vmapped update, winners padded to the
   largest k of the brain, each fibre's pair cap (``m_cap``) and connection threshold as
   data (``hebb_batch="all"``, the fewest kernels: accelerators); or one vmapped update per
   (source k, target k), no padding, and the stores merged one by one so that each skips
   its merge when it learns no new synapse (``"shape"``, the least work: the CPU backend).

The brain's winners and learned weights travel as :class:`Stacked` (winners int32[A, K],
stores [F, C]); :func:`project_rounds` runs an op's ``count`` rounds as one ``fori_loop``
that carries only the rows of the areas and fibres its map uses (seven arrays). Every float
operation per area and fibre is the per-fibre kernels' in the same order, with the same
``optimization_barrier`` boundaries, so the result equals the host-driven rounds bit for bit
(``tests/assemblies/test_parser.py``).

Scope: area -> area fibres of one store capacity, the hash law, no support tracking (as
:func:`.fibrewise.project_round`, which leaves ``support`` / ``num_new`` alone).
"""

from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import sparse_delta as sd
from . import brain as B
from . import implicit
from .fibrewise import _hebb_cap, _opaque   # each stage compiles as the per-fibre kernel
from .kcap import k_cap

__all__ = ["Stacked", "stack", "unstack", "area_index", "put_area", "project_rounds"]


class Stacked(NamedTuple):
    """A brain's winners and learned weights as a few stacked arrays.

    Attributes:
        winners: int32[A, K], area ``i`` of ``spec.areas`` in row ``i``, PAD beyond its k
            (``K``: the largest k).
        n_winners: int32[A].
        stores: a :class:`~jaxbrain.sparse_delta.DeltaStore` with ``pre, post, delta`` of
            shape [F, C] and ``size, dropped`` of shape [F], fibre ``j`` of
            ``spec.all_fibres()`` in row ``j``.
    """
    winners: jax.Array
    n_winners: jax.Array
    stores: sd.DeltaStore


def _check(spec: B.BrainSpec):
    caps = {spec.capacity_of(f) for f in spec.all_fibres()}
    if spec.stimuli or spec.track_support or spec.law != "hash" or len(caps) != 1:
        raise ValueError("batched: needs a brain of areas only (no stimuli), law 'hash', "
                         "track_support=False and one store capacity for all fibres; got "
                         f"{len(spec.stimuli)} stimuli, law {spec.law!r}, track_support="
                         f"{spec.track_support}, capacities {sorted(caps)}")


def _k_max(spec: B.BrainSpec) -> int:
    return max(a.k for a in spec.areas)


def _pad_row(w: jax.Array, k_max: int) -> jax.Array:
    """int32[..., k] -> int32[..., k_max], PAD-padded."""
    pad = [(0, 0)] * (w.ndim - 1) + [(0, k_max - w.shape[-1])]
    return jnp.pad(w, pad, constant_values=B.PAD)


def stack(spec: B.BrainSpec, state: B.BrainState) -> Stacked:
    """The winners and stores of ``state`` stacked (:class:`Stacked`)."""
    _check(spec)
    km = _k_max(spec)
    return Stacked(
        jnp.stack([_pad_row(state.areas[a.name].winners, km) for a in spec.areas]),
        jnp.stack([state.areas[a.name].n_winners for a in spec.areas]),
        jax.tree.map(lambda *x: jnp.stack(x), *[state.stores[f.key] for f in spec.all_fibres()]))


def unstack(spec: B.BrainSpec, state: B.BrainState, st: Stacked) -> B.BrainState:
    """``state`` with the winners and stores of ``st`` (its other leaves unchanged)."""
    areas = {a.name: state.areas[a.name]._replace(winners=st.winners[i, :a.k],
                                                  n_winners=st.n_winners[i])
             for i, a in enumerate(spec.areas)}
    stores = {f.key: jax.tree.map(lambda x: x[j], st.stores)
              for j, f in enumerate(spec.all_fibres())}
    return state._replace(areas=areas, stores=stores)


def area_index(spec: B.BrainSpec, name: str) -> int:
    return [a.name for a in spec.areas].index(name)


def put_area(spec: B.BrainSpec, st: Stacked, state: B.BrainState, area: str) -> Stacked:
    """``st`` with ``area``'s winners taken from ``state`` (after an edit such as
    ``brain.activate`` or ``brain.clear`` there)."""
    i = area_index(spec, area)
    a = state.areas[area]
    return st._replace(winners=st.winners.at[i].set(_pad_row(a.winners, _k_max(spec))),
                       n_winners=st.n_winners.at[i].set(a.n_winners))


# ---- one round ---------------------------------------------------------------------------

class _Layout(NamedTuple):
    """Static layout of one projection map (trace time).

    areas: int[As] rows of ``spec.areas`` the map touches (local area ``i`` = ``areas[i]``);
    fibres: int[P] rows of ``spec.all_fibres()``, one per (target, fibre) pair, in
    :func:`.fibrewise.project_round`'s order; src, dst: int[P] local areas of each pair;
    fid, thr, m_cap: uint32 / uint32 / int32 [P] fibre ids, connection thresholds and
    Hebbian pair caps; inputs: ``[((k_src, n_dst, p), pairs)]`` of the computed targets;
    targets: ``[((n, k), local areas, int[T, Fmax] pair per fibre slot (-1: none), the
    largest source k per slot)]``; hebb: ``[((k_src, k_dst), pairs)]``, the Hebbian batches.
    """
    areas: np.ndarray
    fibres: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    fid: np.ndarray
    thr: np.ndarray
    m_cap: np.ndarray
    inputs: list
    targets: list
    hebb: list


def _layout(spec: B.BrainSpec, pm, fixed, hebb_density: float, hebb_batch: str) -> _Layout:
    incoming = defaultdict(list)
    for src, tgts in pm:
        for t in tgts:
            incoming[t].append(spec.fibre(src, t))
    pairs = [(t, f) for t, fs in incoming.items() for f in fs]
    names = [a.name for a in spec.areas]
    keys = [f.key for f in spec.all_fibres()]
    used = sorted({names.index(f.src) for _, f in pairs} | {names.index(t) for t in incoming})
    local = {names[i]: j for j, i in enumerate(used)}
    inputs = defaultdict(list)
    per_target = defaultdict(list)
    for j, (t, f) in enumerate(pairs):
        if t not in fixed:
            inputs[(spec.area(f.src).k, spec.area(t).n, f.p)].append(j)
            per_target[t].append(j)
    by_shape = defaultdict(list)
    for t, js in per_target.items():
        by_shape[(spec.area(t).n, spec.area(t).k)].append((local[t], js))
    targets = []
    for shape, rows in by_shape.items():
        slots = np.full((len(rows), max(len(js) for _, js in rows)), -1, np.int64)
        for r, (_, js) in enumerate(rows):
            slots[r, :len(js)] = js
        slot_k = [max(spec.area(pairs[j][1].src).k for j in js if j >= 0) for js in slots.T]
        targets.append((shape, np.array([i for i, _ in rows]), slots, slot_k))
    if hebb_batch == "all":
        hebb = {(_k_max(spec), _k_max(spec)): list(range(len(pairs)))}
    else:
        hebb = defaultdict(list)
        for j, (t, f) in enumerate(pairs):
            hebb[(spec.area(f.src).k, spec.area(t).k)].append(j)
    return _Layout(
        np.array(used), np.array([keys.index(f.key) for _, f in pairs]),
        np.array([local[f.src] for _, f in pairs]), np.array([local[t] for t, _ in pairs]),
        np.array([f.fid for _, f in pairs], np.uint32),
        np.array([implicit.p_threshold(f.p) for _, f in pairs], np.uint32),
        np.array([_hebb_cap(spec, f.src, t, hebb_density) for t, f in pairs], np.int32),
        sorted(inputs.items()), targets, sorted(hebb.items()))


def _counts(w, n, fid, seed, *, p, n_dst):
    """float32[P, n_dst]: hashed synapse counts of P fibres from the sources' winners
    ``w`` int32[P, k_src] (the first ``n`` int32[P] fire); ``fid``: uint32[P]."""
    w, n, fid, seed = _opaque(w, n, fid, seed)
    return jax.vmap(lambda w, n, f: implicit.area_input(
        seed, f, p, w, jnp.arange(w.shape[0]) < n, n_dst))(w, n, fid)


def _add_fibres(x, c, w, stores):
    """``fibrewise._k_input`` of T targets at once: ``x + c`` then the learned deltas of
    the fibres' stores (rows of ``stores``, [T, C]) from the firing sources ``w`` int32[T,
    K] (PAD-padded); x, c float32[T, n]. Returns float32[T, n]."""
    x, c, w, stores = _opaque(x, c, w, stores)
    return jax.vmap(lambda x, c, w, s: sd.sum_into_post(s, w, x.shape[0], into=x + c))(
        x, c, w, stores)


def _cap(x, *, k, method):
    """int32[T, k]: the k-caps of the T inputs x float32[T, n]."""
    x, = _opaque(x)
    return jax.vmap(lambda v: k_cap(v, k, method))(x)


def _update_stores(stores, pre, post, ok, beta, w_max, each: bool):
    """``brain._update_store`` of P stores (pre, post, ok [P, M]; beta float32[P]) with the
    rule ``w <- min(w (1 + beta), w_max)``: vmapped, or (``each``) one store at a time, so
    that on the CPU backend each skips its O(capacity) merge when it gets no new key (under
    vmap that ``cond`` runs both branches; the merge is most of the CPU's time)."""
    def one(store, pre, post, ok, beta):
        return B._update_store(store, pre, post, lambda old, found: jnp.minimum(
            (1.0 + old) * (1.0 + beta), w_max) - 1.0, ok)

    args = (stores, pre, post, ok, beta)
    if not each:
        return jax.vmap(one)(*args)
    rows = [one(*jax.tree.map(lambda a: a[i], args)) for i in range(beta.shape[0])]
    return jax.tree.map(lambda *a: jnp.stack(a), *rows)


def _hebb(stores, src_w, src_n, new_w, n_new, fid, thr, m_cap, seed, beta, w_max, plastic,
          *, size, each):
    """``fibrewise._k_hebb`` of P fibres at once: winners int32[P, ks] of the sources
    before the round and int32[P, kd] of the targets after it (the first ``src_n`` /
    ``n_new`` int32[P] valid, PAD-padded), fid / thr / m_cap / beta [P]; ``size``: the
    largest ``m_cap``; ``each``: as in :func:`_update_stores`. Returns the P updated
    stores."""
    (stores, src_w, src_n, new_w, n_new, fid, thr, m_cap, seed, beta, w_max,
     plastic) = _opaque(stores, src_w, src_n, new_w, n_new, fid, thr, m_cap, seed, beta,
                        w_max, plastic)

    def pairs(sw, sn, nw, nn, fid, thr, m_cap, beta):
        ks, kd = sw.shape[0], nw.shape[0]
        conn = implicit.pair_hash(implicit.source_keys(seed, fid, sw)[:, None],
                                  nw[None, :]) < thr
        valid = (conn & (jnp.arange(ks) < sn)[:, None] & (jnp.arange(kd) < nn)[None, :]
                 & plastic & (beta != 0)).reshape(-1)
        m = ks * kd
        sel = jnp.nonzero(valid, size=size, fill_value=m)[0]
        ok = (sel < m) & (jnp.arange(size) < m_cap)        # the first m_cap synapses
        sel = jnp.minimum(sel, m - 1)
        overflow = jnp.sum(valid, dtype=jnp.int32) - jnp.sum(ok, dtype=jnp.int32)
        return sw[sel // kd], nw[sel % kd], ok, overflow

    pre, post, ok, overflow = jax.vmap(pairs)(src_w, src_n, new_w, n_new, fid, thr, m_cap,
                                              beta)
    stores = _update_stores(stores, pre, post, ok, beta, w_max, each)
    return stores._replace(dropped=stores.dropped + overflow)


def _round(spec: B.BrainSpec, lay: _Layout, sub, beta, w_max, plastic, seed, learn: bool,
           hebb_batch: str):
    """One synchronous projection of the map laid out in ``lay`` on ``sub = (winners
    int32[As, K], n_winners int32[As], stores [P, C])``, the rows of the areas and pairs
    of ``lay``; returns the new ``sub``."""
    w, n, stores = sub
    fid = jnp.asarray(lay.fid)
    rows, parts = {}, defaultdict(list)    # pair -> row of its counts in parts[n_dst]
    for (ks, nd, p), js in lay.inputs:
        js = np.array(js)
        base = sum(x.shape[0] for x in parts[nd])
        parts[nd].append(_counts(w[lay.src[js], :ks], n[lay.src[js]], fid[js], seed, p=p,
                                 n_dst=nd))
        rows.update({int(j): base + i for i, j in enumerate(js)})
    src_w = jnp.concatenate([w, jnp.full((1, w.shape[1]), B.PAD, jnp.int32)])  # + none
    new_w, new_n = w, n
    for (nd, k), areas, slots, slot_k in lay.targets:
        c = jnp.concatenate(parts[nd] + [jnp.zeros((1, nd), jnp.float32)])
        x = jnp.zeros((len(areas), nd), jnp.float32)
        for js, ks in zip(slots.T, slot_k):    # one fibre slot of every target (-1: none)
            none = js < 0
            c_rows = np.array([rows.get(j, c.shape[0] - 1) for j in js.tolist()])
            js = np.where(none, 0, js)
            x = _add_fibres(x, c[c_rows], src_w[np.where(none, w.shape[0], lay.src[js]), :ks],
                            jax.tree.map(lambda a: a[js], stores))
        win = _cap(x, k=k, method=spec.kcap)
        new_w = new_w.at[areas].set(_pad_row(win, w.shape[1]))
        new_n = new_n.at[areas].set(k)
    for (ks, kd), js in lay.hebb if learn else ():
        js = np.array(js)
        whole = len(js) == len(lay.fibres)            # "all": no gather, no scatter
        take = (lambda a: a) if whole else (lambda a: a[js])
        upd = _hebb(jax.tree.map(take, stores), w[lay.src[js], :ks], n[lay.src[js]],
                    new_w[lay.dst[js], :kd], new_n[lay.dst[js]], fid[js],
                    jnp.asarray(lay.thr[js]), jnp.asarray(lay.m_cap[js]), seed, take(beta),
                    w_max, plastic, size=int(lay.m_cap[js].max()),
                    each=hebb_batch == "shape")
        stores = upd if whole else jax.tree.map(lambda a, b: a.at[js].set(b), stores, upd)
    return new_w, new_n, stores


def project_rounds(spec: B.BrainSpec, state: B.BrainState, st: Stacked, pm, count: int,
                   fixed=frozenset(), learn: bool = True, hebb_density: float = 0.4,
                   seed=None, hebb_batch: str = "auto") -> Stacked:
    """``count`` rounds of :func:`.fibrewise.project_round` (same arguments, same result bit
    for bit) on the stacked ``st``, batched over the round's fibres and areas, as one
    ``fori_loop`` when ``count > 1``.

    Arguments:
        spec: the brain (:func:`stack`'s scope); state: its beta, w_max and plastic (read).
        st: the winners and stores; pm, fixed, learn, hebb_density, seed: as in
            :func:`.fibrewise.project_round`.
        hebb_batch: ``"all"`` (one padded Hebbian batch), ``"shape"`` (one per source and
            target k, stores merged one by one) or ``"auto"`` (``"shape"`` on the CPU
            backend, else ``"all"``); the same result.
    Returns:
        The new ``st``.
    """
    if hebb_batch == "auto":
        hebb_batch = "shape" if jax.default_backend() == "cpu" else "all"
    if hebb_batch not in ("all", "shape"):
        raise ValueError(f"project_rounds: hebb_batch={hebb_batch!r}; allowed: 'auto', "
                         "'all', 'shape'")
    lay = _layout(spec, pm, frozenset(fixed), hebb_density, hebb_batch)
    keys = [f.key for f in spec.all_fibres()]
    beta = jnp.stack([state.beta[keys[j]] for j in lay.fibres])
    seed = jnp.uint32(spec.seed) if seed is None else seed
    sub = (st.winners[lay.areas], st.n_winners[lay.areas],
           jax.tree.map(lambda x: x[lay.fibres], st.stores))

    def body(_, s):
        return _round(spec, lay, s, beta, state.w_max, state.plastic, seed, learn,
                      hebb_batch)

    w, n, stores = body(0, sub) if count == 1 else jax.lax.fori_loop(0, count, body, sub)
    if learn:
        st = st._replace(stores=jax.tree.map(lambda x, y: x.at[lay.fibres].set(y),
                                             st.stores, stores))
    return st._replace(winners=st.winners.at[lay.areas].set(w),
                       n_winners=st.n_winners.at[lay.areas].set(n))
