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
This module is the benchmark; word *category* learning with neural readouts is
:mod:`.learner` (learner.py semantics), where words arrive one at a time through one PHON area.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from . import brain as B

__all__ = ["make_spec", "sentence", "train", "AREAS_PER_SENTENCE", "N_NOUNS", "N_VERBS"]

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


def sentence(spec: B.BrainSpec, state: B.BrainState, noun, verb, rounds: int = 2) -> B.BrainState:
    """Train on one sentence (noun index in 0..3, verb index in 0..2; traced ints)."""
    s = B.activate(spec, state, "PHON_N", noun)
    s = B.activate(spec, s, "VIS_IN", noun)
    s = B.activate(spec, s, "PHON_V", N_NOUNS + verb)
    s = B.activate(spec, s, "MOT_IN", verb)
    s = B.clear(spec, s, "LEX1")
    s = B.clear(spec, s, "LEX2")
    for _ in range(rounds):
        s = B.project(spec, s, None, {"PHON_N": ["LEX1"], "VIS_IN": ["LEX1"],
                                      "PHON_V": ["LEX2"], "MOT_IN": ["LEX2"]})
        s = B.project(spec, s, None, {"LEX1": ["LEX1"], "LEX2": ["LEX2"]})
        s = B.project(spec, s, None, {"LEX1": ["VIS"], "LEX2": ["MOT"]})
    return s


def train(spec: B.BrainSpec, state: B.BrainState, nouns, verbs, rounds: int = 2) -> B.BrainState:
    """Train on sentences ``(nouns[i], verbs[i])`` in one ``lax.scan`` (int32[S] each)."""
    def body(s, nv):
        return sentence(spec, s, nv[0], nv[1], rounds), None
    state, _ = jax.lax.scan(body, state, (jnp.asarray(nouns, jnp.int32), jnp.asarray(verbs, jnp.int32)))
    return state
