"""The NEMO brain (assembly calculus) in implicit mode: a pytree state and pure operations.

Model (Papadimitriou et al., PNAS 2020; Mitropolsky & Papadimitriou's brain.py):

* an **area** has ``n`` neurons of which the ``k`` with the largest synaptic input fire
  (k-cap, ties to the lower index: :mod:`.kcap`);
* a **stimulus** is ``k`` neurons that fire together whenever it is projected;
* a **fibre** ``src -> dst`` (stimulus or area into area) is a Bernoulli(p) random graph
  regenerated from a hash (:mod:`.implicit`), never stored; every synapse has weight
  ``w = 1 + delta`` where ``delta`` lives in a per-fibre :mod:`jaxbrain.sparse_delta` store
  (absent = 0) that **every projection reads back**;
* ``project`` is synchronous: every target's input is the sum over its firing fibres of
  ``sum_{i firing} w_ij`` computed from the winners *before* the step; then each target
  k-caps (unless fixed), then Hebbian plasticity multiplies the weight of every existing
  synapse from a source winner (before the step) onto a target winner (after the step) by
  ``1 + beta`` and caps it at ``w_max``: ``w <- min(w (1 + beta), w_max)``; ``beta`` is per
  fibre (a dynamic value in the state, so it can change without recompiling); a global
  ``plastic`` flag turns learning off (the reference's ``disable_plasticity``);
* areas and fibres can be inhibited (an inhibited area neither fires nor changes; an
  inhibited fibre carries nothing); an area's assembly can be fixed (it keeps its winners
  when projected into, while its incoming synapses still learn, as in brain.py).

A stimulus fibre stores one weight per target neuron (pre id 0): all ``c_j`` synapses from a
stimulus onto neuron ``j`` share it, as in brain.py's per-neuron stimulus connectome.

Winners are int32[k] sorted ascending, padded with ``PAD`` (2**31 - 1) when fewer than k
fire (pattern completion fires a subset). The state is a NamedTuple pytree: jit, vmap over
independent brains, and checkpoint it like any pytree.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial
from typing import Mapping, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .. import sparse_delta as sd
from . import implicit
from .kcap import METHODS, k_cap

__all__ = ["Area", "Stimulus", "Fibre", "BrainSpec", "AreaState", "BrainState", "PAD",
           "init", "project", "assembly_ids", "activate", "set_winners", "fix", "unfix", "inhibit",
           "disinhibit", "inhibit_fibre", "disinhibit_fibre", "set_plasticity", "set_beta", "set_w_max",
           "area_inputs", "fibre_counts", "fibre_weights", "overlap", "Brain"]

PAD = np.int32(2**31 - 1)


@dataclass(frozen=True)
class Area:
    """An area of ``n`` neurons of which ``k`` fire; ``beta`` is the default plasticity of
    fibres into it."""
    name: str
    n: int
    k: int
    beta: float = 0.05


@dataclass(frozen=True)
class Stimulus:
    """``k`` neurons that fire together when projected."""
    name: str
    k: int


@dataclass(frozen=True)
class Fibre:
    """A fibre ``src -> dst``; ``p`` / ``beta`` default to the brain's p / the target's beta;
    ``capacity`` (learned-delta slots) to the brain's ``store_capacity``."""
    src: str
    dst: str
    p: float | None = None
    beta: float | None = None
    capacity: int | None = None

    @property
    def key(self) -> str:
        return f"{self.src}->{self.dst}"

    @property
    def fid(self) -> int:
        """The fibre's hash id: a CRC of its name, stable when other fibres change."""
        return zlib.crc32(self.key.encode()) & 0x7FFFFFFF


