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

Two execution modes:

* :func:`train`: every step is :func:`brain.project` on the implicit brain of :func:`make_spec`
  (``law`` 'hash' or 'block' and ``kcap`` are :class:`brain.BrainSpec` fields);
* :func:`lazy_train`: :mod:`.lazy` (brain.py's algorithm: only neurons that ever fired
  exist), cost independent of n; statistically equivalent, not the same network, and with one
  ``p`` for every fibre (lazy mode has one p per brain).

This module is the benchmark; word *category* learning with neural readouts is
:mod:`.learner` (learner.py semantics), where words arrive one at a time through one PHON area.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from . import brain as B
from . import lazy as L

__all__ = ["make_spec", "sentence", "train", "make_lazy_spec", "lazy_init",
           "lazy_sentence", "lazy_train", "AREAS_PER_SENTENCE", "N_NOUNS", "N_VERBS"]

N_NOUNS, N_VERBS = 4, 3
AREAS_PER_SENTENCE = 16

_SOURCES = ("PHON_N", "PHON_V", "VIS_IN", "MOT_IN")
_TARGETS = ("LEX1", "LEX2", "VIS", "MOT")


def make_spec(n: int, k: int = 50, p: float = 0.05, beta: float = 0.1, w_max: float = 10.0,
              seed: int = 0, kcap: str = "auto", store_capacity: int = 2**15,
              law: str = "hash") -> B.BrainSpec:
    """The seed workload's brain: cross-area fibres at 2p, recurrent at p (as the seed)."""
    areas = tuple(B.Area(a, n, k, beta) for a in _SOURCES + _TARGETS)
    fib = (B.Fibre("PHON_N", "LEX1", 2 * p), B.Fibre("VIS_IN", "LEX1", 2 * p),
           B.Fibre("PHON_V", "LEX2", 2 * p), B.Fibre("MOT_IN", "LEX2", 2 * p),
           B.Fibre("LEX1", "LEX1", p), B.Fibre("LEX2", "LEX2", p),
           B.Fibre("LEX1", "VIS", 2 * p), B.Fibre("LEX2", "MOT", 2 * p))
    return B.BrainSpec(areas=areas, fibres=fib, p=p, w_max=w_max, seed=seed, kcap=kcap,
                       store_capacity=store_capacity, law=law, track_support=False)


_STEPS = ({"PHON_N": ["LEX1"], "VIS_IN": ["LEX1"], "PHON_V": ["LEX2"], "MOT_IN": ["LEX2"]},
          {"LEX1": ["LEX1"], "LEX2": ["LEX2"]},
          {"LEX1": ["VIS"], "LEX2": ["MOT"]})


def sentence(spec: B.BrainSpec, state: B.BrainState, noun, verb, rounds: int = 2) -> B.BrainState:
    """Train on one sentence (noun index in 0..3, verb index in 0..2; traced ints)."""
    s = B.activate(spec, state, "PHON_N", noun)
    s = B.activate(spec, s, "VIS_IN", noun)
    s = B.activate(spec, s, "PHON_V", N_NOUNS + verb)
    s = B.activate(spec, s, "MOT_IN", verb)
    s = B.clear(spec, s, "LEX1")
    s = B.clear(spec, s, "LEX2")
    for _ in range(rounds):
        for step in _STEPS:
            s = B.project(spec, s, None, step)
    return s


def _scan_sentences(one_sentence, spec, state, nouns, verbs, rounds: int):
    def body(s, nv):
        return one_sentence(spec, s, nv[0], nv[1], rounds), None
    state, _ = jax.lax.scan(body, state, (jnp.asarray(nouns, jnp.int32), jnp.asarray(verbs, jnp.int32)))
    return state


def train(spec: B.BrainSpec, state: B.BrainState, nouns, verbs, rounds: int = 2) -> B.BrainState:
    """Train on sentences ``(nouns[i], verbs[i])`` in one ``lax.scan`` (int32[S] each)."""
    return _scan_sentences(sentence, spec, state, nouns, verbs, rounds)


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
    return _scan_sentences(lazy_sentence, spec, state, nouns, verbs, rounds)
