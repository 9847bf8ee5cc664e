"""The NEMO parser (Mitropolsky & Papadimitriou's parser.py semantics) on the
implicit-mode brain, with dependencies read out from the neurons, for English and for
Russian (:class:`Grammar`: :data:`ENGLISH`, :data:`RUSSIAN`).

Russian (the reference's ``RussianParserBrain``): areas ``LEX, NOM, VERB, ACC, DAT`` (only
LEX disinhibited at the start), case-marked nouns open the area of their case, verbs open
VERB and its fibres to NOM / ACC (and DAT for ditransitives); the word forms of one noun
share one LEX assembly (``kot`` / ``kota`` / ``kotu``), so the readout names a noun by its
first form. Word order is free: the case, not the position, decides the relation.

English:

Brain (reference defaults, :class:`ParserSpec`): an explicit area ``LEX`` holding one fixed
assembly of ``lex_k`` neurons per word of the lexicon (word ``i`` = neurons
``i*lex_k .. i*lex_k + lex_k - 1``), and the syntactic areas ``SUBJ, OBJ, VERB, ADJ, ADVERB,
PREP, PREP_P`` (``n = 1e4, k = 100``) and ``DET`` (``n = 1e4, k = lex_k``); p = 0.1.
Plasticity: LEX <-> syntactic area 1.0, self-loops of syntactic areas 0.05, between two
syntactic areas 0.5, everything touching DET (and LEX -> LEX) 0.2.

Control (symbolic, the "rules" of each word's category; nothing neural is decided here):

* every area has a set of inhibition *indices* (inhibited while the set is non-empty); every
  unordered pair of areas (a *fibre*, both directions) likewise. At the start ``LEX, SUBJ,
  VERB`` are disinhibited, everything else is inhibited with index 0;
* word ``w``: LEX fires ``w``'s assembly (fixed); the category's *pre-rules* inhibit or
  disinhibit areas / fibres; the **projection map** is every ``a -> b`` with ``a, b``
  disinhibited, the fibre ``{a, b}`` disinhibited, ``a`` holding an assembly (not LEX -> LEX
  through the fibre), plus ``b -> b`` whenever ``b`` holds an assembly and has an open fibre
  from a disinhibited area; areas that fire but receive nothing from LEX are fixed, areas LEX
  projects into are erased (their assembly is rebuilt from LEX); then ``project_rounds``
  synchronous projections, recomputing the map every round; then the *post-rules*.

Which areas hold an assembly depends only on this control, never on neural values, so
:func:`plan` compiles a sentence's category sequence into a static list of neural
operations, and :func:`parse` runs them with the word indices as data, each projection
round as per-fibre kernels (:func:`.fibrewise.project_round`, compiled once per shape and
shared by all sentences and seeds; areas the plan has fixed get no input computation).
:func:`parse_and_read` runs the same rounds and the readout as ONE jitted program per
plan, each round batched over its fibres and areas (:func:`.batched.project_rounds`, on the
stacked winners and stores; repeated rounds as a ``fori_loop``; words and seed are data),
with the same result bit for bit and no host round trip per round.

Readout (plasticity off, all assemblies unfixed; reference ``read_out`` with fibre
readout): starting at VERB, project the area into every area it ever fired into that the
readout rules allow (:data:`READOUT_RULES`); the area's word is LEX's assembly; for every
such target ``t`` project ``t -> LEX`` and read LEX: dependency ``(word, LEX's word, t)``;
recurse into the targets. **LEX is read by overlap**: the word whose assembly holds the most
of LEX's current winners, if it holds at least ``min_overlap`` (0.7) of them, else
``None``. The dependencies come from neural activity only; the gold dependencies of
:data:`TEST_SENTENCES` are used for scoring only.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, replace
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import batched as BT
from . import brain as B
from .fibrewise import project_round, seedless

__all__ = ["LEX", "DET", "SUBJ", "OBJ", "VERB", "ADJ", "ADVERB", "PREP", "PREP_P", "AREAS",
           "NOM", "ACC", "DAT", "SYNTACTIC_AREAS", "ENGLISH_LEXICON", "CATEGORY_RULES",
           "READOUT_RULES", "TEST_SENTENCES", "RUSSIAN_LEXICON", "RUSSIAN_SENTENCES", "Grammar",
           "ENGLISH", "RUSSIAN", "GRAMMARS", "ParserSpec", "AreaRule", "FibreRule", "Plan",
           "make_brain_spec", "plan", "parse", "read_out", "parse_and_read", "lex_word",
           "parse_sentences", "score"]

LEX, DET, SUBJ, OBJ, VERB = "LEX", "DET", "SUBJ", "OBJ", "VERB"
ADJ, ADVERB, PREP, PREP_P = "ADJ", "ADVERB", "PREP", "PREP_P"
NOM, ACC, DAT = "NOM", "ACC", "DAT"
AREAS = (LEX, DET, SUBJ, OBJ, VERB, ADJ, ADVERB, PREP, PREP_P)
#: areas with recurrent plasticity beta (DET is not one of them in the reference)
SYNTACTIC_AREAS = (SUBJ, OBJ, VERB, ADJ, ADVERB, PREP, PREP_P)
_INITIAL = (LEX, SUBJ, VERB)


class AreaRule(NamedTuple):
    """Inhibit (``inhibit=True``) or disinhibit ``area`` with inhibition index ``index``."""
    inhibit: bool
    area: str
    index: int = 0


class FibreRule(NamedTuple):
    """Inhibit or disinhibit the fibre ``{a, b}`` (both directions) with index ``index``."""
    inhibit: bool
    a: str
    b: str
    index: int = 0


def _fib(inhibit, pairs, index=0):
    return [FibreRule(inhibit, a, b, index) for a, b in pairs]


# The categories' rules (parser.py's generic_noun, generic_trans_verb, ...): pre-rules
# open the fibres a word of this category may use, post-rules close them again.
_NOUN_FIBRES = [(LEX, SUBJ), (LEX, OBJ), (LEX, PREP_P), (DET, SUBJ), (DET, OBJ), (DET, PREP_P),
                (ADJ, SUBJ), (ADJ, OBJ), (ADJ, PREP_P), (VERB, OBJ), (PREP_P, PREP),
                (PREP_P, SUBJ), (PREP_P, OBJ)]
_NP_FIBRES_1 = [(LEX, SUBJ), (LEX, OBJ), (DET, SUBJ), (DET, OBJ), (ADJ, SUBJ), (ADJ, OBJ)]

CATEGORY_RULES = {
    "noun": (
        _fib(False, _NOUN_FIBRES),
        [AreaRule(True, a) for a in (DET, ADJ, PREP_P, PREP)]
        + _fib(True, [(LEX, SUBJ), (LEX, OBJ), (LEX, PREP_P), (ADJ, SUBJ), (ADJ, OBJ),
                      (ADJ, PREP_P), (DET, SUBJ), (DET, OBJ), (DET, PREP_P), (VERB, OBJ),
                      (PREP_P, PREP), (PREP_P, VERB)])
        + _fib(False, _NP_FIBRES_1, 1)
        + _fib(True, [(PREP_P, SUBJ), (PREP_P, OBJ), (VERB, ADJ)])),
    "trans_verb": (
        _fib(False, [(LEX, VERB), (VERB, SUBJ), (VERB, ADVERB)]) + [AreaRule(False, ADVERB, 1)],
        _fib(True, [(LEX, VERB)]) + [AreaRule(False, OBJ), AreaRule(True, SUBJ),
                                     AreaRule(True, ADVERB)]
        + _fib(False, [(PREP_P, VERB)])),
    "intrans_verb": (
        _fib(False, [(LEX, VERB), (VERB, SUBJ), (VERB, ADVERB)]) + [AreaRule(False, ADVERB, 1)],
        _fib(True, [(LEX, VERB)]) + [AreaRule(True, SUBJ), AreaRule(True, ADVERB)]
        + _fib(False, [(PREP_P, VERB)])),
    "copula": (
        _fib(False, [(LEX, VERB), (VERB, SUBJ)]),
        _fib(True, [(LEX, VERB)]) + [AreaRule(False, OBJ), AreaRule(True, SUBJ)]
        + _fib(False, [(ADJ, VERB)])),
    "adverb": (
        [AreaRule(False, ADVERB)] + _fib(False, [(LEX, ADVERB)]),
        _fib(True, [(LEX, ADVERB)]) + [AreaRule(True, ADVERB, 1)]),
    "det": (
        [AreaRule(False, DET)] + _fib(False, [(LEX, DET)]),
        _fib(True, [(LEX, DET), (VERB, ADJ)])),
    "adj": (
        [AreaRule(False, ADJ)] + _fib(False, [(LEX, ADJ)]),
        _fib(True, [(LEX, ADJ), (VERB, ADJ)])),
    "prep": (
        [AreaRule(False, PREP)] + _fib(False, [(LEX, PREP)]),
        _fib(True, [(LEX, PREP)]) + [AreaRule(False, PREP_P)] + _fib(True, _NP_FIBRES_1, 1)),
}

#: the reference lexicon (word, category); word i owns LEX neurons i*lex_k .. i*lex_k+lex_k-1
ENGLISH_LEXICON = (
    ("the", "det"), ("a", "det"), ("dogs", "noun"), ("cats", "noun"), ("mice", "noun"),
    ("people", "noun"), ("chase", "trans_verb"), ("love", "trans_verb"), ("bite", "trans_verb"),
    ("of", "prep"), ("big", "adj"), ("bad", "adj"), ("run", "intrans_verb"),
    ("fly", "intrans_verb"), ("quickly", "adverb"), ("in", "prep"), ("are", "copula"),
    ("man", "noun"), ("woman", "noun"), ("saw", "trans_verb"))

#: which fibres the readout follows from each area (parser.py's ENGLISH_READOUT_RULES)
READOUT_RULES = {
    VERB: (LEX, SUBJ, OBJ, PREP_P, ADVERB, ADJ),
    SUBJ: (LEX, DET, ADJ, PREP_P),
    OBJ: (LEX, DET, ADJ, PREP_P),
    PREP_P: (LEX, PREP, ADJ, DET),
    PREP: (LEX,), ADJ: (LEX,), DET: (LEX,), ADVERB: (LEX,), LEX: (),
}

#: sentences over the reference lexicon with their gold dependencies (head, dependent,
#: relation area), written by hand in the reference's readout convention: the verb heads
#: SUBJ / OBJ / ADVERB / ADJ (copula) / PREP_P; a noun heads its DET, ADJ and PREP_P; the
#: noun of a prepositional phrase heads its PREP.
TEST_SENTENCES = (
    ("cats chase mice", [("chase", "cats", SUBJ), ("chase", "mice", OBJ)]),
    ("people bite dogs", [("bite", "people", SUBJ), ("bite", "dogs", OBJ)]),
    ("dogs love people", [("love", "dogs", SUBJ), ("love", "people", OBJ)]),
    ("man saw woman", [("saw", "man", SUBJ), ("saw", "woman", OBJ)]),
    ("dogs run", [("run", "dogs", SUBJ)]),
    ("dogs chase cats quickly", [("chase", "dogs", SUBJ), ("chase", "cats", OBJ),
                                 ("chase", "quickly", ADVERB)]),
    ("cats run quickly", [("run", "cats", SUBJ), ("run", "quickly", ADVERB)]),
    ("the dogs chase cats", [("chase", "dogs", SUBJ), ("chase", "cats", OBJ),
                             ("dogs", "the", DET)]),
    ("the big dogs chase the bad cats",
     [("chase", "dogs", SUBJ), ("chase", "cats", OBJ), ("dogs", "the", DET),
      ("dogs", "big", ADJ), ("cats", "the", DET), ("cats", "bad", ADJ)]),
    ("a man saw the woman", [("saw", "man", SUBJ), ("saw", "woman", OBJ), ("man", "a", DET),
                             ("woman", "the", DET)]),
    ("big people bite bad mice", [("bite", "people", SUBJ), ("bite", "mice", OBJ),
                                  ("people", "big", ADJ), ("mice", "bad", ADJ)]),
    ("cats are bad", [("are", "cats", SUBJ), ("are", "bad", ADJ)]),
    ("the man of the cats saw dogs",
     [("saw", "man", SUBJ), ("saw", "dogs", OBJ), ("man", "the", DET), ("man", "cats", PREP_P),
      ("cats", "of", PREP), ("cats", "the", DET)]),
    ("dogs chase cats in people", [("chase", "dogs", SUBJ), ("chase", "cats", OBJ),
                                   ("cats", "people", PREP_P), ("people", "in", PREP)]),
)


def _tuples(rules: dict) -> tuple:
    return tuple((c, (tuple(pre), tuple(post))) for c, (pre, post) in rules.items())


@dataclass(frozen=True)
class Grammar:
    """A language for the parser (static, hashable).

    Attributes:
        name: the language.
        areas: every area, LEX first.
        recurrent: the syntactic areas (plasticity ``lex_beta`` with LEX,
            ``recurrent_beta`` on the self-loop, ``interarea_beta`` between two of them).
        initial: areas disinhibited at the start of a sentence.
        small: areas whose cap is ``lex_k`` instead of ``k`` (English DET).
        rules: ``((category, (pre-rules, post-rules)), ...)``.
        readout: ``((area, (targets...)), ...)``: the fibres the readout follows.
        lexicon: ``((word, category, LEX assembly index), ...)``.
        lex_size: at least this many LEX assemblies (the reference's Russian LEX has 7 for
            the 5 its lexicon uses; 0: one per assembly index the lexicon uses).
        sentences: ``((sentence, gold dependencies), ...)``, for scoring only.
    """
    name: str
    areas: tuple
    recurrent: tuple
    initial: tuple
    small: tuple
    rules: tuple
    readout: tuple
    lexicon: tuple
    lex_size: int
    sentences: tuple

    @property
    def category_rules(self) -> dict:
        return dict(self.rules)


ENGLISH = Grammar(
    "english", AREAS, SYNTACTIC_AREAS, _INITIAL, (DET,), _tuples(CATEGORY_RULES),
    tuple(READOUT_RULES.items()), tuple((w, c, i) for i, (w, c) in enumerate(ENGLISH_LEXICON)),
    0, tuple((s, tuple(g)) for s, g in TEST_SENTENCES))

# Russian (parser.py's generic_russian_* rules): a case-marked noun opens its case area and
# the fibre from LEX; a verb opens VERB and the fibres VERB - NOM / ACC (/ DAT).
_RU_AREAS = (LEX, NOM, VERB, ACC, DAT)
_RU_CASE = {"nom_noun": NOM, "acc_noun": ACC, "dat_noun": DAT}
_RU_RULES = {c: ([AreaRule(False, a), FibreRule(False, LEX, a)], [FibreRule(True, LEX, a)])
             for c, a in _RU_CASE.items()}
for _c, _objs in (("verb", (NOM, ACC)), ("ditrans_verb", (NOM, ACC, DAT))):
    _RU_RULES[_c] = ([AreaRule(False, VERB), FibreRule(False, LEX, VERB)]
                     + [FibreRule(False, VERB, a) for a in _objs], [FibreRule(True, LEX, VERB)])
RUSSIAN_LEXICON = (
    ("vidit", "verb", 0), ("lyubit", "verb", 1), ("kot", "nom_noun", 2), ("kota", "acc_noun", 2),
    ("sobaka", "nom_noun", 3), ("sobaku", "acc_noun", 3), ("sobakie", "dat_noun", 3),
    ("kotu", "dat_noun", 2), ("dayet", "ditrans_verb", 4))
#: every order of subject, verb and object gives the same dependencies (nouns named by the
#: first form of their LEX assembly: kot, sobaka)
RUSSIAN_SENTENCES = (
    ("kot vidit sobaku", ((("vidit", "kot", NOM), ("vidit", "sobaka", ACC)))),
    ("sobaku vidit kot", ((("vidit", "kot", NOM), ("vidit", "sobaka", ACC)))),
    ("vidit kot sobaku", ((("vidit", "kot", NOM), ("vidit", "sobaka", ACC)))),
    ("kot sobaku vidit", ((("vidit", "kot", NOM), ("vidit", "sobaka", ACC)))),
    ("sobaka lyubit kota", ((("lyubit", "sobaka", NOM), ("lyubit", "kot", ACC)))),
    ("kota lyubit sobaka", ((("lyubit", "sobaka", NOM), ("lyubit", "kot", ACC)))),
    ("kot dayet sobakie kota", ((("dayet", "kot", NOM), ("dayet", "kot", ACC),
                                ("dayet", "sobaka", DAT)))),
    ("sobaka kotu kota dayet", ((("dayet", "sobaka", NOM), ("dayet", "kot", ACC),
                                ("dayet", "kot", DAT)))),
)
RUSSIAN = Grammar(
    "russian", _RU_AREAS, (NOM, VERB, ACC, DAT), (LEX,), (), _tuples(_RU_RULES),
    ((VERB, (LEX, NOM, ACC, DAT)), (NOM, (LEX,)), (ACC, (LEX,)), (DAT, (LEX,)), (LEX, ())),
    RUSSIAN_LEXICON, 7, RUSSIAN_SENTENCES)
GRAMMARS = {g.name: g for g in (ENGLISH, RUSSIAN)}


@dataclass(frozen=True)
class ParserSpec:
    """Parser sizes and plasticities (reference ``EnglishParserBrain`` / ``parse`` defaults).

    Attributes:
        p: connection probability of every fibre.
        lex_k: LEX (and DET) cap; LEX has ``len(lexicon) * lex_k`` neurons.
        n, k: size and cap of the syntactic areas.
        default_beta, lex_beta, recurrent_beta, interarea_beta: plasticities (see module doc).
        project_rounds: synchronous projections per word.
        min_overlap: fraction of LEX's winners a word's assembly must hold to be read.
        seed: connectivity seed.
        store_capacity: learned-delta slots per fibre (one sentence; ``dropped`` is reported).
        hebb_density: cap on the fraction of winner pairs of a fibre updated per step
            (:func:`project_round`; overflow is counted in ``dropped``).
        kcap: k-cap method of :mod:`.kcap`.
        grammar: the language (:data:`ENGLISH` or :data:`RUSSIAN`).
        lexicon: ``(word, category)`` pairs (word ``i`` owns LEX assembly ``i``) or
            ``(word, category, assembly)`` triples; categories are the grammar's; default:
            the grammar's lexicon. Held as triples.
    """
    p: float = 0.1
    lex_k: int = 20
    n: int = 10_000
    k: int = 100
    default_beta: float = 0.2
    lex_beta: float = 1.0
    recurrent_beta: float = 0.05
    interarea_beta: float = 0.5
    project_rounds: int = 20
    min_overlap: float = 0.7
    seed: int = 0
    store_capacity: int = 2**13
    hebb_density: float = 0.4
    kcap: str = "top_k"
    grammar: Grammar = ENGLISH
    lexicon: tuple | None = None

    def __post_init__(self):
        lex = self.grammar.lexicon if self.lexicon is None else self.lexicon
        lex = tuple((e[0], e[1], e[2] if len(e) > 2 else i) for i, e in enumerate(lex))
        object.__setattr__(self, "lexicon", lex)
        rules = self.grammar.category_rules
        bad = {c for _, c, _ in lex} - set(rules)
        if bad:
            raise ValueError(f"ParserSpec.lexicon: unknown categories {sorted(bad)}; allowed: "
                             f"{sorted(rules)}")
        words = [w for w, _, _ in lex]
        if len(set(words)) != len(words):
            raise ValueError("ParserSpec.lexicon: words must be unique")
        if not 0.5 < self.min_overlap <= 1.0:
            raise ValueError(f"ParserSpec.min_overlap={self.min_overlap!r} must be in (0.5, 1] "
                             "(so at most one word can match)")
        if self.project_rounds < 1:
            raise ValueError(f"ParserSpec.project_rounds={self.project_rounds!r} must be >= 1")

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(w for w, _, _ in self.lexicon)

    @property
    def num_assemblies(self) -> int:
        """LEX assemblies: LEX has ``num_assemblies * lex_k`` neurons."""
        return max(self.grammar.lex_size, 1 + max(i for _, _, i in self.lexicon))

    def assembly(self, word: str) -> int:
        """The LEX assembly of ``word``."""
        return self.lexicon[self.word_index(word)][2]

    def word_of(self, assembly: int) -> str | None:
        """The first word of LEX assembly ``assembly`` (``None`` for -1 or an unused one)."""
        return next((w for w, _, i in self.lexicon if i == assembly), None)

    def word_index(self, word: str) -> int:
        try:
            return self.words.index(word)
        except ValueError:
            raise KeyError(f"word {word!r} is not in the parser's lexicon {self.words}") from None

    def category(self, word: str) -> str:
        return self.lexicon[self.word_index(word)][1]


def _fibre_beta(ps: ParserSpec, src: str, dst: str) -> float:
    syn = set(ps.grammar.recurrent)
    if src == LEX and dst in syn or dst == LEX and src in syn:
        return ps.lex_beta
    if src == dst and src in syn:
        return ps.recurrent_beta
    if src in syn and dst in syn:
        return ps.interarea_beta
    return ps.default_beta


def _rule_pairs(grammar: Grammar) -> set:
    pairs = set()
    for _, (pre, post) in grammar.rules:
        for r in pre + post:
            if isinstance(r, FibreRule):
                pairs.add(frozenset((r.a, r.b)))
    return pairs


def make_brain_spec(ps: ParserSpec) -> B.BrainSpec:
    """The parser's brain: every fibre a rule can open (both directions) and every
    self-loop, with the reference's plasticities."""
    g = ps.grammar
    areas = [B.Area(LEX, ps.num_assemblies * ps.lex_k, ps.lex_k, ps.default_beta)]
    for a in g.areas[1:]:
        areas.append(B.Area(a, ps.n, ps.lex_k if a in g.small else ps.k, ps.default_beta))
    fibres = []
    for pair in sorted(_rule_pairs(g), key=sorted):
        a, b = sorted(pair)
        fibres += [B.Fibre(a, b, beta=_fibre_beta(ps, a, b)),
                   B.Fibre(b, a, beta=_fibre_beta(ps, b, a))]
    fibres += [B.Fibre(a, a, beta=_fibre_beta(ps, a, a)) for a in g.areas]
    return B.BrainSpec(areas=tuple(areas), fibres=tuple(fibres), p=ps.p, seed=ps.seed,
                       store_capacity=ps.store_capacity, kcap=ps.kcap, track_support=False)


