"""Word-order acquisition and generation (Mitropolsky & Papadimitriou's word_order_int.py
semantics) on the implicit-mode brain, with generation decided by synaptic input only.

Areas (:func:`make_brain_spec`): explicit ``PHON`` (one fixed assembly of ``explicit_k``
neurons per word: nouns first, then verbs) and ``MOOD`` (one per mood); thematic-role areas
``TPJ_agent, TPJ_patient, TPJ_action``, their helpers ``TPJ_*_helper`` and the syntactic
areas ``SYNTAX_subject, SYNTAX_object, SYNTAX_verb`` (``n`` neurons, cap ``k``). Each mood has
a transitive word order, e.g. ``"SVO"`` or ``"SOV"``.

Training sentence (random subject, object, verb; :func:`train_sentence`):

1. MOOD fires the mood's assembly; for each role (agent = subject, patient = object, action
   = verb) PHON fires the word and ``PHON -> TPJ``, then ``+ TPJ -> TPJ, helper``, then
   ``role_firings`` rounds of ``+ helper -> TPJ, helper`` (the role's assemblies form);
2. for each constituent ``c`` in the mood's order, ``training_rounds`` projections of
   ``PHON -> TPJ_c; TPJ_c -> helper_c, TPJ_c; helper_c -> helper_c, TPJ_c, SYNTAX_c;
   MOOD -> SYNTAX_c`` plus ``MOOD -> helper_c`` for the first constituent, ``SYNTAX_c ->
   SYNTAX_c`` after the first round, and ``SYNTAX_prev -> helper_c`` during the first
   ``previous_rounds + 1`` rounds (this is where the order is learned). As in the
   reference, PHON still holds the last activated word (the verb) during step 2.

Generation (plasticity off; :func:`generate`): the roles' assemblies form as in step 1
(``generation_firings`` rounds); the first constituent is the helper area receiving the
largest total synaptic input from MOOD's assembly (:func:`.fibrewise.total_input`, learned
weights included); MOOD fires into it; then twice: the current helper and MOOD fire into its
syntactic area, which fires into the two other helpers (while every TPJ fires into its
helper), and the next constituent is the helper with the larger input from that syntactic
area. The generated order is the sequence of chosen helpers.

Execution: by default one host call per projection round. With ``host_loop=False``,
:func:`train_sentence` runs a sentence's static :func:`training_schedule` and
:func:`generate` its steps (each choice a ``lax.switch``) as ONE jitted program each (words
and seed are data; repeated rounds a ``fori_loop``), bit for bit the result of the
host-driven rounds: fewer dispatches (for accelerators), longer compilation (35 s against
4 s at n = 2e4 on the CPU).

Differences from the reference: generation runs with plasticity off (the reference sets a
``no_plasticity`` attribute the brain never reads, so its generation keeps learning); all
areas are simulated exactly (implicit mode) rather than lazily.
"""

from __future__ import annotations

import random as _random
import time
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp

from . import brain as B
from .fibrewise import project_round, repeat_rounds, seedless, total_input

__all__ = ["WordOrderSpec", "make_brain_spec", "train_sentence", "generate", "training_map",
           "training_schedule",
           "ROLE", "HELPER", "SYNTAX", "run_trial"]

PHON, MOOD = "PHON", "MOOD"
ROLE = {"S": "TPJ_agent", "O": "TPJ_patient", "V": "TPJ_action"}
HELPER = {c: a + "_helper" for c, a in ROLE.items()}
SYNTAX = {"S": "SYNTAX_subject", "O": "SYNTAX_object", "V": "SYNTAX_verb"}
_FIXED = frozenset({PHON, MOOD})


@dataclass(frozen=True)
class WordOrderSpec:
    """Sizes and schedule (reference defaults: n 1e5, k 100, beta 0.06, 10 training rounds,
    2 previous-constituent rounds, 10 role firings in training, 3 in generation).

    Attributes:
        orders: one word order per mood, each a permutation of "SVO".
    """
    num_nouns: int = 2
    num_verbs: int = 2
    orders: tuple[str, ...] = ("SVO",)
    p: float = 0.05
    n: int = 100_000
    k: int = 100
    explicit_k: int = 100
    beta: float = 0.06
    training_rounds: int = 10
    previous_rounds: int = 2
    role_firings: int = 10
    generation_firings: int = 3
    seed: int = 0
    store_capacity: int = 2**18   # the TPJ <-> helper fibres gain ~10k synapses per sentence
    kcap: str = "auto"

    def __post_init__(self):
        for o in self.orders:
            if sorted(o) != ["O", "S", "V"]:
                raise ValueError(f"WordOrderSpec.orders: {o!r} is not a permutation of 'SVO'")
        if not self.orders:
            raise ValueError("WordOrderSpec.orders: at least one mood's order is needed")
        if self.num_nouns < 2 or self.num_verbs < 1:
            raise ValueError("WordOrderSpec: needs >= 2 nouns (subject != object) and >= 1 verb")

    @property
    def num_words(self) -> int:
        return self.num_nouns + self.num_verbs


