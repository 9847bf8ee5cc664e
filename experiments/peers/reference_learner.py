"""Run the reference learner itself (dmitropolsky/assemblies ``learner.py``) on a larger lexicon.

Imports the reference's ``learner`` module at runtime from ``--reference`` (nothing of it is
copied here), builds ``learner.LearnBrain`` with the parameters of the reference's own
``lexicon_sizes_experiment`` (p = 0.05, LEX_k = 50, LEX_n = 1e5, beta = 0.06; the class
defaults for everything else: PHON_k = CONTEXTUAL_k = 100, proj_rounds = 2) and
``--nouns`` / ``--verbs`` words, and trains it with the reference's ``train_random_sentence``
(i.i.d. ``random.randint`` noun and verb, then ``parse_indexed_sentence``), as
``train_experiment_randomized`` does. Every ``--test-every`` sentences it runs the reference's
property-P test ``testIndexedWord`` on every word (grounding -> lexical area -> PHON, the first
explicit PHON assembly with >= 0.75 of the winners) and records per word the returned
assembly, the PHON overlap with the word's own assembly and the sentence count; the JSON is
rewritten after every test. Differences from ``train_experiment_randomized``: it tests every
word every M sentences (the reference: after every sentence, stopping at the first failing
word), so the test's side effects (support growth, random draws) come at other times.

The only change to the reference: brain.py's ``np.pad`` by zero rows / columns returns its
input instead of a copy (``_ZeroPadIsIdentity``; identical results, checked against
``--plain-pad``), because those copies are ~80 % of the time at 100 words.

``--seed S`` seeds python ``random`` (the sentences), numpy's global generator (scipy's
truncnorm draws) and ``brain.Brain``'s ``seed`` argument, which ``LearnBrain`` leaves at its
default 0 (so seed 0 is the reference unchanged).

    python experiments/peers/reference_learner.py --reference /tmp/refasm --nouns 50 --verbs 50 \
        --sentences 3000 --test-every 250 --seed 0 --out results/assemblies/learner_reference_100_iid_cpu.json
    (smoke: --nouns 2 --verbs 2 --sentences 300 --test-every 1 --stop-at-criterion)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import random
import sys
import time
from pathlib import Path

import numpy as np


class _ZeroPadIsIdentity:
    """numpy for brain.py, except that ``pad`` by zero returns the array itself, not a copy.

    brain.py re-pads every connectome into and out of the target area on every projection,
    also when no neuron is new (always for explicit PHON); the copy is then stored back in
    place of the original, so returning the original gives the same values and random draws.
    """

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def pad(array, pad_width, *args, **kwargs):
        if not np.any(np.asarray(pad_width)):
            return array
        return np.pad(array, pad_width, *args, **kwargs)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", required=True, help="checkout of dmitropolsky/assemblies")
    ap.add_argument("--nouns", type=int, default=50)
    ap.add_argument("--verbs", type=int, default=50)
    ap.add_argument("--sentences", type=int, default=3000)
    ap.add_argument("--test-every", type=int, default=250)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stop-at-criterion", action="store_true")
    ap.add_argument("--lexicon", default="results/assemblies/lexicon_50n50v.csv.gz",
                    help="word labels only (index i = i-th noun, num_nouns + j = j-th verb)")
    ap.add_argument("--plain-pad", action="store_true",
                    help="leave brain.py's numpy alone (about 4x slower at 100 words)")
    ap.add_argument("--reference-commit", default=None, help="recorded in the JSON")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)

    sys.path.insert(0, a.reference)
    sys.path.insert(1, str(Path(a.reference) / "stub"))
    import brain as ref_brain
    import learner as ref

    if not a.plain_pad:
        ref_brain.np = _ZeroPadIsIdentity()
    d = list(ref_brain.Brain.__init__.__defaults__)  # (save_size, save_winners, seed)
    ref_brain.Brain.__init__.__defaults__ = tuple(d[:-1] + [a.seed])
    random.seed(a.seed)
    np.random.seed(a.seed)
    params = dict(p=0.05, LEX_k=50, LEX_n=100000, beta=0.06)
    t0 = time.perf_counter()
    b = ref.LearnBrain(params["p"], LEX_k=params["LEX_k"], LEX_n=params["LEX_n"],
                       beta=params["beta"], num_nouns=a.nouns, num_verbs=a.verbs)
    build_s = time.perf_counter() - t0
    nw, k = b.lex_size, b.area_by_name[ref.PHON].k

    try:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        from jaxbrain.assemblies.learner import load_lexicon
        nouns, verbs = load_lexicon(a.nouns, a.verbs, path=a.lexicon)
        names = nouns + verbs
    except Exception:  # labels only
        names = [f"noun{i}" for i in range(a.nouns)] + [f"verb{j}" for j in range(a.verbs)]

    counts = [0] * nw
    parse = b.parse_indexed_sentence

    def counting_parse(noun_index, verb_index, order="NV"):
        counts[noun_index] += 1
        counts[verb_index] += 1
        return parse(noun_index, verb_index, order)
    b.parse_indexed_sentence = counting_parse  # train_random_sentence calls it

    out = dict(experiment="reference learner.py, i.i.d. sentences", command=" ".join(sys.argv),
               date=time.strftime("%Y-%m-%d"), reference=a.reference,
               reference_commit=a.reference_commit, seed=a.seed,
               machine=f"{os.cpu_count()}-core CPU, Python {platform.python_version()}, "
                       f"numpy {np.__version__}", zero_pad_is_identity=not a.plain_pad, nouns=a.nouns, verbs=a.verbs,
               params=dict(params, PHON_k=k, CONTEXTUAL_k=100, proj_rounds=b.proj_rounds,
                           min_overlap=0.75, test_every=a.test_every),
               words=names, build_s=build_s, history=[])
    train_s = test_s = 0.0
    for s in range(1, a.sentences + 1):
        t = time.perf_counter()
        b.train_random_sentence()
        train_s += time.perf_counter() - t
        if s % a.test_every and s != a.sentences:
            continue
        t = time.perf_counter()
        outs, ovl = [], []
        with contextlib.redirect_stdout(io.StringIO()):
            for i in range(nw):
                outs.append(b.testIndexedWord(i, no_print=True))
                own = set(range(i * k, (i + 1) * k))
                ovl.append(len(own & set(b.area_by_name[ref.PHON].winners)) / k)
        test_s += time.perf_counter() - t
        failing = [names[i] for i in range(nw) if outs[i] != i]
        out["history"].append(dict(
            sentences=s, fraction_passing=1 - len(failing) / nw, failing=failing,
            output=outs, phon_overlap=ovl, counts=list(counts),
            support={n: int(b.area_by_name[n].w) for n in (ref.NOUN, ref.VERB)},
            train_s=train_s, test_s=test_s))
        out.update(sentences_per_s=s / train_s, s_per_test=test_s / len(out["history"]),
                   criterion_reached_at=next((h["sentences"] for h in out["history"]
                                              if not h["failing"]), None))
        Path(a.out).write_text(json.dumps(out, indent=1))
        print(f"{s} sentences: {100 * (1 - len(failing) / nw):.0f} % pass, failing {failing[:8]}"
              f", {s / train_s:.2f} sent/s, test {test_s / len(out['history']):.1f} s", flush=True)
        if a.stop_at_criterion and not failing:
            break


if __name__ == "__main__":
    main()
