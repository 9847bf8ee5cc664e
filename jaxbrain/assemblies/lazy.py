"""Lazy ("sparse") NEMO simulation: only neurons that ever fired exist (brain.py project_into).

Each area keeps a **support** of at most ``capacity`` neurons that have fired, with compact
ids 0..w-1; the other ``n - w`` neurons are never represented, so the cost of a step is
O(k * capacity), independent of n (n = 1e9 runs like n = 1e5). Per target area, a
projection does (as the reference brain.py, in fixed-capacity buffers so it jits):

1. inputs to the w support neurons from firing stimuli and firing source areas' winners
   (stored weights);
2. ``total_k`` = number of firing source neurons; ``alpha`` = the Binomial(total_k, p)
   quantile at ``1 - k / (n - w)``;
3. k candidate inputs for never-fired neurons drawn from the Binomial tail ``X >= alpha``
   (exact inverse CDF of the truncated Binomial; brain.py uses a truncated normal);
4. top-k over support + candidates, ties to the lower index (support first;
   :func:`kcap.k_cap`, whose ``auto`` takes pairwise ranks on a GPU, with no sort);
5. each new winner with input x gets x of the ``total_k`` firing source neurons, chosen
   uniformly without replacement (so split hypergeometrically by source): the x smallest of
   distinct random uint32 keys (hash bits, the slot index in the low bits, so there are no
   ties and a sort on the CPU or pairwise ranks on a GPU choose the same x), as its synapses
   from them; every other synapse to or from a support neuron is Bernoulli(p), drawn from
   the same hash as implicit mode on compact ids (pre-filled at init, so nothing is drawn
   at birth except the conditioned column);
6. Hebbian ``w <- min(w (1 + beta), w_max)`` from source winners to target winners;
7. all targets commit together (synchronous).

Connectomes are dense float32 ``[capacity_src, capacity_dst]`` per area fibre and
``[capacity_dst]`` (count, multiplier) per stimulus fibre. A support that would exceed its
capacity is counted in ``overflow`` (those winners are dropped: size capacities from
``support`` of a test run). All fibres share the brain's ``p`` (as brain.py).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import rng
from . import implicit, kcap
from .brain import PAD, BrainSpec, Fibre, _freeze

__all__ = ["LazyState", "init", "project", "LazyBrain"]


class LazyArea(NamedTuple):
    winners: jax.Array    # int32[k] compact ids, sorted, PAD-padded
    n_winners: jax.Array
    w: jax.Array          # support size
    fixed: jax.Array
    num_new: jax.Array
    overflow: jax.Array


class LazyState(NamedTuple):
    areas: dict
    conn: dict            # area fibre -> float32[C_src, C_dst]; stim fibre -> (count, mult) [C_dst]
    beta: dict
    plastic: jax.Array
    w_max: jax.Array
    step: jax.Array       # uint32 counter for the random draws


def _log_binom_pmf(t: int, p: float) -> np.ndarray:
    return np.log(np.maximum(implicit.binomial_pmf(t, p), 1e-300))


def init(spec: BrainSpec, capacity: int) -> LazyState:
    """Empty supports; connectomes pre-filled with the hashed Bernoulli(p) graph."""
    areas = {a.name: LazyArea(jnp.full((a.k,), PAD, jnp.int32), jnp.int32(0), jnp.int32(0),
                              jnp.bool_(False), jnp.int32(0), jnp.int32(0)) for a in spec.areas}
    conn = {}
    ids = jnp.arange(capacity, dtype=jnp.uint32)
    for f in spec.all_fibres():
        if spec.is_stimulus(f.src):
            c = implicit.stim_counts(spec.seed, f.fid, spec.stimulus(f.src).k, spec.p, capacity)
            conn[f.key] = (c, jnp.ones((capacity,), jnp.float32))
        else:
            conn[f.key] = implicit.connected(spec.seed, f.fid, spec.p, ids[:, None],
                                             ids[None, :]).astype(jnp.float32)
    return LazyState(areas, conn, {f.key: jnp.float32(f.beta) for f in spec.all_fibres()},
                     jnp.bool_(True), jnp.float32(spec.w_max), jnp.uint32(0))


def _tail_sample(total_k: int, n_firing, p: float, eff_n, k: int, u):
    """k draws of X ~ Binomial(n_firing, p) conditioned on X >= alpha (alpha as brain.py)."""
    xs = jnp.arange(total_k + 1)
    # pmf of Binomial(n_firing, p) over 0..total_k (n_firing dynamic <= total_k)
    nf = n_firing.astype(jnp.float32)
    lg = jax.scipy.special.gammaln
    logpmf = (lg(nf + 1) - lg(xs + 1.0) - lg(jnp.maximum(nf - xs, 0) + 1.0)
              + xs * math.log(p) + (nf - xs) * math.log1p(-p))
    pmf = jnp.where(xs <= n_firing, jnp.exp(logpmf), 0.0)
    sf_ge = jnp.cumsum(pmf[::-1])[::-1]            # P(X >= x)
    sf_gt = sf_ge - pmf                             # P(X > x)
    q_tail = k / eff_n.astype(jnp.float32)          # alpha = ppf(1 - k/eff_n): P(X > alpha) <= k/eff_n
    alpha = jnp.argmax(sf_gt <= q_tail)
    tail = sf_ge[alpha]
    # x = largest x >= alpha with P(X >= x) >= u * P(X >= alpha)
    target = u * tail
    ok = (sf_ge[None, :] >= target[:, None]) & (xs[None, :] >= alpha)
    x = jnp.max(jnp.where(ok, xs[None, :], alpha), axis=1)
    return x.astype(jnp.float32), alpha


def project(spec: BrainSpec, state: LazyState, stimuli=None, areas=None) -> LazyState:
    """One synchronous lazy projection (same arguments as :func:`brain.project`).

    Targets of the same shape (support capacity, k, firing-slot count) take the candidate
    draw, the k-cap and the source choice together, batched (one set of kernels instead of
    one per target); the per-target math is unchanged."""
    incoming = defaultdict(list)
    for s, tgts in (stimuli or {}).items():
        for t in tgts:
            incoming[t].append(spec.fibre(s, t))
    for a, tgts in (areas or {}).items():
        for t in tgts:
            incoming[t].append(spec.fibre(a, t))
    step = state.step
    # 1. inputs to the support neurons, per target
    plans = []
    for ti, (t, fibres) in enumerate(sorted(incoming.items())):
        A = spec.area(t)
        ts = state.areas[t]
        cap_t = _cap(state, spec, t)
        sizes, valid_slots, fire_any = [], [], jnp.bool_(False)
        x = jnp.zeros((cap_t,), jnp.float32)
        for f in fibres:
            if spec.is_stimulus(f.src):
                ks = spec.stimulus(f.src).k
                c, m = state.conn[f.key]
                x = x + c * m
                sizes.append(ks)
                valid_slots.append(jnp.ones((ks,), bool))
                fire_any = jnp.bool_(True)
            else:
                src = state.areas[f.src]
                ks = spec.area(f.src).k
                ok = jnp.arange(ks) < src.n_winners
                rows = state.conn[f.key][jnp.where(ok, src.winners, 0)]          # [ks, cap_t]
                x = x + jnp.sum(jnp.where(ok[:, None], rows, 0.0), axis=0)
                sizes.append(ks)
                valid_slots.append(ok)
                fire_any = fire_any | (src.n_winners > 0)
        slots_ok = jnp.concatenate(valid_slots)
        plans.append(dict(t=t, ti=ti, A=A, ts=ts, cap_t=cap_t, fibres=fibres, sizes=sizes,
                          fire_any=fire_any, slots_ok=slots_ok,
                          x=jnp.where(jnp.arange(cap_t) < ts.w, x, -jnp.inf)))
    # 2-5. candidates, k-cap and source choice, batched over targets of one shape
    groups = defaultdict(list)
    for pl in plans:
        groups[(pl["cap_t"], pl["A"].k, sum(pl["sizes"]))].append(pl)
    for (cap_t, k, total_max), group in groups.items():
        stack = lambda key: jnp.stack([pl[key] for pl in group])
        ts_w = jnp.stack([pl["ts"].w for pl in group])
        out = jax.vmap(lambda x, ok, w, fire, fixed, ti, n: _select(
            spec, step, ti, x, ok, w, fire, fixed, n, cap_t, k, total_max))(
            stack("x"), stack("slots_ok"), ts_w, stack("fire_any"),
            jnp.stack([pl["ts"].fixed for pl in group]),
            jnp.asarray([pl["ti"] for pl in group], jnp.uint32),
            jnp.asarray([pl["A"].n for pl in group], jnp.int32))
        for g, pl in enumerate(group):
            pl.update({key: v[g] for key, v in out.items()})
    # 6. Hebbian updates and the synapses of new winners; 7. all targets commit together
    new_areas = dict(state.areas)
    conn = dict(state.conn)
    for pl in plans:
        A, ts, cap_t, change, win = pl["A"], pl["ts"], pl["cap_t"], pl["change"], pl["win"]
        col = jnp.where(pl["is_new_fit"] & change, win, cap_t)                   # drop others
        winners_final = jnp.where(change, jnp.sort(win), ts.winners)
        off = 0
        for f, ks in zip(pl["fibres"], pl["sizes"]):
            ch = pl["chosen"][:, off:off + ks]
            off += ks
            beta = jnp.where(state.plastic, state.beta[f.key], 0.0)
            tw = winners_final
            tok = jnp.arange(A.k) < jnp.where(change, A.k, ts.n_winners)
            if spec.is_stimulus(f.src):
                c, m = conn[f.key]
                c = c.at[col].set(jnp.sum(ch, axis=1).astype(jnp.float32), mode="drop")
                m = m.at[col].set(1.0, mode="drop")
                m = m.at[jnp.where(tok, tw, cap_t)].multiply(1.0 + beta, mode="drop")
                m = jnp.minimum(m, state.w_max)
                conn[f.key] = (c, m)
            else:
                src = state.areas[f.src]
                sok = jnp.arange(ks) < src.n_winners
                W = conn[f.key]
                rows = jnp.where(sok, src.winners, W.shape[0])
                W = W.at[rows[:, None], col[None, :]].set(ch.T.astype(jnp.float32), mode="drop")
                cols = jnp.where(tok, tw, cap_t)
                sub = W.at[rows[:, None], cols[None, :]].get(mode="fill", fill_value=0.0)
                sub = jnp.minimum(sub * (1.0 + beta), state.w_max) * (sub > 0)
                W = W.at[rows[:, None], cols[None, :]].set(sub, mode="drop")
                conn[f.key] = W
        new_areas[pl["t"]] = ts._replace(
            winners=winners_final,
            n_winners=jnp.where(change, jnp.int32(A.k) - pl["overflow"], ts.n_winners),
            w=jnp.where(change, ts.w + pl["n_new"], ts.w),
            num_new=jnp.where(change, pl["n_new"], 0), overflow=ts.overflow + pl["overflow"])
    return state._replace(areas=new_areas, conn=conn, step=step + jnp.uint32(1))


def _select(spec, step, ti, x, slots_ok, w, fire_any, fixed, n, cap_t: int, k: int, total_max: int):
    """Steps 2-5 for one target (vmapped over targets of one shape): the Binomial-tail
    candidates, the k-cap over support + candidates, the new winners' compact ids, and which
    firing source slots feed each new winner (bool[k, total_max])."""
    n_firing = jnp.sum(slots_ok, dtype=jnp.int32)
    u = rng.uniform(spec.seed, 0x1A2, step, ti, jnp.arange(k, dtype=jnp.uint32))
    cand, _ = _tail_sample(total_max, n_firing, spec.p, n - w, k, u)
    allx = jnp.concatenate([x, cand])
    top = kcap.k_cap(allx, k)                         # sorted; ties to the lower index
    is_new = top >= cap_t
    new_ids = w + jnp.cumsum(is_new) - 1
    fits = new_ids < cap_t
    win = jnp.where(is_new, jnp.where(fits, new_ids, PAD), top).astype(jnp.int32)
    change = fire_any & ~fixed
    new_x = jnp.where(is_new, allx[top], 0.0)
    chosen = _choose_smallest(_source_keys(spec.seed, step, ti, k, total_max, slots_ok),
                              new_x.astype(jnp.int32)) & (is_new & fits & change)[:, None]
    return dict(win=win, change=change, is_new_fit=is_new & fits, chosen=chosen,
                n_new=jnp.sum(is_new & fits, dtype=jnp.int32),
                overflow=jnp.sum(is_new & ~fits, dtype=jnp.int32))


def _source_keys(seed, step, ti, k: int, total: int, slots_ok):
    """Distinct uint32 keys [k, total]: hash bits with the slot index in the low bits;
    slots of non-firing sources get the largest key (never among the x smallest)."""
    b = max(total - 1, 1).bit_length()
    j = jnp.arange(total, dtype=jnp.uint32)
    h = rng.hash_u32(seed, 0x5B1, step, ti, jnp.arange(k, dtype=jnp.uint32)[:, None], j[None, :])
    keys = ((h >> (b + 1)) << b) | j[None, :]                  # < 2**31: below the pad key
    return jnp.where(slots_ok[None, :], keys, jnp.uint32(0xFFFFFFFF))


def _choose_smallest(keys, x, by_rank: bool | None = None):
    """bool[k, total]: per row, the ``x[row]`` smallest of distinct keys. A sort on the CPU,
    pairwise ranks (one fused compare-and-count, no sort) on a GPU (``by_rank`` None: by
    backend): the same choice."""
    if by_rank is None:
        by_rank = jax.default_backend() != "cpu"
    if not by_rank:
        srt = jnp.sort(keys, axis=1)
        thr = srt[jnp.arange(keys.shape[0]), jnp.clip(x - 1, 0, keys.shape[1] - 1)]
        return (keys <= thr[:, None]) & (x > 0)[:, None]
    rank = jnp.sum(keys[:, None, :] < keys[:, :, None], axis=2, dtype=jnp.int32)
    return rank < x[:, None]


def _cap(state, spec, area):
    for f in spec.all_fibres():
        if f.dst == area:
            v = state.conn[f.key]
            return (v[0] if isinstance(v, tuple) else v).shape[-1]
    raise KeyError(area)


class LazyBrain:
    """Host wrapper like :class:`brain.Brain` (project, set_winners, support, winners)."""

    _cache: dict = {}

    def __init__(self, spec: BrainSpec, capacity: int):
        ps = {f.p for f in spec.all_fibres()}
        if ps != {spec.p}:
            raise ValueError(f"lazy mode needs every fibre at the brain's p={spec.p}; got {sorted(ps)}")
        self.spec, self.capacity = spec, capacity
        self.state = init(spec, capacity)

    def project(self, stimuli=None, areas=None):
        key = (self.spec, self.capacity, _freeze(stimuli), _freeze(areas))
        if key not in LazyBrain._cache:
            st, ar = dict(key[2]), dict(key[3])
            spec = self.spec
            LazyBrain._cache[key] = jax.jit(lambda s: project(spec, s, st, ar))
        self.state = LazyBrain._cache[key](self.state)
        return self

    def set_winners(self, area, ids):
        a = self.spec.area(area)
        ids = np.sort(np.asarray(ids, np.int32))
        w = np.full(a.k, PAD, np.int32)
        w[:len(ids)] = ids
        areas = dict(self.state.areas)
        areas[area] = areas[area]._replace(winners=jnp.asarray(w), n_winners=jnp.int32(len(ids)))
        self.state = self.state._replace(areas=areas)

    def set_plasticity(self, on):
        self.state = self.state._replace(plastic=jnp.bool_(on))

    def winners(self, area):
        w = np.asarray(self.state.areas[area].winners)
        return w[w != PAD]

    def support(self, area):
        return int(self.state.areas[area].w)

    def num_new(self, area):
        return int(self.state.areas[area].num_new)

    def overflow(self, area):
        return int(self.state.areas[area].overflow)
