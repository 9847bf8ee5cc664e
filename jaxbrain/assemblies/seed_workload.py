"""The seed NEMO workload (REFERENCE.md 'Seed workload'), with learning read back.

Word grounding with two-word sentences (noun, verb): k = 50, beta = 0.1, w_max = 10,
2 rounds per sentence, 4 nouns + 3 verbs. Source areas PHON_N / PHON_V (the noun's and the
verb's phonological assembly), VIS_IN / MOT_IN (its visual / motor grounding) hold fixed word
assemblies (word w = neurons w*k .. w*k + k - 1 of an n-neuron area; the seed used random
k-subsets, which under a hashed graph is the same thing). Per round, three synchronous
``project`` calls:

1. PHON_N, VIS_IN -> LEX1 and PHON_V, MOT_IN -> LEX2 (p = 0.1): 4 fibres, 2 k-caps;
2. LEX1 -> LEX1 and LEX2 -> LEX2 (p = 0.05): 2 fibres, 2 k-caps;
3. LEX1 -> VIS and LEX2 -> MOT (p = 0.1): 2 fibres, 2 k-caps;

with Hebbian learning on every fibre, every projection reading the learned weights back.
A sentence = 16 area-projections (n x k = 50 n hashes each, 800 n in all, as in the seed),
12 k-caps and 16 Hebbian updates. LEX1 / LEX2 are cleared at the start of each sentence
(the seed resets their recurrent state).

:func:`train` runs S sentences in one ``lax.scan``; vmap it over independent brains.

Three execution modes (``train(..., mode=...)``):

* ``"brain"``: every step is :func:`brain.project` (hash law, ``spec.kcap``): the original path.
* ``"fast"``: the same model through a lean projection (:func:`project_fast`): area fibres
  only, no support tracking, the k-cap method and connectivity law chosen by the caller
  (``law="hash"`` is the same network as ``"brain"``, ``law="block"`` the block law of
  :mod:`.implicit`), and the Hebbian update compacts the ``k x k`` candidate synapses to
  ``mean + 10 sd`` slots before the store update (``"brain"`` sorts all ``k^2``); with
  ``law="hash"`` and an exact k-cap it equals ``"brain"`` bit for bit (tested) unless a
  compaction overflows (counted in the store's ``dropped``).
* ``"lazy"`` (:func:`lazy_train`): :mod:`.lazy` (brain.py's algorithm: only neurons that ever
  fired exist), cost independent of n; statistically equivalent, not the same network, and
  with one ``p`` for every fibre (``lazy_p``; lazy mode has one p per brain).
This module is the benchmark; word *category* learning with neural readouts is
:mod:`.learner` (learner.py semantics), where words arrive one at a time through one PHON area.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .. import sparse_delta as sd
from . import brain as B
from . import implicit
from . import lazy as L
from .kcap import k_cap

__all__ = ["make_spec", "sentence", "train", "project_fast", "make_lazy_spec", "lazy_init",
           "lazy_sentence", "lazy_train", "AREAS_PER_SENTENCE", "N_NOUNS", "N_VERBS", "MODES"]

MODES = ("brain", "fast", "lazy")

N_NOUNS, N_VERBS = 4, 3
AREAS_PER_SENTENCE = 16

_SOURCES = ("PHON_N", "PHON_V", "VIS_IN", "MOT_IN")
_TARGETS = ("LEX1", "LEX2", "VIS", "MOT")


def make_spec(n: int, k: int = 50, p: float = 0.05, beta: float = 0.1, w_max: float = 10.0,
              seed: int = 0, kcap: str = "auto", store_capacity: int = 2**15) -> B.BrainSpec:
    """The seed workload's brain: cross-area fibres at 2p, recurrent at p (as the seed)."""
    areas = tuple(B.Area(a, n, k, beta) for a in _SOURCES + _TARGETS)
    fib = (B.Fibre("PHON_N", "LEX1", 2 * p), B.Fibre("VIS_IN", "LEX1", 2 * p),
           B.Fibre("PHON_V", "LEX2", 2 * p), B.Fibre("MOT_IN", "LEX2", 2 * p),
           B.Fibre("LEX1", "LEX1", p), B.Fibre("LEX2", "LEX2", p),
           B.Fibre("LEX1", "VIS", 2 * p), B.Fibre("LEX2", "MOT", 2 * p))
    return B.BrainSpec(areas=areas, fibres=fib, p=p, w_max=w_max, seed=seed, kcap=kcap,
                       store_capacity=store_capacity, track_support=False)