def make_brain_spec(ws: WordOrderSpec) -> B.BrainSpec:
    areas = [B.Area(PHON, ws.num_words * ws.explicit_k, ws.explicit_k, ws.beta),
             B.Area(MOOD, max(len(ws.orders), 2) * ws.explicit_k, ws.explicit_k, ws.beta)]
    areas += [B.Area(a, ws.n, ws.k, ws.beta)
              for c in "SOV" for a in (ROLE[c], HELPER[c], SYNTAX[c])]
    pairs = []
    for c in "SOV":
        r, h, s = ROLE[c], HELPER[c], SYNTAX[c]
        pairs += [(PHON, r), (r, r), (r, h), (h, h), (h, r), (h, s), (MOOD, s), (MOOD, h), (s, s)]
        pairs += [(s, HELPER[d]) for d in "SOV" if d != c]
    return B.BrainSpec(areas=tuple(areas), fibres=tuple(B.Fibre(a, b) for a, b in pairs),
                       p=ws.p, seed=ws.seed, store_capacity=ws.store_capacity, kcap=ws.kcap,
                       track_support=False)


def _pm(d: dict):
    return tuple(sorted((a, tuple(t)) for a, t in d.items()))


def training_map(c: str, t: int, first: bool, prev: str | None, previous_rounds: int):
    """The projection map of training round ``t`` of constituent ``c`` (static)."""
    r, h, s = ROLE[c], HELPER[c], SYNTAX[c]
    m = {PHON: [r], r: [h, r], h: [h, r, s], MOOD: [s] + ([h] if first else [])}
    if t > 0:
        m[s] = [s]
    if prev is not None and t <= previous_rounds:
        m[SYNTAX[prev]] = [h]
    return _pm(m)


def _role_steps(c: str, slot: int, firings: int) -> list:
    """Steps forming role ``c``'s assemblies from the word in ``ids[slot]`` (module doc)."""
    r, h = ROLE[c], HELPER[c]
    steps = [("activate", PHON, slot), ("project", _pm({PHON: [r]}), 1),
             ("project", _pm({PHON: [r], r: [h, r]}), 1)]
    if firings:
        steps.append(("project", _pm({PHON: [r], r: [h, r], h: [r, h]}), firings))
    return steps


def _role_schedule(firings: int) -> list:
    """MOOD fires ``ids[0]``, then the roles S, O, V form from ``ids[1], ids[2], ids[3]``."""
    steps = [("activate", MOOD, 0)]
    for slot, c in enumerate("SOV", 1):
        steps += _role_steps(c, slot, firings)
    return steps


def training_schedule(ws: WordOrderSpec, mood: int) -> tuple:
    """A training sentence of ``mood`` as static steps (module doc): ``("activate", area,
    slot)`` fires assembly ``ids[slot]`` of ``area`` (``ids = (mood, subject, object,
    num_nouns + verb)``); ``("project", map, count)`` runs ``count`` rounds of one map."""
    steps = _role_schedule(ws.role_firings)
    order = ws.orders[mood]
    for i, c in enumerate(order):
        for t in range(ws.training_rounds):
            pm = training_map(c, t, i == 0, order[i - 1] if i else None, ws.previous_rounds)
            if steps[-1][:2] == ("project", pm):
                steps[-1] = ("project", pm, steps[-1][2] + 1)
            else:
                steps.append(("project", pm, 1))
    return tuple(steps)


def _run_steps(spec, state, ids, steps, learn: bool, loop: bool = False, seed=None):
    """Run static ``steps`` (:func:`training_schedule`) with ``ids`` (ints or traced
    int32[]); ``loop``: repeated rounds as a ``fori_loop`` inside a traced program;
    ``seed``: connectivity seed as data (default ``spec.seed``)."""
    for step in steps:
        if step[0] == "activate":
            state = B.activate(spec, state, step[1], jnp.asarray(ids[step[2]], jnp.int32))
        else:
            state = repeat_rounds(step[2], partial(project_round, spec, pm=step[1],
                                                   fixed=_FIXED, learn=learn, seed=seed),
                                  state, loop)
    return state