@dataclass(frozen=True)
class BrainSpec:
    """Static description of a brain (hashable; changing it recompiles).

    Attributes:
        areas, stimuli: the populations (names unique across both).
        fibres: the fibres; ``None`` means every stimulus -> area and area -> area pair.
        p: default connection probability.
        w_max: initial weight cap of the Hebbian update (``inf``: none, as in brain.py);
            the cap lives in the state (:func:`set_w_max`).
        seed: connectivity seed.
        store_capacity: learned-delta slots per area -> area fibre (stimulus fibres get
            ``sum of target k`` ... at most n slots; see ``capacity_of``).
        kcap: k-cap method (``kcap.METHODS``: 'auto', 'top_k', 'threshold', 'blocks').
        law: connectivity law of the area -> area fibres (``implicit.LAWS``: 'hash', the pair
            hash; 'block', per (source, block of targets) counts and positions).
        track_support: keep a bool[n] "ever fired" mask per area (support size ``w``).
    """
    areas: tuple[Area, ...]
    stimuli: tuple[Stimulus, ...] = ()
    fibres: tuple[Fibre, ...] | None = None
    p: float = 0.01
    w_max: float = math.inf
    seed: int = 0
    store_capacity: int = 2**16
    kcap: str = "auto"
    law: str = "hash"
    track_support: bool = True

    def __post_init__(self):
        names = [a.name for a in self.areas] + [s.name for s in self.stimuli]
        if len(set(names)) != len(names):
            raise ValueError(f"BrainSpec: area/stimulus names must be unique, got {names}")
        for a in self.areas:
            if not (isinstance(a.n, int) and isinstance(a.k, int) and 0 < a.k < a.n):
                raise ValueError(f"BrainSpec: area {a.name!r} needs ints 0 < k < n, got "
                                 f"n={a.n!r}, k={a.k!r}")
            if a.n >= 2**31 - 1:
                raise ValueError(f"BrainSpec: area {a.name!r}: n={a.n} must be < 2**31 - 1")
        if not 0 < self.p < 1:
            raise ValueError(f"BrainSpec: p={self.p!r} must be in (0, 1)")
        if self.law not in implicit.LAWS:
            raise ValueError(f"BrainSpec: law={self.law!r}; allowed: {', '.join(map(repr, implicit.LAWS))}")
        if self.kcap not in METHODS:
            raise ValueError(f"BrainSpec: kcap={self.kcap!r}; allowed: {', '.join(map(repr, METHODS))}")
        if self.fibres is not None:
            area_names = {a.name for a in self.areas}
            keys = set()
            for f in self.fibres:
                if f.src not in names:
                    raise ValueError(f"BrainSpec: fibre {f.key!r}: source {f.src!r} is no area "
                                     f"or stimulus; allowed: {names}")
                if f.dst not in area_names:
                    raise ValueError(f"BrainSpec: fibre {f.key!r}: target {f.dst!r} is no "
                                     f"area; allowed: {sorted(area_names)}")
                if f.key in keys:
                    raise ValueError(f"BrainSpec: fibre {f.key!r} declared twice")
                if f.capacity is not None and not (isinstance(f.capacity, int) and f.capacity > 0):
                    raise ValueError(f"BrainSpec: fibre {f.key!r}: capacity={f.capacity!r} must "
                                     "be a positive int")
                keys.add(f.key)

    # ---- lookups (static, trace time) ----
    def area(self, name: str) -> Area:
        for a in self.areas:
            if a.name == name:
                return a
        raise KeyError(f"no area {name!r}; areas: {[a.name for a in self.areas]}")

    def is_stimulus(self, name: str) -> bool:
        return any(s.name == name for s in self.stimuli)

    def stimulus(self, name: str) -> Stimulus:
        for s in self.stimuli:
            if s.name == name:
                return s
        raise KeyError(f"no stimulus {name!r}; stimuli: {[s.name for s in self.stimuli]}")

    def all_fibres(self) -> tuple[Fibre, ...]:
        """Fibres with ``p`` and ``beta`` resolved."""
        if self.fibres is None:
            raw = [Fibre(s.name, a.name) for s in self.stimuli for a in self.areas]
            raw += [Fibre(s.name, a.name) for s in self.areas for a in self.areas]
        else:
            raw = list(self.fibres)
        return tuple(Fibre(f.src, f.dst, self.p if f.p is None else f.p,
                           self.area(f.dst).beta if f.beta is None else f.beta, f.capacity)
                     for f in raw)

    def fibre(self, src: str, dst: str) -> Fibre:
        for f in self.all_fibres():
            if f.src == src and f.dst == dst:
                return f
        raise KeyError(f"no fibre {src}->{dst}; declare it in BrainSpec.fibres")

    def capacity_of(self, f: Fibre) -> int:
        if f.capacity is not None:
            return f.capacity
        if self.is_stimulus(f.src):
            return min(self.area(f.dst).n, self.store_capacity)
        return self.store_capacity


