"""Word acquisition (the reference learner.py ``LearnBrain``), with neural readouts only.

Areas: PHON (one fixed assembly per word, ``phon_k`` neurons each), VISUAL (one per noun),
MOTOR (one per verb), all "explicit" (small, every neuron simulated), and the lexical areas
NOUN and VERB (``lex_n`` neurons, ``lex_k`` cap). A sentence (noun, verb):

* VISUAL[noun] and MOTOR[verb] fire for the whole sentence (grounding);
* each word in turn: PHON[word] fires; ``project_star``: first
  ``PHON -> NOUN, VERB; VISUAL -> NOUN; MOTOR -> VERB``, then ``proj_rounds`` times also
  ``NOUN -> PHON, NOUN, VISUAL`` and ``VERB -> PHON, VERB, MOTOR`` (PHON / VISUAL / MOTOR
  are fixed, so they keep their assemblies while their incoming synapses learn);
* the grounding is cleared after the sentence.

Readouts (plasticity off; nothing is looked up in a table):

* **category**: PHON[word] fires into NOUN and VERB together, then ``proj_rounds`` rounds of
  PHON + recurrent firing; the category is the lexical area whose winners receive the larger
  total synaptic input from PHON's winners (learned weights included), as in learner.py's
  ``get_total_input`` / ``test_word``.
* **property P** (learner.py ``testIndexedWord``): the word's grounding (VISUAL or MOTOR
  assembly) fires into the lexical area the *category readout* chose, which fires into PHON;
  success if >= ``min_overlap`` (0.75) of PHON's winners are the word's PHON assembly.

The reference gives the test the word's true lexical area; here it comes from the neurons.
"""

from __future__ import annotations

import csv
import functools
import gzip
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import sparse_delta as sd
from . import batched
from . import brain as B
from . import implicit
from .kcap import k_cap

__all__ = ["LearnerSpec", "make_spec", "fixed_drive", "sentence", "train", "test_words", "load_lexicon",
           "SentenceSampler", "SAMPLINGS", "TRAIN_PATHS", "LexCarry"]

SAMPLINGS = ("iid", "balanced")


@dataclass(frozen=True)
class LearnerSpec:
    """Sizes of the learner (learner.py defaults: p 0.05, LEX k 50, beta 0.06, 2 rounds)."""
    num_nouns: int = 2
    num_verbs: int = 2
    p: float = 0.05
    lex_n: int = 100_000
    lex_k: int = 50
    phon_k: int = 100
    context_k: int = 100
    beta: float = 0.06
    proj_rounds: int = 2
    min_overlap: float = 0.75
    seed: int = 0
    store_capacity: int = 2**16
    other_capacity: int = 0      # slots of the fibres without PHON (0: store_capacity / 8)
    w_max: float = math.inf      # Hebbian weight cap (learner.py: none; a C++ port: 1000)
    kcap: str = "auto"