@partial(jax.jit, static_argnames=("spec", "steps"))
def _train_program(spec, state, ids, seed, *, steps):
    """One training sentence as one program (``ids``: int32[4], ``seed``: uint32[])."""
    return _run_steps(spec, state, [ids[i] for i in range(4)], steps, True, True, seed)


def train_sentence(spec: B.BrainSpec, ws: WordOrderSpec, state: B.BrainState, subj: int,
                   obj: int, verb: int, mood: int = 0, host_loop: bool = True) -> B.BrainState:
    """One training sentence (nouns ``subj, obj`` in 0..num_nouns-1, ``verb`` in
    0..num_verbs-1) in the mood's word order (module doc): with ``host_loop`` (default) one
    host call per round, else one jitted program (compiled once per mood; same result bit for
    bit)."""
    ids = (mood, subj, obj, ws.num_nouns + verb)
    steps = training_schedule(ws, mood)
    if host_loop:
        return _run_steps(spec, state, ids, steps, True)
    return _train_program(seedless(spec), state, jnp.asarray(ids, jnp.int32),
                          jnp.uint32(spec.seed), steps=steps)


_NEXT = {"S": "OV", "O": "SV", "V": "SO"}   # the constituents that may follow


def _first_constituent(inp_s, inp_o, inp_v):
    """Index into "SOV" of the first constituent from MOOD's input into each helper
    (reference tie rule: S if strictly largest, else O if strictly largest, else V)."""
    return jnp.where((inp_s > inp_o) & (inp_s > inp_v), 0,
                     jnp.where((inp_o > inp_s) & (inp_o > inp_v), 1, 2)).astype(jnp.int32)


def _generation_step(spec, s, cur: str, seed=None):
    """From constituent ``cur``: its helper and MOOD fire into its syntactic area, which
    fires into the two other helpers (every TPJ into its helper); returns the state and the
    index into "SOV" of the helper with the larger input from that area."""
    syn = SYNTAX[cur]
    s = project_round(spec, s, _pm({HELPER[cur]: [syn], MOOD: [syn]}), _FIXED, False, seed=seed)
    m = {syn: [HELPER[d] for d in _NEXT[cur]]}
    m.update({ROLE[d]: [HELPER[d]] for d in "SOV"})
    s = project_round(spec, s, _pm(m), _FIXED, False, seed=seed)
    a, b = (total_input(spec, s, syn, HELPER[d], seed) for d in _NEXT[cur])
    first, second = ("SOV".index(d) for d in _NEXT[cur])
    return s, jnp.where(a > b, first, second).astype(jnp.int32)


def _open_first(spec, s, cur: str, seed=None):
    """MOOD fires into the first constituent's helper."""
    return project_round(spec, s, _pm({MOOD: [HELPER[cur]]}), _FIXED, False, seed=seed)


def _generation_start(spec, firings, state, ids, loop=False, seed=None):
    """Plasticity off, MOOD and the roles' assemblies formed (``firings`` helper rounds);
    returns the state and MOOD's input into the S, O, V helpers."""
    s = B.set_plasticity(state, False)
    s = _run_steps(spec, s, ids, _role_schedule(firings), False, loop, seed)
    return s, [total_input(spec, s, MOOD, HELPER[c], seed) for c in "SOV"]


@partial(jax.jit, static_argnames=("spec", "firings"))
def _generate_program(spec, firings, state, ids, seed):
    """:func:`generate` as one program: int32[3] indices into "SOV" of the produced order
    (each choice a ``lax.switch`` over the three constituents)."""
    s, inp = _generation_start(spec, firings, state, [ids[i] for i in range(4)], True, seed)
    cur = _first_constituent(*inp)
    s = jax.lax.switch(cur, [partial(_open_first, spec, cur=c, seed=seed) for c in "SOV"], s)
    out = [cur]
    for _ in range(2):
        s, cur = jax.lax.switch(
            cur, [partial(_generation_step, spec, cur=c, seed=seed) for c in "SOV"], s)
        out.append(cur)
    return jnp.stack(out)