class AreaState(NamedTuple):
    winners: jax.Array      # int32[k] sorted ascending, PAD-padded
    n_winners: jax.Array    # int32[]
    fixed: jax.Array        # bool[]
    inhibited: jax.Array    # bool[]
    ever_fired: jax.Array   # bool[n] (bool[1] if support is not tracked)
    support: jax.Array      # int32[] neurons that ever fired (w in brain.py)
    num_new: jax.Array      # int32[] first-time winners in the last projection into it


class BrainState(NamedTuple):
    areas: dict
    beta: dict              # fibre key -> float32[]
    fibre_inhibited: dict   # fibre key -> bool[]
    stores: dict            # fibre key -> sparse_delta.DeltaStore
    plastic: jax.Array      # bool[]
    w_max: jax.Array        # float32[] weight cap (initialised from spec.w_max)


def init(spec: BrainSpec) -> BrainState:
    """A brain with no assemblies, no learned weights, all areas and fibres disinhibited."""
    areas = {}
    for a in spec.areas:
        areas[a.name] = AreaState(
            winners=jnp.full((a.k,), PAD, jnp.int32), n_winners=jnp.int32(0),
            fixed=jnp.bool_(False), inhibited=jnp.bool_(False),
            ever_fired=jnp.zeros((a.n if spec.track_support else 1,), bool),
            support=jnp.int32(0), num_new=jnp.int32(0))
    fibres = spec.all_fibres()
    return BrainState(
        areas=areas,
        beta={f.key: jnp.float32(f.beta) for f in fibres},
        fibre_inhibited={f.key: jnp.bool_(False) for f in fibres},
        stores={f.key: sd.init(spec.capacity_of(f)) for f in fibres},
        plastic=jnp.bool_(True),
        w_max=jnp.float32(spec.w_max))


# ---- small state edits (pure) -------------------------------------------------------------

def _replace_area(state: BrainState, name: str, **kw) -> BrainState:
    areas = dict(state.areas)
    areas[name] = areas[name]._replace(**kw)
    return state._replace(areas=areas)


def set_winners(spec: BrainSpec, state: BrainState, area: str, ids, count=None) -> BrainState:
    """Make ``ids`` (int[m], m <= k; the first ``count`` are used) the area's firing set."""
    a = spec.area(area)
    ids = jnp.asarray(ids, jnp.int32).reshape(-1)
    m = ids.shape[0]
    if m > a.k:
        raise ValueError(f"set_winners: {m} ids for area {area!r} with k={a.k}")
    count = jnp.int32(m) if count is None else jnp.asarray(count, jnp.int32)
    ids = jnp.where(jnp.arange(m) < count, ids, PAD)
    w = jnp.sort(jnp.concatenate([ids, jnp.full((a.k - m,), PAD, jnp.int32)]))
    return _replace_area(state, area, winners=w, n_winners=jnp.minimum(count, m))


def assembly_ids(k: int, index) -> jax.Array:
    """int32[k]: the neurons of assembly ``index`` of an area of cap ``k``, ``index*k ..
    index*k + k - 1`` (what :func:`activate` fires)."""
    return jnp.asarray(index, jnp.int32) * k + jnp.arange(k, dtype=jnp.int32)


def activate(spec: BrainSpec, state: BrainState, area: str, index) -> BrainState:
    """Fire assembly ``index`` of an area (:func:`assembly_ids`), fixed (brain.py's
    ``activate``, used for explicit areas such as PHON)."""
    ids = assembly_ids(spec.area(area).k, index)
    return _replace_area(set_winners(spec, state, area, ids), area, fixed=jnp.bool_(True))


