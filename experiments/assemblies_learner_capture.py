"""Where a late verb's first assembly lands (learner diagnostics, docs/assemblies.md).

Trains the learner on its i.i.d. sentence stream up to the first sentence that contains
verb ``verb``, then runs that sentence's six projections (noun step, verb step; learning on,
as in training) one by one and reports, after each, how many of VERB's winners lie in the
lexical assemblies of the other verbs (MOTOR -> VERB, the property-P path, read before the
sentence; verbs whose category readout is wrong are left out). A random set of ``lex_k`` neurons would share ~(V - 1) lex_k^2 / lex_n.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jaxbrain.config import at_least, nonnegative, param, positive


@dataclass(frozen=True)
class Config:
    num_nouns: int = param(50, at_least(1), "nouns")
    num_verbs: int = param(50, at_least(2), "verbs")
    lex_n: int = param(100_000, positive, "neurons in NOUN and VERB")
    verb: int = param(10, nonnegative, "verb index (0..num_verbs-1) whose first sentence is traced")
    chunk: int = param(100, at_least(1), "sentences per draw (the learner run's test_every)")
    store_capacity: int = param(2**19, positive, "slots per PHON fibre")
    store_capacity_other: int = param(2**18, nonnegative, "slots of the other fibres")
    seed: int = param(0, nonnegative, "seed")


def run(cfg: Config, out: Path) -> dict:
    import jax
    import numpy as np
    from jaxbrain.assemblies import brain as B
    from jaxbrain.assemblies import learner as L

    ls = L.LearnerSpec(num_nouns=cfg.num_nouns, num_verbs=cfg.num_verbs, lex_n=cfg.lex_n,
                       store_capacity=cfg.store_capacity, other_capacity=cfg.store_capacity_other,
                       seed=cfg.seed)
    spec = L.make_spec(ls)
    state = B.init(spec)
    tr = jax.jit(lambda s, a, b: L.train(spec, ls, s, a, b))
    sampler = L.SentenceSampler(cfg.num_nouns, cfg.num_verbs, "iid", cfg.seed)
    before = 0
    while True:
        a, b = sampler.draw(cfg.chunk)
        hit = np.nonzero(b == cfg.verb)[0]
        i = int(hit[0]) if len(hit) else cfg.chunk
        if i:
            state = tr(state, a[:i], b[:i])
        before += i
        if len(hit):
            noun = int(a[i])
            break
    r = jax.tree_util.tree_map(np.asarray, jax.jit(lambda s: L.test_words(spec, ls, s))(state))
    me = cfg.num_nouns + cfg.verb
    # other verbs' VERB assemblies (a verb whose category readout says noun is left out: its
    # property-P winners lie in NOUN)
    others = {w: set(r["lex_winners"][w].tolist())
              for w in range(cfg.num_nouns, ls.num_nouns + ls.num_verbs)
              if w != me and r["category_ok"][w]}
    first = {"PHON": ["NOUN", "VERB"], "VISUAL": ["NOUN"], "MOTOR": ["VERB"]}
    later = dict(first, NOUN=["PHON", "NOUN", "VISUAL"], VERB=["PHON", "VERB", "MOTOR"])
    p1 = jax.jit(lambda s: B.project(spec, s, None, first))
    p2 = jax.jit(lambda s: B.project(spec, s, None, later))
    s = B.activate(spec, state, "VISUAL", noun)
    s = B.activate(spec, s, "MOTOR", cfg.verb)
    steps = []
    for name, word in (("noun step", noun), ("verb step", me)):
        s = B.activate(spec, s, "PHON", word)
        for j in range(1 + ls.proj_rounds):
            s = (p1 if j == 0 else p2)(s)
            win = set(np.asarray(s.areas["VERB"].winners).tolist())
            per = sorted(((len(win & o), w) for w, o in others.items()), reverse=True)
            steps.append({"step": name, "projection": j + 1,
                          "in_other_verbs": len(win & set().union(*others.values())),
                          "largest": [{"verb_index": w, "shared": n} for n, w in per[:3]]})
    return {"verb_index": me, "first_sentence": before + 1, "noun_index": noun,
            "other_verbs_compared": len(others),
            "expected_random_shared": (ls.num_verbs - 1) * ls.lex_k ** 2 / ls.lex_n,
            "projections": steps}