# ---- symbolic control: sentence categories -> neural operations ----------------------------

ProjectMap = tuple   # ((src, (dst, ...)), ...) sorted: hashable, static


class Plan(NamedTuple):
    """A sentence compiled to neural operations.

    Attributes:
        ops: per word, a tuple of operations ``("fix", area)``, ``("clear", area)`` or
            ``("project", ProjectMap, rounds)`` run after LEX fires the word.
        fired: ``{area: (targets...)}`` every fibre that fired during the parse.
    """
    ops: tuple
    fired: dict


class _Control:
    """Inhibition indices of areas and fibres and which areas hold an assembly (host side)."""

    def __init__(self, grammar: Grammar):
        self.areas = grammar.areas
        self.area = {a: set() if a in grammar.initial else {0} for a in self.areas}
        self.fibre = defaultdict(lambda: {0})
        self.holds = set()

    def apply(self, rule):
        if isinstance(rule, AreaRule):
            s = self.area[rule.area]
        else:
            s = self.fibre[frozenset((rule.a, rule.b))]
        (s.add if rule.inhibit else s.discard)(rule.index)

    def project_map(self) -> dict:
        pm = defaultdict(set)
        for a in self.areas:
            if self.area[a]:
                continue
            for b in self.areas:
                if a == b or self.area[b] or self.fibre[frozenset((a, b))]:
                    continue
                if a in self.holds:
                    pm[a].add(b)
                if b in self.holds:
                    pm[b].add(b)
        return pm