def fix(state, area):
    return _replace_area(state, area, fixed=jnp.bool_(True))


def unfix(state, area):
    return _replace_area(state, area, fixed=jnp.bool_(False))


def inhibit(state, area):
    return _replace_area(state, area, inhibited=jnp.bool_(True))


def disinhibit(state, area):
    return _replace_area(state, area, inhibited=jnp.bool_(False))


def clear(spec, state, area):
    """Remove the area's assembly (no neuron fires)."""
    a = spec.area(area)
    return _replace_area(state, area, winners=jnp.full((a.k,), PAD, jnp.int32),
                         n_winners=jnp.int32(0), fixed=jnp.bool_(False))


def inhibit_fibre(state, src, dst):
    fi = dict(state.fibre_inhibited)
    fi[f"{src}->{dst}"] = jnp.bool_(True)
    return state._replace(fibre_inhibited=fi)


def disinhibit_fibre(state, src, dst):
    fi = dict(state.fibre_inhibited)
    fi[f"{src}->{dst}"] = jnp.bool_(False)
    return state._replace(fibre_inhibited=fi)


def set_plasticity(state, on) -> BrainState:
    return state._replace(plastic=jnp.asarray(on, bool))


def set_w_max(state, w_max) -> BrainState:
    """Change the Hebbian weight cap (dynamic: no recompilation)."""
    return state._replace(w_max=jnp.asarray(w_max, jnp.float32))


def set_beta(state, src, dst, beta) -> BrainState:
    b = dict(state.beta)
    b[f"{src}->{dst}"] = jnp.asarray(beta, jnp.float32)
    return state._replace(beta=b)


# ---- projection ---------------------------------------------------------------------------

def fibre_fires(spec: BrainSpec, state: BrainState, f: Fibre):
    """bool[]: fibre ``f`` delivers input in this projection (not inhibited; for an area
    source: it has winners and is not inhibited)."""
    on = ~state.fibre_inhibited[f.key]
    if spec.is_stimulus(f.src):
        return on
    src = state.areas[f.src]
    return on & (src.n_winners > 0) & ~src.inhibited


def fibre_counts(spec: BrainSpec, state: BrainState, src: str, dst: str):
    """The implicit (hashed) part of fibre ``src -> dst``'s input from ``src``'s current
    winners: float32[n_dst] synapse counts, learned weights not included. For a source whose
    winners recur (a fixed explicit assembly), computing it once and passing it to
    :func:`project` as ``counts`` saves the hashing on every later projection."""
    f = spec.fibre(src, dst)
    a = state.areas[src]
    valid = jnp.arange(spec.area(src).k) < a.n_winners
    return implicit.law_area_input(spec.law, spec.seed, f.fid, f.p, a.winners, valid,
                                   spec.area(dst).n)


def _fibre_input(spec: BrainSpec, state: BrainState, f: Fibre, counts=None):
    """(input float32[n_dst], fires bool[]) of one fibre, learned weights included;
    ``counts``: the fibre's :func:`fibre_counts`, if the caller has them."""
    dst = spec.area(f.dst)
    store = state.stores[f.key]
    fires = fibre_fires(spec, state, f)
    if spec.is_stimulus(f.src):
        c = implicit.stim_counts(spec.seed, f.fid, spec.stimulus(f.src).k, f.p, dst.n)
        mult = 1.0 + sd.sum_into_post(store, jnp.zeros((1,), jnp.uint32), dst.n)
        return c * mult, fires, c
    src = state.areas[f.src]
    k_src = spec.area(f.src).k
    valid = jnp.arange(k_src) < src.n_winners
    c = (implicit.law_area_input(spec.law, spec.seed, f.fid, f.p, src.winners, valid, dst.n)
         if counts is None else counts)
    d = sd.sum_into_post(store, src.winners, dst.n)
    return c + d, fires, None