_STEPS = ({"PHON_N": ["LEX1"], "VIS_IN": ["LEX1"], "PHON_V": ["LEX2"], "MOT_IN": ["LEX2"]},
          {"LEX1": ["LEX1"], "LEX2": ["LEX2"]},
          {"LEX1": ["VIS"], "LEX2": ["MOT"]})


def project_fast(spec: B.BrainSpec, state: B.BrainState, areas, law: str = "hash",
                 kcap: str = "blocks") -> B.BrainState:
    """:func:`brain.project` for area -> area fibres (``areas={src: [dst]}``), lean.

    Same semantics as ``brain.project(spec, state, None, areas)`` with ``track_support``
    off, connectivity under ``law`` and the k-cap ``kcap`` (any exact method gives the same
    winners); the Hebbian update passes the ``k x k`` candidates to the store directly.
    """
    incoming = B._resolve(spec, None, areas)
    new_areas = dict(state.areas)
    stores = dict(state.stores)
    res = {}
    for t, fibres in incoming.items():
        a = spec.area(t)
        ts = state.areas[t]
        x = jnp.zeros((a.n,), jnp.float32)
        fires_any = jnp.bool_(False)
        fires_f = []
        for f in fibres:
            src = state.areas[f.src]
            valid = jnp.arange(spec.area(f.src).k) < src.n_winners
            c = implicit.law_area_input(law, spec.seed, f.fid, f.p, src.winners, valid, a.n)
            d = sd.sum_into_post(state.stores[f.key], src.winners, a.n)
            fires = ~state.fibre_inhibited[f.key] & (src.n_winners > 0) & ~src.inhibited
            x = x + jnp.where(fires, c + d, 0.0)
            fires_any = fires_any | fires
            fires_f.append(fires)
        win = k_cap(x, a.k, kcap)
        change = fires_any & ~ts.fixed & ~ts.inhibited
        new_w = jnp.where(change, win, ts.winners)
        new_n = jnp.where(change, jnp.int32(a.k), ts.n_winners)
        res[t] = (new_w, new_n, fires_any & ~ts.inhibited, fires_f)
        new_areas[t] = ts._replace(winners=new_w, n_winners=new_n, num_new=jnp.int32(0))
    for t, fibres in incoming.items():
        new_w, new_n, active, fires_f = res[t]
        dst = spec.area(t)
        for f, fires in zip(fibres, fires_f):
            src = state.areas[f.src]
            k_src = spec.area(f.src).k
            beta = state.beta[f.key]
            w_max = state.w_max

            def rule(old, found, beta=beta, w_max=w_max):
                return jnp.minimum((1.0 + old) * (1.0 + beta), w_max) - 1.0

            do = active & fires & state.plastic & (beta != 0)
            conn = implicit.law_connected(law, spec.seed, f.fid, f.p, src.winners[:, None],
                                          new_w[None, :])
            pre_ok = jnp.arange(k_src) < src.n_winners
            post_ok = jnp.arange(dst.k) < new_n
            valid = (conn & pre_ok[:, None] & post_ok[None, :] & do).reshape(-1)
            pre = jnp.broadcast_to(src.winners[:, None], (k_src, dst.k))
            post = jnp.broadcast_to(new_w[None, :], (k_src, dst.k))
            stores[f.key] = sd.update(stores[f.key], pre, post, rule, valid, unique=True)
    return state._replace(areas=new_areas, stores=stores)