def generate(spec: B.BrainSpec, ws: WordOrderSpec, state: B.BrainState, subj: int, obj: int,
             verb: int, mood: int = 0, host_loop: bool = True) -> str:
    """The word order the brain produces for a sentence (e.g. ``"SVO"``), chosen by the
    largest total synaptic input at each step (module doc); the state is not changed. With
    ``host_loop`` (default) host calls and a host decision per step, else one jitted program
    (same result)."""
    ids = (mood, subj, obj, ws.num_nouns + verb)
    if not host_loop:
        idx = _generate_program(seedless(spec), ws.generation_firings, state,
                                jnp.asarray(ids, jnp.int32), jnp.uint32(spec.seed))
        return "".join("SOV"[i] for i in jax.device_get(idx))
    s, inp = _generation_start(spec, ws.generation_firings, state, ids)
    cur = "SOV"[int(_first_constituent(*inp))]
    s = _open_first(spec, s, cur)
    out = [cur]
    for _ in range(2):
        s, nxt = _generation_step(spec, s, cur)
        cur = "SOV"[int(nxt)]
        out.append(cur)
    return "".join(out)


def run_trial(ws: WordOrderSpec, num_train: int, num_generate: int, test_every: int = 0,
              rng_seed: int = 0, log=None, warmup: bool = False,
              host_loop: bool = True) -> dict:
    """Train on ``num_train`` random sentences (random mood) and generate ``num_generate``
    sentences per mood every ``test_every`` sentences (0: only at the end).

    ``warmup``: first train one sentence and generate one per mood in a scratch brain (same
    shapes, so every kernel compiles there; its wall time is ``warmup_s``), so that the
    per-sentence times below exclude compilation. The scratch brain draws no numbers from the
    sentence stream: the trial is the same with or without it. ``host_loop`` (default):
    train and generate with host calls per round; ``False``: one program per sentence
    (same results, fewer dispatches, longer compilation).

    Returns:
        ``{"history": [{"sentences", "fraction_correct": {order: f}, "generated": {...}}],
        "state": final brain, "spec": brain spec, "train_s_per_sentence",
        "generate_s_per_sentence"`` (s; include the first calls' compilation unless
        ``warmup``), ``"train_s"`` / ``"generate_s"`` (per-sentence lists, s), ``"warmup_s"``
        (None without warm-up)``}``.
    """
    spec = make_brain_spec(ws)
    state = B.init(spec)
    warmup_s = None
    if warmup:
        t0 = time.perf_counter()
        scratch = state
        for mood in range(len(ws.orders)):
            scratch = train_sentence(spec, ws, scratch, 0, 1, 0, mood, host_loop)
        jax.block_until_ready(scratch)
        for mood in range(len(ws.orders)):
            generate(spec, ws, scratch, 0, 1, 0, mood, host_loop)
        warmup_s = time.perf_counter() - t0
    rnd = _random.Random(rng_seed)
    hist = []
    clock = {"train_s": [], "generate_s": []}

    def test(done):
        frac, gen = {}, {}
        for mood, order in enumerate(ws.orders):
            outs = []
            for _ in range(num_generate):
                subj = rnd.randrange(ws.num_nouns)
                obj = rnd.choice([x for x in range(ws.num_nouns) if x != subj])
                verb = rnd.randrange(ws.num_verbs)
                t0 = time.perf_counter()
                outs.append(generate(spec, ws, state, subj, obj, verb, mood, host_loop))
                clock["generate_s"].append(time.perf_counter() - t0)
            frac[order] = sum(o == order for o in outs) / len(outs)
            gen[order] = outs
        hist.append({"sentences": done, "fraction_correct": frac, "generated": gen})
        if log:
            log(hist[-1])

    for i in range(num_train):
        mood = rnd.randrange(len(ws.orders))
        t0 = time.perf_counter()
        state = train_sentence(spec, ws, state, rnd.randrange(ws.num_nouns),
                               rnd.randrange(ws.num_nouns), rnd.randrange(ws.num_verbs), mood,
                               host_loop)
        jax.block_until_ready(state)
        clock["train_s"].append(time.perf_counter() - t0)
        if test_every and (i + 1) % test_every == 0 and i + 1 < num_train:
            test(i + 1)
    test(num_train)
    return {"history": hist, "state": state, "spec": spec,
            "train_s_per_sentence": sum(clock["train_s"]) / num_train,
            "generate_s_per_sentence": sum(clock["generate_s"]) / max(len(clock["generate_s"]), 1),
            "train_s": clock["train_s"], "generate_s": clock["generate_s"], "warmup_s": warmup_s}