def _cap_one_device(spec: BrainSpec, state: BrainState, target: str, fibres,
                    counts=None) -> tuple:
    """The new winners of ``target`` (int32[k]) and whether any fibre fires, with per-fibre
    ``(fires, stimulus counts or None)`` for the Hebbian update: all inputs summed over the
    whole area, then the k-cap."""
    a = spec.area(target)
    x = jnp.zeros((a.n,), jnp.float32)
    fires_any = jnp.bool_(False)
    aux = {}
    for f in fibres:
        inp, fires, c = _fibre_input(spec, state, f, (counts or {}).get(f.key))
        aux[f.key] = (fires, c)
        x = x + jnp.where(fires, inp, 0.0)
        fires_any = fires_any | fires
    return k_cap(x, a.k, spec.kcap), fires_any, aux


def _update_store(store, pre, post, rule, ok):
    """``sd.update(..., unique=True)``; on the CPU backend the O(capacity) merge is skipped
    (``lax.cond``) when every key is already stored, as once an assembly has settled (same
    result bit for bit; accelerators keep the unconditional form, where a cond costs a
    device-to-host sync inside scanned training)."""
    if jax.default_backend() != "cpu":
        return sd.update(store, pre, post, rule, ok, unique=True)
    _, found, _ = sd.lookup(store, pre, post)
    return jax.lax.cond(jnp.any(ok & ~found),
                        lambda st: sd.update(st, pre, post, rule, ok, unique=True),
                        lambda st: sd.update_existing(st, pre, post, rule, ok), store)


def _pair_cap(spec: BrainSpec, f: Fibre) -> int:
    """The most synapses one Hebbian update of area fibre ``f`` learns (:func:`_hebbian`
    keeps the first ones in pair order): all source k x target k pairs, or 32 times the
    expected connected ones if fewer, but at least 4,096."""
    m = spec.area(f.src).k * spec.area(f.dst).k
    return int(min(m, max(4096, math.ceil(m * min(1.0, 32 * f.p)))))