def sentence(spec: B.BrainSpec, state: B.BrainState, noun, verb, rounds: int = 2,
             mode: str = "brain", law: str = "hash", kcap: str = "blocks") -> B.BrainState:
    """Train on one sentence (noun index in 0..3, verb index in 0..2; traced ints).

    ``mode="brain"`` uses :func:`brain.project` (``law`` / ``kcap`` ignored: hash law,
    ``spec.kcap``); ``mode="fast"`` uses :func:`project_fast` with ``law`` and ``kcap``.
    """
    s = B.activate(spec, state, "PHON_N", noun)
    s = B.activate(spec, s, "VIS_IN", noun)
    s = B.activate(spec, s, "PHON_V", N_NOUNS + verb)
    s = B.activate(spec, s, "MOT_IN", verb)
    s = B.clear(spec, s, "LEX1")
    s = B.clear(spec, s, "LEX2")
    for _ in range(rounds):
        for step in _STEPS:
            if mode == "brain":
                s = B.project(spec, s, None, step)
            elif mode == "fast":
                s = project_fast(spec, s, step, law, kcap)
            else:
                raise ValueError(f"sentence: mode {mode!r}; allowed: 'brain', 'fast' "
                                 "(lazy: lazy_sentence)")
    return s


def train(spec: B.BrainSpec, state: B.BrainState, nouns, verbs, rounds: int = 2,
          mode: str = "brain", law: str = "hash", kcap: str = "blocks") -> B.BrainState:
    """Train on sentences ``(nouns[i], verbs[i])`` in one ``lax.scan`` (int32[S] each)."""
    def body(s, nv):
        return sentence(spec, s, nv[0], nv[1], rounds, mode, law, kcap), None
    state, _ = jax.lax.scan(body, state, (jnp.asarray(nouns, jnp.int32), jnp.asarray(verbs, jnp.int32)))
    return state


# ---- lazy mode ----------------------------------------------------------------------------

def make_lazy_spec(n: int, k: int = 50, p: float = 0.1, beta: float = 0.1, w_max: float = 10.0,
                   seed: int = 0) -> B.BrainSpec:
    """The workload's brain for :mod:`.lazy`: same areas and fibres, every fibre at ``p``."""
    areas = tuple(B.Area(a, n, k, beta) for a in _SOURCES + _TARGETS)
    fib = tuple(B.Fibre(src, dst) for step in _STEPS for src, dsts in step.items() for dst in dsts)
    return B.BrainSpec(areas=areas, fibres=fib, p=p, w_max=w_max, seed=seed,
                       track_support=False)


def lazy_init(spec: B.BrainSpec, capacity: int = 2048) -> L.LazyState:
    """Lazy state with ``capacity`` support slots per area (>= 7 k: the word assemblies)."""
    k = spec.areas[0].k
    if capacity < (N_NOUNS + N_VERBS) * k:
        raise ValueError(f"lazy_init: capacity {capacity} < {(N_NOUNS + N_VERBS) * k}")
    return L.init(spec, capacity)


def _lazy_set(spec, state, area, ids, fixed):
    a = state.areas[area]
    k = spec.area(area).k
    areas = dict(state.areas)
    if ids is None:
        areas[area] = a._replace(winners=jnp.full((k,), B.PAD, jnp.int32), n_winners=jnp.int32(0),
                                 fixed=jnp.bool_(False))
    else:
        areas[area] = a._replace(winners=ids.astype(jnp.int32), n_winners=jnp.int32(k),
                                 fixed=jnp.bool_(fixed))
    return state._replace(areas=areas)


def lazy_sentence(spec: B.BrainSpec, state: L.LazyState, noun, verb, rounds: int = 2) -> L.LazyState:
    """:func:`sentence` in lazy mode (word w of a source area = compact ids w*k .. w*k+k-1)."""
    k = spec.areas[0].k
    ar = jnp.arange(k, dtype=jnp.int32)
    s = state
    for area, w in (("PHON_N", noun), ("VIS_IN", noun), ("PHON_V", N_NOUNS + verb), ("MOT_IN", verb)):
        s = _lazy_set(spec, s, area, jnp.asarray(w, jnp.int32) * k + ar, True)
    s = _lazy_set(spec, s, "LEX1", None, False)
    s = _lazy_set(spec, s, "LEX2", None, False)
    for _ in range(rounds):
        for step in _STEPS:
            s = L.project(spec, s, None, step)
    return s


def lazy_train(spec: B.BrainSpec, state: L.LazyState, nouns, verbs, rounds: int = 2) -> L.LazyState:
    """:func:`train` in lazy mode (one ``lax.scan``)."""
    def body(s, nv):
        return lazy_sentence(spec, s, nv[0], nv[1], rounds), None
    state, _ = jax.lax.scan(body, state, (jnp.asarray(nouns, jnp.int32), jnp.asarray(verbs, jnp.int32)))
    return state
