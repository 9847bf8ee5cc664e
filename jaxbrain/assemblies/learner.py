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
import gzip
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from . import brain as B

__all__ = ["LearnerSpec", "make_spec", "fixed_drive", "sentence", "train", "test_words", "load_lexicon",
           "SentenceSampler", "SAMPLINGS"]

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


def sentence(spec, ls: LearnerSpec, state, noun, verb, drive=None):
    """Train on one (noun, verb) sentence; noun in 0..N-1, verb in 0..V-1 (traced ints);
    ``drive``: :func:`fixed_drive` (optional; the same result, fewer hashes)."""
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


def train(spec, ls: LearnerSpec, state, nouns, verbs, drive=None):
    """Sentences ``(nouns[i], verbs[i])`` in one ``lax.scan`` (``drive``: as in
    :func:`sentence`)."""
    def body(s, nv):
        return sentence(spec, ls, s, nv[0], nv[1], drive), None
    state, _ = jax.lax.scan(body, state, (jnp.asarray(nouns, jnp.int32),
                                          jnp.asarray(verbs, jnp.int32)))
    return state


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