def _freeze(pm) -> ProjectMap:
    return tuple(sorted((a, tuple(sorted(t))) for a, t in pm.items() if t))


def plan(categories, project_rounds: int = 20, grammar: Grammar = ENGLISH) -> Plan:
    """Compile a sentence's category sequence into neural operations (host side, static).

    Arguments:
        categories: one of the grammar's categories per word.
        project_rounds: projections per word.
        grammar: the language (default English).
    Returns:
        A :class:`Plan`; raises ``ValueError`` if LEX would project into more than one
        syntactic area (the reference's "war of fibres").
    """
    ctl = _Control(grammar)
    rules = grammar.category_rules
    fired = defaultdict(set)
    ops = []
    for pos, cat in enumerate(categories):
        if cat not in rules:
            raise KeyError(f"unknown category {cat!r}; allowed: {sorted(rules)}")
        pre, post = rules[cat]
        ctl.holds.add(LEX)
        for r in pre:
            ctl.apply(r)
        word_ops = []
        pm = ctl.project_map()
        if len(pm.get(LEX, set()) - {LEX}) > 1:
            raise ValueError(f"word {pos} ({cat}): LEX projects into several areas "
                             f"{sorted(pm[LEX])}")
        lex_targets = pm.get(LEX, set())
        for a in sorted(pm):
            if a not in lex_targets:
                word_ops.append(("fix", a))
            elif a != LEX:
                word_ops.append(("clear", a))
                ctl.holds.discard(a)
        last, count = None, 0
        for _ in range(project_rounds):
            pm = ctl.project_map()
            for a, t in pm.items():
                fired[a] |= t
            frozen = _freeze(pm)
            if frozen != last and count:
                word_ops.append(("project", last, count))
                count = 0
            last = frozen
            count += 1
            ctl.holds |= {b for t in pm.values() for b in t}
        if count:
            word_ops.append(("project", last, count))
        for r in post:
            ctl.apply(r)
        ops.append(tuple(word_ops))
    return Plan(tuple(ops), {a: tuple(sorted(t)) for a, t in fired.items()})