def make_spec(ls: LearnerSpec) -> B.BrainSpec:
    nw = ls.num_nouns + ls.num_verbs
    areas = (B.Area("PHON", nw * ls.phon_k, ls.phon_k, ls.beta),
             B.Area("VISUAL", max(ls.num_nouns, 2) * ls.context_k, ls.context_k, ls.beta),
             B.Area("MOTOR", max(ls.num_verbs, 2) * ls.context_k, ls.context_k, ls.beta),
             B.Area("NOUN", ls.lex_n, ls.lex_k, ls.beta),
             B.Area("VERB", ls.lex_n, ls.lex_k, ls.beta))
    pairs = [("PHON", "NOUN"), ("PHON", "VERB"), ("VISUAL", "NOUN"), ("MOTOR", "VERB"),
             ("NOUN", "PHON"), ("NOUN", "NOUN"), ("NOUN", "VISUAL"),
             ("VERB", "PHON"), ("VERB", "VERB"), ("VERB", "MOTOR"),
             ("VISUAL", "VERB"), ("MOTOR", "NOUN")]
    # PHON <-> lexical fibres gain a new synapse set with almost every (word, context) pair
    # (3.4 M on PHON -> VERB after 2,000 sentences with 100 words); the others ~30x fewer
    small = ls.other_capacity or min(ls.store_capacity, max(ls.store_capacity // 8, 2**15))
    fibres = tuple(B.Fibre(a, b, capacity=ls.store_capacity if "PHON" in (a, b) else small)
                   for a, b in pairs)
    return B.BrainSpec(areas=areas, fibres=fibres, p=ls.p, w_max=ls.w_max,
                       seed=ls.seed, store_capacity=ls.store_capacity, kcap=ls.kcap,
                       track_support=False)


def _project_star(spec, s, ls: LearnerSpec, counts=None):
    first = {"PHON": ["NOUN", "VERB"], "VISUAL": ["NOUN"], "MOTOR": ["VERB"]}
    s = B.project(spec, s, None, first, counts=counts)
    later = dict(first)
    later["NOUN"] = ["PHON", "NOUN", "VISUAL"]
    later["VERB"] = ["PHON", "VERB", "MOTOR"]
    # one traced copy of the round (a fori_loop), so compilation does not grow with rounds
    return jax.lax.fori_loop(0, ls.proj_rounds,
                             lambda _, t: B.project(spec, t, None, later, counts=counts), s)


FIXED_FIBRES = (("PHON", "NOUN"), ("PHON", "VERB"), ("VISUAL", "NOUN"), ("MOTOR", "VERB"))


def fixed_drive(spec, ls: LearnerSpec) -> dict:
    """The hashed synapse counts from every fixed assembly into the lexical areas:
    ``{fibre key: float32[assemblies, lex_n]}`` for PHON -> NOUN / VERB (one row per word),
    VISUAL -> NOUN (per noun) and MOTOR -> VERB (per verb). These assemblies fire again and
    again, so :func:`train` can read their counts from this table instead of hashing them in
    every round (same result; 4 bytes x lex_n x (2 x words + nouns + verbs) of memory, shared
    by learners of one connectome)."""
    s0 = B.init(spec)
    sizes = {"PHON": ls.num_nouns + ls.num_verbs, "VISUAL": ls.num_nouns, "MOTOR": ls.num_verbs}

    def rows(src, dst):
        one = lambda i: B.fibre_counts(spec, B.activate(spec, s0, src, i), src, dst)
        return jax.lax.map(one, jnp.arange(sizes[src], dtype=jnp.int32))
    return {spec.fibre(a, b).key: rows(a, b) for a, b in FIXED_FIBRES}


def sentence(spec, ls: LearnerSpec, state, noun, verb, drive=None, path: str = "project"):
    """Train on one (noun, verb) sentence; noun in 0..N-1, verb in 0..V-1 (traced ints);
    ``drive``: :func:`fixed_drive` (optional; the same result, fewer hashes); ``path``: as
    in :func:`train`."""
    _check_path(path)
    if path == "stacked":
        return _train_stacked(spec, ls, state, jnp.asarray(noun, jnp.int32)[None],
                              jnp.asarray(verb, jnp.int32)[None], drive)
    s = B.activate(spec, state, "VISUAL", noun)
    s = B.activate(spec, s, "MOTOR", verb)

    def word(t, w):   # the two words share one traced body (lax.scan)
        t = B.activate(spec, t, "PHON", w)
        counts = None
        if drive is not None:
            row = {"PHON": w, "VISUAL": noun, "MOTOR": verb}
            counts = {spec.fibre(a, b).key: drive[spec.fibre(a, b).key][row[a]]
                      for a, b in FIXED_FIBRES}
        return _project_star(spec, t, ls, counts), None

    words = jnp.stack([jnp.asarray(noun, jnp.int32), ls.num_nouns + jnp.asarray(verb, jnp.int32)])
    s, _ = jax.lax.scan(word, s, words)
    s = B.clear(spec, s, "VISUAL")
    s = B.clear(spec, s, "MOTOR")
    return s


def train(spec, ls: LearnerSpec, state, nouns, verbs, drive=None, path: str = "project"):
    """Sentences ``(nouns[i], verbs[i])`` (int[S] each) in one ``lax.scan``; returns the
    trained state.

    ``drive``: as in :func:`sentence`. ``path`` (static; :data:`TRAIN_PATHS`, the same state
    bit for bit): ``"project"`` (the reference: ``brain.project`` per round, one set of
    kernels per fibre and target) or ``"stacked"`` (NOUN and VERB on a leading axis of 2,
    each stage of a round one vmapped op for both, the learned weights as a few stacked
    stores carried through the sentences: fewer, larger kernels; the fixed assemblies'
    counts hashed once per word, not in every round).
    """
    _check_path(path)
    nouns, verbs = jnp.asarray(nouns, jnp.int32), jnp.asarray(verbs, jnp.int32)
    if path == "stacked":
        return _train_stacked(spec, ls, state, nouns, verbs, drive)

    def body(s, nv):
        return sentence(spec, ls, s, nv[0], nv[1], drive), None
    state, _ = jax.lax.scan(body, state, (nouns, verbs))
    return state


# ---- the stacked training path -----------------------------------------------------------
#
# NOUN and VERB have the same n and k, and every fibre of a training sentence has a mirror
# on the other side: PHON -> NOUN / PHON -> VERB, VISUAL -> NOUN / MOTOR -> VERB, and so
# on. ``path="stacked"`` keeps the two sides on a leading axis of 2 and runs each stage of
# a round once for both (one vmap), the learned weights as a few stacked stores: fewer,
# larger kernels than brain.project's one set per fibre and target.

TRAIN_PATHS = ("project", "stacked")

# role: (source, target), "L" the side's lexical area, "C" its context area (row order of
# the stacked stores; the first round's roles come first)
_ROLES = (("in_phon", "PHON", "L"), ("in_ctx", "C", "L"), ("rec", "L", "L"),
          ("out_phon", "L", "PHON"), ("out_ctx", "L", "C"))
_FIRST = ("in_phon", "in_ctx")                    # the roles of a word's first round
_SIDES = (("NOUN", "VISUAL"), ("VERB", "MOTOR"))  # side 0, side 1: (L, C)


def _check_path(path: str):
    if path not in TRAIN_PATHS:
        raise ValueError(f"learner: path={path!r}; allowed: {', '.join(map(repr, TRAIN_PATHS))}")


def _role_fibre(spec, role: str, side: int) -> B.Fibre:
    _, src, dst = next(r for r in _ROLES if r[0] == role)
    name = {"L": _SIDES[side][0], "C": _SIDES[side][1], "PHON": "PHON"}
    return spec.fibre(name[src], name[dst])


class _Layout(NamedTuple):
    """Static: the stores of the roles' fibres grouped by capacity (one stacked
    :class:`~jaxbrain.sparse_delta.DeltaStore` [P, C] per group), rows in role order,
    side 0 then side 1. ``where[role] = (group, first row)``; ``keys[g]``: fibre keys of
    group g's rows; ``first[g]``: rows of the first round's roles (a prefix); ``fid``,
    ``thr``, ``m_cap``: per group uint32 / uint32 / int32 [P] fibre ids, connection
    thresholds and Hebbian pair caps; ``compact``: some fibre's pair cap is below its
    source k x target k (then the Hebbian update keeps the first ``m_cap`` synapses; else it
    takes every pair with its mask, :func:`_hebb_all_pairs`)."""
    where: dict
    keys: tuple
    first: tuple
    fid: tuple
    thr: tuple
    m_cap: tuple
    compact: bool


def _layout(spec: B.BrainSpec) -> _Layout:
    if spec.law != "hash" or spec.track_support or spec.stimuli:
        raise ValueError("learner path 'stacked': needs law 'hash', track_support=False and "
                         f"no stimuli (make_spec's brain); got law {spec.law!r}, "
                         f"track_support={spec.track_support}, {len(spec.stimuli)} stimuli")
    caps, where = [], {}
    for role, _, _ in _ROLES:
        fs = [_role_fibre(spec, role, s) for s in (0, 1)]
        c = spec.capacity_of(fs[0])
        shape = lambda f: (spec.capacity_of(f), f.p, spec.area(f.src).k, spec.area(f.dst).k)
        if shape(fs[0]) != shape(fs[1]):
            raise ValueError(f"learner path 'stacked': fibres {fs[0].key} and {fs[1].key} "
                             "need one store capacity, p, source k and target k")
        if c not in caps:
            caps.append(c)
        where[role] = caps.index(c)
    keys = [[] for _ in caps]
    for role, _, _ in _ROLES:
        g = where[role]
        where[role] = (g, len(keys[g]))
        keys[g] += [_role_fibre(spec, role, s).key for s in (0, 1)]
    first = tuple(sum(2 for r in _FIRST if where[r][0] == g) for g in range(len(caps)))
    fibres = [[spec.fibre(*k.split("->")) for k in ks] for ks in keys]
    return _Layout(where, tuple(map(tuple, keys)), first,
                   tuple(np.array([f.fid for f in fs], np.uint32) for fs in fibres),
                   tuple(np.array([implicit.p_threshold(f.p) for f in fs], np.uint32)
                         for fs in fibres),
                   tuple(np.array([B._pair_cap(spec, f) for f in fs], np.int32) for fs in fibres),
                   any(B._pair_cap(spec, f) < spec.area(f.src).k * spec.area(f.dst).k
                       for fs in fibres for f in fs))


class LexCarry(NamedTuple):
    """The state a training sentence changes, stacked (``path="stacked"``).

    Attributes:
        winners: int32[2, lex_k], NOUN's winners in row 0, VERB's in row 1.
        n_winners: int32[2].
        stores: tuple of :class:`~jaxbrain.sparse_delta.DeltaStore`, one per store capacity,
            leaves [P, C] (rows: :class:`_Layout`).
    """
    winners: jax.Array
    n_winners: jax.Array
    stores: tuple


class _Fixed(NamedTuple):
    """What a training run reads from the state and never changes (data): per group
    ``beta`` float32[P] and ``fibre_on`` bool[P] (not inhibited); per area ``on`` (not
    inhibited) as a dict of bool[]; ``lex_free`` bool[2]: NOUN / VERB neither fixed nor
    inhibited; ``plastic``, ``w_max``."""
    beta: tuple
    fibre_on: tuple
    on: dict
    lex_free: jax.Array
    plastic: jax.Array
    w_max: jax.Array


def _stack(spec, lay: _Layout, state) -> tuple:
    def rows(tree, keys):
        return jax.tree.map(lambda *x: jnp.stack(x), *[tree[k] for k in keys])
    lex = [state.areas[a] for a, _ in _SIDES]
    carry = LexCarry(jnp.stack([a.winners for a in lex]), jnp.stack([a.n_winners for a in lex]),
                     tuple(rows(state.stores, ks) for ks in lay.keys))
    fixed = _Fixed(tuple(rows(state.beta, ks) for ks in lay.keys),
                   tuple(~rows(state.fibre_inhibited, ks) for ks in lay.keys),
                   {a: ~s.inhibited for a, s in state.areas.items()},
                   jnp.stack([~(a.fixed | a.inhibited) for a in lex]),
                   state.plastic, state.w_max)
    return carry, fixed


def _unstack(spec, ls, lay: _Layout, state, carry: LexCarry, last_word):
    """``state`` after training: the carry's winners and stores, PHON holding the last
    word, VISUAL and MOTOR cleared, every area's ``num_new`` 0 (as ``brain.project`` leaves
    them without support tracking)."""
    s = B.activate(spec, state, "PHON", last_word)
    s = B.clear(spec, s, "VISUAL")
    s = B.clear(spec, s, "MOTOR")
    areas = {a: t._replace(num_new=jnp.int32(0)) for a, t in s.areas.items()}
    for i, (a, _) in enumerate(_SIDES):
        areas[a] = areas[a]._replace(winners=carry.winners[i], n_winners=carry.n_winners[i])
    stores = dict(s.stores)
    for g, ks in enumerate(lay.keys):
        stores.update({k: jax.tree.map(lambda x: x[j], carry.stores[g]) for j, k in enumerate(ks)})
    return s._replace(areas=areas, stores=stores)


def _drive_tables(drive: dict, ls: LearnerSpec):
    """``fixed_drive``'s rows stacked by side: PHON float32[2, words, n] and the context
    float32[2, max(nouns, verbs), n] (VISUAL -> NOUN, MOTOR -> VERB, zero rows padding)."""
    ctx = [drive["VISUAL->NOUN"], drive["MOTOR->VERB"]]
    m = max(t.shape[0] for t in ctx)
    ctx = [jnp.pad(t, ((0, m - t.shape[0]), (0, 0))) for t in ctx]
    return jnp.stack([drive["PHON->NOUN"], drive["PHON->VERB"]]), jnp.stack(ctx)


def _hebb_rows(lay: _Layout, g: int, roles) -> list:
    """The roles of group ``g`` among ``roles``, in row order."""
    return [r for r, _, _ in _ROLES if r in roles and lay.where[r][0] == g]


def _end_rows(ends, i: int):
    """(int32[P, K], int32[P]): end ``i`` (0 or 1) of each fibre pair in ``ends`` (a list of
    ``((winners int32[2, k], count int32[2]), (winners, count))``), the winners PAD-padded
    to the largest k and stacked."""
    k = max(e[i][0].shape[1] for e in ends)
    return (jnp.concatenate([batched._pad_row(e[i][0], k) for e in ends]),
            jnp.concatenate([e[i][1] for e in ends]))


def _hebb_all_pairs(stores, a, a_n, b, b_n, a_src, fid, thr, seed, beta, w_max, plastic,
                    *, each):
    """``brain._hebbian`` of P fibres none of whose pair caps binds: every pair of the grid
    ``a`` int32[P, Ka] x ``b`` int32[P, Kb] (the first ``a_n`` / ``b_n`` int32[P] valid,
    PAD-padded; ``a_src`` bool[P]: ``a`` holds the sources, else the targets) goes to the
    store update with its mask, without compacting them (``nonzero``): the store update
    does not depend on the order of its distinct pairs. Putting each fibre's longer side
    on ``a`` keeps the grid small (Ka x Kb = 100 x 50 at learner.py's sizes, not 100 x 100).
    fid / thr / beta [P]; ``each``: as in ``batched._update_stores``. Returns the P updated
    stores (nothing dropped for a cap)."""
    def pairs(a, a_n, b, b_n, a_src, fid, thr, beta):
        key = jnp.where(a_src, implicit.source_keys(seed, fid, a)[:, None],
                        implicit.source_keys(seed, fid, b)[None, :])
        pre = jnp.where(a_src, a[:, None], b[None, :])
        post = jnp.where(a_src, b[None, :], a[:, None])
        valid = ((implicit.pair_hash(key, post) < thr) & (jnp.arange(a.shape[0]) < a_n)[:, None]
                 & (jnp.arange(b.shape[0]) < b_n)[None, :] & plastic & (beta != 0))
        return pre.reshape(-1), post.reshape(-1), valid.reshape(-1)

    pre, post, ok = jax.vmap(pairs)(a, a_n, b, b_n, a_src, fid, thr, beta)
    return batched._update_stores(stores, pre, post, ok, beta, w_max, each)


def _lex_round(spec, lay: _Layout, fx: _Fixed, carry: LexCarry, phon, ctx, counts,
               first: bool) -> LexCarry:
    """One ``brain.project`` of a word's ``project_star`` on the stacked carry: the first
    round (PHON -> NOUN, VERB; VISUAL -> NOUN; MOTOR -> VERB) or a later one (also NOUN /
    VERB -> itself, PHON and its context). PHON, VISUAL and MOTOR are fixed (not k-capped).

    Arguments:
        phon: int32[phon_k], PHON's winners; ctx: int32[2, context_k], VISUAL's and
            MOTOR's.
        counts: ``{"in_phon", "in_ctx": float32[2, lex_n]}``, the hashed synapse counts of
            the fixed sources into NOUN (row 0) and VERB (row 1).
    Returns:
        The new carry (winners, stores).
    """
    lex = spec.area(_SIDES[0][0])
    seed = jnp.uint32(spec.seed)
    roles = _FIRST if first else tuple(r for r, _, _ in _ROLES)
    two = lambda a: jnp.broadcast_to(a, (2,) + jnp.shape(a))
    both = lambda i: jnp.stack([fx.on[s[i]] for s in _SIDES])     # i: 0 L, 1 C
    src = {"PHON": (two(phon), two(jnp.int32(phon.shape[0])), two(fx.on["PHON"])),
           "C": (ctx, two(jnp.int32(ctx.shape[1])), both(1)),
           "L": (carry.winners, carry.n_winners, both(0))}
    rows = lambda tree, role: jax.tree.map(
        lambda a: a[lay.where[role][1]:lay.where[role][1] + 2], tree[lay.where[role][0]])
    role_src = {r: src[s] for r, s, _ in _ROLES}
    fires = {r: rows(fx.fibre_on, r) & (role_src[r][1] > 0) & role_src[r][2] for r in roles}
    # 1. input into NOUN and VERB (brain._cap_one_device's sum, fibres in its order), k-cap
    ins = [r for r, _, t in _ROLES if r in roles and t == "L"]
    if "rec" in ins:
        g, j = lay.where["rec"]
        counts = dict(counts, rec=batched._counts(
            carry.winners, carry.n_winners, jnp.asarray(lay.fid[g][j:j + 2]), seed,
            p=_role_fibre(spec, "rec", 0).p, n_dst=lex.n))

    def side(cs, ws, stores, fs):
        x = jnp.zeros((lex.n,), jnp.float32)
        for c, w, st, f in zip(cs, ws, stores, fs):
            x = x + jnp.where(f, c + sd.sum_into_post(st, w, lex.n), 0.0)
        return k_cap(x, lex.k, spec.kcap)

    win = jax.vmap(side)([counts[r] for r in ins], [role_src[r][0] for r in ins],
                         [rows(carry.stores, r) for r in ins], [fires[r] for r in ins])
    fires_any = functools.reduce(jnp.logical_or, [fires[r] for r in ins])
    change = fires_any & fx.lex_free
    new_w = jnp.where(change[:, None], win, carry.winners)
    new_n = jnp.where(change, jnp.int32(lex.k), carry.n_winners)
    # 2. Hebbian update of every fibre of the round, one batch per store capacity
    tgt = {"L": (new_w, new_n, fires_any & both(0))}
    if not first:
        tgt["PHON"] = (two(phon), src["PHON"][1],
                       two(fires["out_phon"][0] | fires["out_phon"][1]) & src["PHON"][2])
        tgt["C"] = (ctx, src["C"][1], fires["out_ctx"] & src["C"][2])
    role_tgt = {r: tgt[t] for r, _, t in _ROLES if r in roles}
    stores = list(carry.stores)
    each = jax.default_backend() == "cpu"
    for g in range(len(stores)):
        rs = _hebb_rows(lay, g, roles)
        m = 2 * len(rs)
        # per fibre ((source winners, count), (target winners, count)), [2, k] and [2]; a
        # source counts as silent where its fibre is off or its target is not active
        ends = [((role_src[r][0], jnp.where(role_tgt[r][2] & fires[r], role_src[r][1], 0)),
                 role_tgt[r][:2]) for r in rs]
        old = jax.tree.map(lambda a: a[:m], stores[g])
        fid, thr = jnp.asarray(lay.fid[g][:m]), jnp.asarray(lay.thr[g][:m])
        if lay.compact:       # a pair cap binds: brain._hebbian's first m_cap synapses
            upd = batched._hebb(old, *_end_rows(ends, 0), *_end_rows(ends, 1), fid, thr,
                                jnp.asarray(lay.m_cap[g][:m]), seed, fx.beta[g][:m], fx.w_max,
                                fx.plastic, size=int(lay.m_cap[g][:m].max()), each=each)
        else:                 # every pair, each fibre's longer end first
            src_long = [s[0].shape[1] >= d[0].shape[1] for s, d in ends]
            ends = [(s, d) if f else (d, s) for f, (s, d) in zip(src_long, ends)]
            upd = _hebb_all_pairs(old, *_end_rows(ends, 0), *_end_rows(ends, 1),
                                  jnp.repeat(jnp.asarray(src_long), 2), fid, thr, seed,
                                  fx.beta[g][:m], fx.w_max, fx.plastic, each=each)
        stores[g] = upd if m == lay.fid[g].shape[0] else jax.tree.map(
            lambda a, b: a.at[:m].set(b), stores[g], upd)
    return LexCarry(new_w, new_n, tuple(stores))


def _fixed_counts(spec, lay: _Layout, role: str, w) -> jax.Array:
    """float32[2, lex_n]: the hashed counts of ``role``'s two fibres from winners ``w``
    int32[2, k] (all firing)."""
    g, j = lay.where[role]
    n = jnp.full((2,), w.shape[1], jnp.int32)
    return batched._counts(w, n, jnp.asarray(lay.fid[g][j:j + 2]), jnp.uint32(spec.seed),
                           p=_role_fibre(spec, role, 0).p, n_dst=spec.area(_SIDES[0][0]).n)


def _lex_sentence(spec, ls: LearnerSpec, lay: _Layout, fx: _Fixed, carry: LexCarry, noun,
                  verb, tables=None) -> LexCarry:
    """:func:`sentence` on the stacked carry; ``tables``: :func:`_drive_tables` or None
    (then the fixed sources' counts are hashed once per word and per sentence, not in
    every round: the same numbers)."""
    nv = jnp.stack([jnp.asarray(noun, jnp.int32), jnp.asarray(verb, jnp.int32)])
    ctx = jax.vmap(lambda i: B.assembly_ids(spec.area(_SIDES[0][1]).k, i))(nv)
    ctx_counts = (_fixed_counts(spec, lay, "in_ctx", ctx) if tables is None
                  else tables[1][jnp.arange(2), nv])

    def word(c, w):
        phon = B.assembly_ids(spec.area("PHON").k, w)
        counts = {"in_phon": (_fixed_counts(spec, lay, "in_phon", jnp.stack([phon, phon]))
                              if tables is None else tables[0][:, w]),
                  "in_ctx": ctx_counts}
        c = _lex_round(spec, lay, fx, c, phon, ctx, counts, first=True)
        c = jax.lax.fori_loop(0, ls.proj_rounds, lambda _, t: _lex_round(
            spec, lay, fx, t, phon, ctx, counts, first=False), c)
        return c, None

    carry, _ = jax.lax.scan(word, carry, nv.at[1].add(ls.num_nouns))
    return carry


def _train_stacked(spec, ls: LearnerSpec, state, nouns, verbs, drive=None):
    lay = _layout(spec)
    if nouns.shape[0] == 0:
        return state
    carry, fx = _stack(spec, lay, state)
    tables = None if drive is None else _drive_tables(drive, ls)
    carry, _ = jax.lax.scan(lambda c, nv: (_lex_sentence(spec, ls, lay, fx, c, nv[0], nv[1],
                                                          tables), None),
                            carry, (nouns, verbs))
    return _unstack(spec, ls, lay, state, carry, ls.num_nouns + verbs[-1])


class SentenceSampler:
    """Host-side stream of (noun, verb) sentences.

    ``"iid"`` (learner.py's ``train_random_sentence``): noun and verb uniform and independent
    (per chunk of ``m``: ``m`` nouns, then ``m`` verbs from one numpy generator). Word counts
    then spread like Binomial(sentences, 1/num_nouns): after N sentences two nouns differ by
    ~sqrt(2 N / num_nouns) sentences. ``"balanced"``: nouns and verbs are each drawn as
    consecutive random permutations, so every noun is heard once per ``num_nouns``
    sentences (every verb once per ``num_verbs``); pairs are still random.
    """

    def __init__(self, num_nouns: int, num_verbs: int, sampling: str = "iid", seed: int = 0):
        if sampling not in SAMPLINGS:
            raise ValueError(f"SentenceSampler: sampling={sampling!r}; allowed: {SAMPLINGS}")
        self.nn, self.nv, self.sampling = num_nouns, num_verbs, sampling
        self.rng = np.random.default_rng(seed)
        self._queues = ([], [])

    def _balanced(self, which: int, m: int) -> np.ndarray:
        q, size = self._queues[which], (self.nn, self.nv)[which]
        while len(q) < m:
            q.extend(self.rng.permutation(size).tolist())
        out, q[:] = q[:m], q[m:]
        return np.asarray(out)

    def draw(self, m: int):
        """(nouns int32[m] in 0..N-1, verbs int32[m] in 0..V-1)."""
        if self.sampling == "iid":
            a = self.rng.integers(0, self.nn, m)
            b = self.rng.integers(0, self.nv, m)
        else:
            a, b = self._balanced(0, m), self._balanced(1, m)
        return a.astype(np.int32), b.astype(np.int32)


def _input_sum(spec, s, src, dst):
    """Total synaptic weight from src's winners onto dst's winners."""
    w = B.fibre_weights(spec, s, src, dst, s.areas[src].winners, s.areas[dst].winners)
    return jnp.sum(w)


def _test_word(spec, ls: LearnerSpec, state, word):
    is_noun = word < ls.num_nouns
    s = B.set_plasticity(state, False)
    s = B.clear(spec, s, "NOUN")
    s = B.clear(spec, s, "VERB")
    s = B.clear(spec, s, "VISUAL")
    s = B.clear(spec, s, "MOTOR")
    # 1. category from the neurons: which lexical area does PHON[word] drive harder?
    s1 = B.activate(spec, s, "PHON", word)
    s1 = B.project(spec, s1, None, {"PHON": ["NOUN", "VERB"]}, learn=False)
    s1 = jax.lax.fori_loop(0, ls.proj_rounds, lambda _, t: B.project(
        spec, t, None, {"PHON": ["NOUN", "VERB"], "NOUN": ["NOUN"], "VERB": ["VERB"]},
        learn=False), s1)
    in_noun = _input_sum(spec, s1, "PHON", "NOUN")
    in_verb = _input_sum(spec, s1, "PHON", "VERB")
    says_noun = in_noun >= in_verb
    # 2. property P through the lexical area the readout chose
    s2 = B.unfix(s, "PHON")
    s2 = jax.lax.cond(is_noun, lambda t: B.activate(spec, t, "VISUAL", word),
                      lambda t: B.activate(spec, t, "MOTOR", word - ls.num_nouns), s2)

    def via(lex, ctx_noun):
        def f(t):
            t = B.project(spec, t, None, {"VISUAL": [lex]} if ctx_noun else {"MOTOR": [lex]},
                          learn=False)
            return B.project(spec, t, None, {lex: ["PHON"]}, learn=False)
        return f

    branches = [via("NOUN", True), via("VERB", True), via("NOUN", False), via("VERB", False)]
    idx = jnp.where(is_noun, 0, 2) + jnp.where(says_noun, 0, 1)
    s2 = jax.lax.switch(idx, branches, s2)
    w = s2.areas["PHON"].winners
    lo = word * ls.phon_k
    hits = jnp.sum((w >= lo) & (w < lo + ls.phon_k))
    lex_w = jnp.where(says_noun, s2.areas["NOUN"].winners, s2.areas["VERB"].winners)
    return {"says_noun": says_noun, "in_noun": in_noun, "in_verb": in_verb,
            "phon_overlap": hits / ls.phon_k, "lex_winners": lex_w, "phon_winners": w}


def test_words(spec, ls: LearnerSpec, state, words=None, batch_size: int = 8):
    """Readouts for every word (``lax.map`` in vmapped batches of ``batch_size``; the state is
    shared and never modified: readouts run without the Hebbian update).

    Returns per word (leading axis W): ``says_noun``, ``in_noun`` / ``in_verb`` (summed
    inputs), ``phon_overlap`` (fraction of PHON's winners in the word's assembly),
    ``category_ok``, ``property_p``, and the property-P path's winners: ``lex_winners``
    int32[W, lex_k] (grounding -> chosen lexical area) and ``phon_winners`` int32[W, phon_k].
    """
    nw = ls.num_nouns + ls.num_verbs
    words = jnp.arange(nw, dtype=jnp.int32) if words is None else jnp.asarray(words, jnp.int32)
    r = jax.lax.map(lambda w: _test_word(spec, ls, state, w), words,
                    batch_size=min(batch_size, words.shape[0]))
    is_noun = words < ls.num_nouns
    r["category_ok"] = r["says_noun"] == is_noun
    r["property_p"] = r["category_ok"] & (r["phon_overlap"] >= ls.min_overlap)
    return r


def load_lexicon(num_nouns: int, num_verbs: int, min_len: int = 3, max_len: int = 8,
                 path: str | None = None):
    """Nouns and verbs from lemminflect's ``resources/infl_lu.csv.gz`` (lemma,pos,forms).

    ``path`` overrides the file's location (e.g. a copy on a machine without lemminflect).

    Picks the first ``num_nouns`` / ``num_verbs`` lower-case alphabetic lemmas (length in
    ``[min_len, max_len]``) that appear only as a noun / only as a verb, in file order.
    """
    if path:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"lexicon file {path} does not exist")
    else:
        spec = importlib.util.find_spec("lemminflect")
        if spec is None or spec.origin is None:
            raise FileNotFoundError(
                "the word lexicon needs the package lemminflect (data only); install it with: "
                "pip install --no-deps lemminflect==0.2.3")
        path = Path(spec.origin).parent / "resources" / "infl_lu.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"lemminflect is installed but {path} is missing; reinstall "
                                "with: pip install --no-deps --force-reinstall lemminflect==0.2.3")
    pos = {}
    order = []
    with gzip.open(path, "rt") as f:
        for row in csv.reader(f):
            if len(row) < 2:
                continue
            lemma, p = row[0], row[1].upper()
            if not (lemma.isalpha() and lemma.islower() and min_len <= len(lemma) <= max_len):
                continue
            if lemma not in pos:
                order.append(lemma)
            pos.setdefault(lemma, set()).add(p)
    nouns = [w for w in order if pos[w] == {"NOUN"}][:num_nouns]
    verbs = [w for w in order if pos[w] == {"VERB"}][:num_verbs]
    if len(nouns) < num_nouns or len(verbs) < num_verbs:
        raise ValueError(f"lexicon has only {len(nouns)} nouns / {len(verbs)} verbs; asked "
                         f"for {num_nouns} / {num_verbs}")
    return nouns, verbs