def _hebbian(spec: BrainSpec, state: BrainState, f: Fibre, new_winners, n_new, active, c=None):
    """Store after ``w <- min(w (1 + beta), w_max)`` on synapses source winner -> new winner."""
    dst = spec.area(f.dst)
    store = state.stores[f.key]
    beta = state.beta[f.key]
    w_max = state.w_max

    def rule(old, found):
        return jnp.minimum((1.0 + old) * (1.0 + beta), w_max) - 1.0

    do = active & state.plastic & (beta != 0)
    post_valid = jnp.arange(dst.k) < n_new
    if spec.is_stimulus(f.src):
        ids = jnp.minimum(new_winners, dst.n - 1)
        c_win = c[ids] if c is not None else \
            implicit.stim_counts_at(spec.seed, f.fid, spec.stimulus(f.src).k, f.p, ids)
        valid = post_valid & (c_win > 0) & do
        return sd.update(store, jnp.zeros((dst.k,), jnp.uint32), new_winners, rule, valid,
                         unique=True)
    src = state.areas[f.src]
    k_src = spec.area(f.src).k
    pre_valid = jnp.arange(k_src) < src.n_winners
    conn = implicit.law_connected(spec.law, spec.seed, f.fid, f.p, src.winners[:, None], new_winners[None, :])
    valid = (conn & pre_valid[:, None] & post_valid[None, :] & do).reshape(-1)
    m = k_src * dst.k
    m_cap = _pair_cap(spec, f)
    sel = jnp.nonzero(valid, size=m_cap, fill_value=m)[0]
    ok = sel < m
    sel = jnp.minimum(sel, m - 1)
    pre = src.winners[sel // dst.k]
    post = new_winners[sel % dst.k]
    store = _update_store(store, pre, post, rule, ok)
    overflow = jnp.sum(valid, dtype=jnp.int32) - jnp.sum(ok, dtype=jnp.int32)
    return store._replace(dropped=store.dropped + overflow)


def _resolve(spec, stimuli, areas):
    incoming = defaultdict(list)
    for s, tgts in (stimuli or {}).items():
        if not spec.is_stimulus(s):
            raise KeyError(f"project: {s!r} is not a stimulus; stimuli: "
                           f"{[x.name for x in spec.stimuli]}")
        for t in tgts:
            incoming[t].append(spec.fibre(s, t))
    for a, tgts in (areas or {}).items():
        spec.area(a)
        for t in tgts:
            incoming[t].append(spec.fibre(a, t))
    return incoming


def project(spec: BrainSpec, state: BrainState, stimuli: Mapping[str, Sequence[str]] | None = None,
            areas: Mapping[str, Sequence[str]] | None = None, learn: bool = True,
            cap=_cap_one_device, counts: Mapping[str, jax.Array] | None = None) -> BrainState:
    """One synchronous projection step (brain.py's ``project(areas_by_stim, dst_areas_by_src_area)``).

    Arguments:
        spec: the static brain description.
        state: the brain state.
        stimuli: ``{stimulus: [target areas]}`` (static).
        areas: ``{source area: [target areas]}`` (static).
        learn: static; ``False`` leaves out the Hebbian update entirely (cheaper than the
            dynamic ``set_plasticity(False)``; use it for readouts).
        cap: how a target's inputs and k-cap are computed, ``cap(spec, state, target,
            fibres) -> (winners, fires_any, {fibre key: (fires, counts or None)})``: on one
            device (default) or sharded over a neuron axis (:mod:`.sharded`).
        counts: ``{fibre key: float32[n_dst]}``, the :func:`fibre_counts` of fibres whose
            source still has the winners they were computed from (default cap only); the
            result is the same, without hashing those fibres again.
    Returns:
        The new state: targets hold their new winners (unless fixed, inhibited, or with no
        firing input), ``support`` / ``num_new`` updated, learned weights updated.
    """
    incoming = _resolve(spec, stimuli, areas)
    if counts:
        if cap is not _cap_one_device:
            raise ValueError("project: counts work with the default cap only")
        cap = partial(_cap_one_device, counts=counts)
    new_areas = dict(state.areas)
    stores = dict(state.stores)
    results = {}
    aux = {}
    for t, fibres in incoming.items():
        a = spec.area(t)
        ts = state.areas[t]
        win, fires_any, aux_t = cap(spec, state, t, fibres)
        aux.update(aux_t)
        change = fires_any & ~ts.fixed & ~ts.inhibited
        new_w = jnp.where(change, win, ts.winners)
        new_n = jnp.where(change, jnp.int32(a.k), ts.n_winners)
        results[t] = (new_w, new_n, fires_any & ~ts.inhibited)
        if spec.track_support:
            first = change & ~ts.ever_fired[jnp.minimum(new_w, a.n - 1)] & (jnp.arange(a.k) < new_n)
            num_new = jnp.sum(first, dtype=jnp.int32)
            ever = ts.ever_fired.at[new_w].set(True, mode="drop")
            ever = jnp.where(change, ever, ts.ever_fired)
            support = ts.support + num_new
        else:
            num_new, ever, support = jnp.int32(0), ts.ever_fired, ts.support
        new_areas[t] = ts._replace(winners=new_w, n_winners=new_n, ever_fired=ever,
                                   support=support, num_new=num_new)
    if not learn:
        return state._replace(areas=new_areas)
    for t, fibres in incoming.items():
        new_w, new_n, active = results[t]
        for f in fibres:
            fires, c = aux[f.key]
            stores[f.key] = _hebbian(spec, state, f, new_w, new_n, active & fires, c)
    return state._replace(areas=new_areas, stores=stores)


def area_inputs(spec: BrainSpec, state: BrainState, stimuli=None, areas=None) -> dict:
    """The input vector (float32[n]) each target of a projection would receive (no update)."""
    out = {}
    for t, fibres in _resolve(spec, stimuli, areas).items():
        x = jnp.zeros((spec.area(t).n,), jnp.float32)
        for f in fibres:
            inp, fires, _ = _fibre_input(spec, state, f)
            x = x + jnp.where(fires, inp, 0.0)
        out[t] = x
    return out


def fibre_weights(spec: BrainSpec, state: BrainState, src: str, dst: str, pre_ids, post_ids):
    """Weights ``w_ij`` (0 where no synapse) of fibre ``src -> dst``: float32[P, Q].

    For a stimulus fibre ``pre_ids`` is ignored and row 0 holds ``c_j (1 + delta_j)``.
    """
    f = spec.fibre(src, dst)
    post = jnp.asarray(post_ids, jnp.int32)
    store = state.stores[f.key]
    if spec.is_stimulus(src):
        c = implicit.stim_counts(spec.seed, f.fid, spec.stimulus(src).k, f.p, spec.area(dst).n)
        d, _, _ = sd.lookup(store, jnp.zeros_like(post), post)
        return (c[post] * (1.0 + d))[None, :]
    pre = jnp.asarray(pre_ids, jnp.int32)
    conn = implicit.connected(spec.seed, f.fid, f.p, pre[:, None], post[None, :])
    d, _, _ = sd.lookup(store, jnp.broadcast_to(pre[:, None], conn.shape),
                        jnp.broadcast_to(post[None, :], conn.shape))
    return jnp.where(conn, 1.0 + d, 0.0)


def overlap(a, b) -> int:
    """Number of common neuron ids of two winner arrays (PAD ignored); host-side."""
    a = np.asarray(a)
    b = np.asarray(b)
    return len(np.intersect1d(a[a != PAD], b[b != PAD]))


# ---- host-side convenience wrapper ---------------------------------------------------------

def _freeze(m):
    return tuple(sorted((k, tuple(v)) for k, v in (m or {}).items()))


_JIT_CACHE: dict = {}


class Brain:
    """A host-side handle: a spec, a state, and a cache of jitted ``project`` calls.

    Mirrors brain.py's API (``project``, ``activate``, ``fix_assembly`` ...) for scripts;
    the pure functions above are what to jit / vmap / scan yourself.
    """

    def __init__(self, spec: BrainSpec, state: BrainState | None = None):
        self.spec = spec
        self.state = init(spec) if state is None else state

    def _jit(self, key, fn):
        key = (self.spec, key)   # shared by all Brains of one spec
        if key not in _JIT_CACHE:
            _JIT_CACHE[key] = jax.jit(fn)
        return _JIT_CACHE[key]

    def project(self, stimuli=None, areas=None):
        key = ("project", _freeze(stimuli), _freeze(areas))
        st, ar = dict(key[1]), dict(key[2])
        spec = self.spec
        fn = self._jit(key, lambda s: project(spec, s, st, ar))
        self.state = fn(self.state)
        return self

    def activate(self, area, index):
        spec = self.spec
        self.state = self._jit(("activate", area), lambda s, i: activate(spec, s, area, i))(
            self.state, jnp.int32(index))
        return self

    def set_winners(self, area, ids):
        self.state = set_winners(self.spec, self.state, area, jnp.asarray(ids))
        return self

    def fix(self, area):
        self.state = fix(self.state, area)

    def unfix(self, area):
        self.state = unfix(self.state, area)

    def inhibit(self, area):
        self.state = inhibit(self.state, area)

    def disinhibit(self, area):
        self.state = disinhibit(self.state, area)

    def clear(self, area):
        self.state = clear(self.spec, self.state, area)

    def set_plasticity(self, on: bool):
        self.state = set_plasticity(self.state, on)

    def set_beta(self, src, dst, beta):
        self.state = set_beta(self.state, src, dst, beta)

    def set_w_max(self, w_max):
        self.state = set_w_max(self.state, w_max)

    def winners(self, area) -> np.ndarray:
        w = np.asarray(self.state.areas[area].winners)
        return w[w != PAD]

    def support(self, area) -> int:
        return int(self.state.areas[area].support)

    def num_new(self, area) -> int:
        return int(self.state.areas[area].num_new)

    def store_report(self) -> dict:
        """Per fibre: used slots, capacity, fill, dropped inserts."""
        return {k: {"size": int(s.size), "capacity": s.capacity,
                    "fill": float(s.size) / s.capacity, "dropped": int(s.dropped)}
                for k, s in self.state.stores.items()}