# ---- neural execution (rounds: :func:`.fibrewise.project_round`) ------------------------

@partial(jax.jit, static_argnums=(0,))
def _activate_lex(spec, state, word):
    return B.activate(spec, state, LEX, word)


def lex_word(spec: B.BrainSpec, state: B.BrainState, num_words: int, min_overlap: float):
    """Which word LEX's current assembly is: int32[] word index, or -1 if no word's assembly
    holds ``min_overlap`` of LEX's winners (pure; jit-able).

    The word with the largest overlap wins (word ``i`` = LEX neurons ``i*k .. i*k + k - 1``).
    """
    return _word_of_winners(state.areas[LEX].winners, spec.area(LEX).k, num_words, min_overlap)


def _word_of_winners(w, k: int, num_words: int, min_overlap: float):
    """:func:`lex_word` of LEX's winners ``w`` (int32[k'], PAD-padded; LEX cap ``k``)."""
    ok = w != B.PAD
    counts = jnp.zeros((num_words,), jnp.int32).at[jnp.where(ok, w // k, num_words)].add(
        1, mode="drop")
    best = jnp.argmax(counts)
    return jnp.where(counts[best] >= min_overlap * k, best, -1).astype(jnp.int32)


_lex_word = jax.jit(lex_word, static_argnums=(0, 2, 3))


def _run_ops(spec, ps, state, words, ops, fixed):
    """The plan's neural operations on ``state``, one host call per round (word ``i`` =
    ``words[i]``); ``fixed`` is the static set of fixed areas at the start."""
    fixed = set(fixed)
    for w, word_ops in zip(words, ops):
        state = _activate_lex(spec, state, jnp.int32(w))
        fixed.add(LEX)
        for op in word_ops:
            if op[0] == "fix":
                state = B.fix(state, op[1])
                fixed.add(op[1])
            elif op[0] == "clear":
                state = B.clear(spec, state, op[1])
                fixed.discard(op[1])
            else:
                for _ in range(op[2]):
                    state = project_round(spec, state, op[1], frozenset(fixed), True,
                                          ps.hebb_density)
    return state


def _fixed_areas(spec: B.BrainSpec, state: B.BrainState) -> frozenset:
    """Names of the areas fixed in a concrete ``state`` (host side)."""
    return frozenset(a.name for a in spec.areas if bool(state.areas[a.name].fixed))


def parse(spec: B.BrainSpec, ps: ParserSpec, state: B.BrainState, words, the_plan: Plan):
    """Run a planned sentence: for each word LEX fires its assembly, then the plan's ops
    (one host-dispatched call per projection round).

    Arguments:
        spec, ps: the brain and parser specs; state: a fresh brain (``B.init(spec)``).
        words: word indices (ints), one per planned word.
        the_plan: :func:`plan` of the words' categories.
    Returns:
        The brain after the sentence.
    """
    if len(words) != len(the_plan.ops):
        raise ValueError(f"parse: {len(words)} words for a plan of {len(the_plan.ops)}")
    return _run_ops(spec, ps, state, words, the_plan.ops, _fixed_areas(spec, state))


def _readout_order(fired: dict, rules: tuple = ENGLISH.readout):
    """Static readout schedule: [(area, targets)], depth first from VERB (``rules``: a
    grammar's ``readout``)."""
    rules = dict(rules)
    order = []

    def visit(area):
        to = tuple(t for t in rules.get(area, ()) if t in fired.get(area, ()))
        order.append((area, to))
        for t in to:
            if t != LEX:
                visit(t)

    visit(VERB)
    return tuple(order)


def _readout_relations(order) -> tuple:
    """The relation area of each dependency the readout ``order`` produces, in order."""
    return tuple(t for _, to in order for t in to if t != LEX)


def _read_lex(order, project, read, s):
    """LEX word indices of the readout (module doc): int32 arrays ``(head, dependent)`` per
    dependency of ``_readout_relations(order)``, -1 where LEX is unreadable. ``s``: the
    brain (plasticity off, no area fixed), ``project(s, pm)``: one projection round without
    learning, ``read(s)``: LEX's word (:func:`lex_word`)."""
    pairs = []
    for area, to in order:
        s = project(s, ((area, to),))
        head = read(s)
        for t in to:
            if t != LEX:
                s = project(s, ((t, (LEX,)),))
                pairs.append((head, read(s)))
    return pairs


def _dependencies(ps: ParserSpec, order, pairs):
    """``[(head word, dependent word, relation area)]`` from the readout's LEX assemblies."""
    return [(ps.word_of(int(h)), ps.word_of(int(d)), t)
            for (h, d), t in zip(pairs, _readout_relations(order))]


def read_out(spec: B.BrainSpec, ps: ParserSpec, state: B.BrainState, fired: dict):
    """The dependencies ``[(head word, dependent word, relation area)]`` read from the
    neurons (module doc); an unreadable LEX assembly gives ``None``."""
    order = _readout_order(fired, ps.grammar.readout)
    s = B.set_plasticity(state, False)
    for a in spec.areas:
        s = B.unfix(s, a.name)
    nw, mo = ps.num_assemblies, float(ps.min_overlap)
    pairs = _read_lex(order, lambda s, pm: project_round(spec, s, pm, learn=False),
                      lambda s: _lex_word(spec, s, nw, mo), s)
    return _dependencies(ps, order, pairs)


@partial(jax.jit, static_argnames=("spec", "ps", "ops", "order", "fixed", "hebb_batch"))
def _parse_program(spec, ps, state, words, seed, *, ops, order, fixed, hebb_batch="auto"):
    """Parse + readout of one sentence as one program (``ops``, ``order``, ``fixed``:
    static plan, readout schedule and initially fixed areas; ``words``: int32[W]; ``seed``:
    uint32[] connectivity seed, used instead of the static specs' seeds). The rounds are
    :func:`.batched.project_rounds` on the stacked winners and stores (the edits of
    :func:`_run_ops` applied to ``state`` and copied into the stack; ``hebb_batch`` as
    there).
    Returns ``(brain after the parse, LEX indices int32[D, 2] (head, dependent),
    store dropped total int32[], largest store size int32[])``."""
    st, fixed = BT.stack(spec, state), set(fixed)
    for i, word_ops in enumerate(ops):
        state = B.activate(spec, state, LEX, words[i])
        st, fixed = BT.put_area(spec, st, state, LEX), fixed | {LEX}
        for op in word_ops:
            if op[0] == "fix":
                state, fixed = B.fix(state, op[1]), fixed | {op[1]}
            elif op[0] == "clear":
                state, fixed = B.clear(spec, state, op[1]), fixed - {op[1]}
                st = BT.put_area(spec, st, state, op[1])
            else:
                st = BT.project_rounds(spec, state, st, op[1], op[2], fixed, True,
                                       ps.hebb_density, seed, hebb_batch)
    state = BT.unstack(spec, state, st)
    k_lex = spec.area(LEX).k
    pairs = _read_lex(
        order, lambda s, pm: BT.project_rounds(spec, state, s, pm, 1, learn=False, seed=seed),
        lambda s: _word_of_winners(s.winners[BT.area_index(spec, LEX)], k_lex,
                                   ps.num_assemblies, float(ps.min_overlap)), st)
    lex = (jnp.stack([jnp.stack(p) for p in pairs]) if pairs
           else jnp.zeros((0, 2), jnp.int32))
    dropped = sum(v.dropped for v in state.stores.values())
    max_size = jnp.max(jnp.stack([v.size for v in state.stores.values()]))
    return state, lex, dropped, max_size


def parse_and_read(spec: B.BrainSpec, ps: ParserSpec, state: B.BrainState, words,
                   the_plan: Plan, fixed: frozenset | None = None, hebb_batch: str = "auto"):
    """:func:`parse` then :func:`read_out` as ONE jitted program (compiled once per plan;
    the word indices are data), bit-identical to the host-driven path.

    Arguments:
        spec, ps, state, words, the_plan: as in :func:`parse`.
        fixed: the areas fixed in ``state`` (default: read from ``state``, a host sync).
        hebb_batch: how the rounds batch the Hebbian updates
            (:func:`.batched.project_rounds`; the same result).
    Returns:
        ``(brain after the parse, dependencies, store dropped total, largest store size)``;
        the dependencies are as in :func:`read_out`; the last three are on the host (one
        transfer, which waits for the program).
    """
    if len(words) != len(the_plan.ops):
        raise ValueError(f"parse_and_read: {len(words)} words for a plan of "
                         f"{len(the_plan.ops)}")
    order = _readout_order(the_plan.fired, ps.grammar.readout)
    fixed = _fixed_areas(spec, state) if fixed is None else frozenset(fixed)
    # the seed is data: one compilation per plan serves every seed
    st, lex, dropped, max_size = _parse_program(
        seedless(spec), seedless(ps), state, jnp.asarray(words, jnp.int32),
        jnp.uint32(spec.seed), ops=the_plan.ops, order=order, fixed=fixed,
        hebb_batch=hebb_batch)
    lex, dropped, max_size = jax.device_get((lex, dropped, max_size))
    return st, _dependencies(ps, order, lex), int(dropped), int(max_size)


@partial(jax.jit, static_argnames=("spec", "ps", "ops", "order", "fixed", "hebb_batch"))
def _parse_batch_program(spec, ps, states, words, seeds, *, ops, order, fixed, hebb_batch):
    """:func:`_parse_program` vmapped over brains (``states``, leading axis B), sentences of
    one plan (``words`` int32[B, W]) and seeds (uint32[B]); only the readout and the store
    counters come back (the brains stay on the device and are dropped)."""
    def one(state, w, seed):
        return _parse_program(spec, ps, state, w, seed, ops=ops, order=order, fixed=fixed,
                              hebb_batch=hebb_batch)[1:]
    return jax.vmap(one)(states, words, seeds)


def parse_many(ps: ParserSpec, sentences, seeds, hebb_batch: str = "auto") -> list[dict]:
    """Parse every (sentence, seed) pair in its own fresh brain, as ONE vmapped program per
    sentence plan (the pairs whose words have the same categories run together; compiled once
    per plan and batch size). The dependencies are those of :func:`parse_sentences` with
    ``ps`` at that seed, read from the neurons in the same way.

    Arguments:
        ps: parser spec (its ``seed`` is replaced by each of ``seeds``).
        sentences: strings of lexicon words; seeds: connectivity seeds (ints).
        hebb_batch: as in :func:`parse_and_read`.
    Returns:
        one row per (sentence, seed), sentences outer: ``{"sentence", "seed", "dependencies",
        "store_dropped", "store_max_fill", "batch", "batch_seconds"}``; ``batch``: the number
        of parses in its program, ``batch_seconds``: that program's wall time up to the
        dependencies on the host (per parse: ``batch_seconds / batch``).
    """
    seeds = [int(s) for s in seeds]
    if not sentences or not seeds:
        raise ValueError("parse_many: needs at least one sentence and one seed")
    toks = {s: s.split() for s in sentences}
    for s, t in toks.items():
        for w in t:
            ps.assembly(w)   # unknown words: a clear error before any compute
    spec0 = make_brain_spec(ps)
    states = {sd: B.init(make_brain_spec(replace(ps, seed=sd))) for sd in seeds}
    fixed = _fixed_areas(spec0, states[seeds[0]])
    groups: dict = {}
    for s in sentences:
        key = tuple(ps.category(w) for w in toks[s])
        groups.setdefault(key, []).extend((s, sd) for sd in seeds)
    rows = {}
    for cats, pairs in groups.items():
        t0 = time.perf_counter()
        pl = plan(list(cats), ps.project_rounds, ps.grammar)
        order = _readout_order(pl.fired, ps.grammar.readout)
        st = jax.tree.map(lambda *a: jnp.stack(a), *[states[sd] for _, sd in pairs])
        words = jnp.asarray([[ps.assembly(w) for w in toks[s]] for s, _ in pairs], jnp.int32)
        lex, dropped, max_size = jax.device_get(_parse_batch_program(
            seedless(spec0), seedless(ps), st, words,
            jnp.asarray([sd for _, sd in pairs], jnp.uint32), ops=pl.ops, order=order,
            fixed=fixed, hebb_batch=hebb_batch))
        dt = time.perf_counter() - t0
        for i, (s, sd) in enumerate(pairs):
            rows[(s, sd)] = {"sentence": s, "seed": sd,
                             "dependencies": _dependencies(ps, order, lex[i]),
                             "store_dropped": int(dropped[i]),
                             "store_max_fill": int(max_size[i]) / ps.store_capacity,
                             "batch": len(pairs), "batch_seconds": dt}
    return [rows[(s, sd)] for s in sentences for sd in seeds]


def parse_sentences(ps: ParserSpec, sentences, state0: B.BrainState | None = None,
                    host_loop: bool = True):
    """Parse each sentence in a fresh brain and read its dependencies from the neurons.

    Arguments:
        ps: parser spec; sentences: strings of lexicon words separated by spaces.
        state0: the initial brain (default ``B.init(make_brain_spec(ps))``).
        host_loop: run the host-driven path (:func:`parse`, :func:`read_out`: one call
            per projection round; the default: it compiles in seconds), or with ``False``
            one program per sentence (:func:`parse_and_read`: fewer dispatches, but about
            14 s of compilation per distinct sentence plan on the CPU); the results are the
            same bit for bit.
    Returns:
        ``[{"sentence", "dependencies", "seconds", "store_dropped", "store_max_fill"}]``;
        ``seconds``: plan + parse + readout, up to the dependencies on the host.
    """
    spec = make_brain_spec(ps)
    state0 = B.init(spec) if state0 is None else state0
    fixed0 = _fixed_areas(spec, state0)
    out = []
    for sent in sentences:
        toks = sent.split()
        idx = [ps.assembly(t) for t in toks]
        t0 = time.perf_counter()
        pl = plan([ps.category(t) for t in toks], ps.project_rounds, ps.grammar)
        if host_loop:
            st = parse(spec, ps, state0, idx, pl)
            deps = read_out(spec, ps, st, pl.fired)
            dt = time.perf_counter() - t0
            dropped = sum(int(v.dropped) for v in st.stores.values())
            max_size = max(int(v.size) for v in st.stores.values())
        else:
            st, deps, dropped, max_size = parse_and_read(spec, ps, state0, idx, pl, fixed0)
            dt = time.perf_counter() - t0
        out.append({"sentence": sent, "dependencies": deps, "seconds": dt,
                    "store_dropped": dropped, "store_max_fill": max_size / ps.store_capacity})
    return out


def score(predicted, gold) -> dict:
    """Compare dependency lists as multisets: ``{"correct", "exact", "precision", "recall"}``."""
    from collections import Counter
    p, g = Counter(map(tuple, predicted)), Counter(map(tuple, gold))
    hit = sum((p & g).values())
    return {"correct": hit, "exact": p == g,
            "precision": hit / max(sum(p.values()), 1), "recall": hit / max(sum(g.values()), 1)}
