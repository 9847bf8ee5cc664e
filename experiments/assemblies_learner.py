"""Word acquisition (learner.py semantics) with a lemminflect lexicon and neural readouts.

Nouns are grounded in VISUAL, verbs in MOTOR; the learner hears random (noun, verb)
sentences. Every ``test_every`` sentences all words are tested with plasticity off: the
category is read from the neurons (which lexical area PHON[word] drives harder) and property
P (grounding -> lexical area chosen by that readout -> PHON gives >= 0.75 of the word's PHON
assembly). Criterion: every word passes both. Reference (learner.py, 2 + 2 words, LEX_n 1e5):
criterion after ~47-72 sentences.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from jaxbrain.config import at_least, nonnegative, open_prob, param, positive, prob


@dataclass(frozen=True)
class Config:
    num_nouns: int = param(50, at_least(1), "nouns (lemminflect lemmas)")
    num_verbs: int = param(50, at_least(1), "verbs (lemminflect lemmas)")
    lex_n: int = param(100_000, positive, "neurons in NOUN and VERB")
    lex_k: int = param(50, positive, "cap of NOUN and VERB")
    p: float = param(0.05, open_prob, "connection probability")
    beta: float = param(0.06, nonnegative, "plasticity")
    proj_rounds: int = param(2, at_least(1), "recurrent rounds per word")
    max_sentences: int = param(4000, at_least(1), "give up after this many sentences")
    test_every: int = param(10, at_least(1), "sentences between tests of all words")
    max_seconds: float = param(0.0, nonnegative, "stop after this much training+testing time (0: none)")
    min_overlap: float = param(0.75, prob, "property-P success threshold")
    store_capacity: int = param(2**17, positive, "learned-delta slots per fibre")
    seed: int = param(0, nonnegative, "seed")
    lexicon_path: str = param("", None, "infl_lu.csv.gz path ('' = from the lemminflect package)")


def run(cfg: Config, out: Path) -> dict:
    import jax
    import matplotlib.pyplot as plt
    import numpy as np
    from jaxbrain.assemblies import brain as B
    from jaxbrain.assemblies import learner as L
    from jaxbrain.runs import write_json

    nouns, verbs = L.load_lexicon(cfg.num_nouns, cfg.num_verbs, path=cfg.lexicon_path or None)
    ls = L.LearnerSpec(num_nouns=cfg.num_nouns, num_verbs=cfg.num_verbs, p=cfg.p,
                       lex_n=cfg.lex_n, lex_k=cfg.lex_k, beta=cfg.beta,
                       proj_rounds=cfg.proj_rounds, min_overlap=cfg.min_overlap, seed=cfg.seed,
                       store_capacity=cfg.store_capacity)
    spec = L.make_spec(ls)
    state = B.init(spec)
    tr = jax.jit(lambda s, a, b: L.train(spec, ls, s, a, b))
    te = jax.jit(lambda s: L.test_words(spec, ls, s))
    rng = np.random.default_rng(cfg.seed)
    hist = {"sentences": [], "category_acc": [], "property_p_acc": []}
    criterion = None
    train_s = test_s = 0.0
    done = 0
    t_compile = time.perf_counter()
    zeros = np.zeros(cfg.test_every, np.int32)
    tr = tr.lower(state, zeros, zeros).compile()   # compile only (no warm-up training)
    te = te.lower(state).compile()
    t_compile = time.perf_counter() - t_compile
    while done < cfg.max_sentences:
        a = rng.integers(0, cfg.num_nouns, cfg.test_every)
        b = rng.integers(0, cfg.num_verbs, cfg.test_every)
        t0 = time.perf_counter()
        state = jax.block_until_ready(tr(state, a.astype(np.int32), b.astype(np.int32)))
        train_s += time.perf_counter() - t0
        done += cfg.test_every
        t0 = time.perf_counter()
        r = jax.tree_util.tree_map(np.asarray, te(state))
        test_s += time.perf_counter() - t0
        hist["sentences"].append(done)
        hist["category_acc"].append(float(r["category_ok"].mean()))
        hist["property_p_acc"].append(float(r["property_p"].mean()))
        write_json(out / "progress.json", {"history": hist, "train_s": train_s, "test_s": test_s,
                                           "compile_s": t_compile,
                                           "dropped": {k: int(v.dropped) for k, v in state.stores.items()}})
        if r["property_p"].all():
            criterion = done
            break
        if cfg.max_seconds and train_s + test_s > cfg.max_seconds:
            break
    words = nouns + verbs
    failed = [words[i] for i in np.nonzero(~r["property_p"])[0]]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(hist["sentences"], hist["category_acc"], label="category (neural readout)")
    ax.plot(hist["sentences"], hist["property_p_acc"], label="property P (>= 0.75 overlap)")
    ax.set_xlabel("sentences")
    ax.set_ylabel("fraction of words")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"word learning, {cfg.num_nouns} nouns + {cfg.num_verbs} verbs, LEX n={cfg.lex_n:g}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "learner.png", dpi=120)
    plt.close(fig)
    stores = {k: {"size": int(v.size), "capacity": v.capacity, "dropped": int(v.dropped)}
              for k, v in state.stores.items()}
    return {"lexicon_size": len(words), "nouns_sample": nouns[:5], "verbs_sample": verbs[:5],
            "sentences_to_criterion": criterion, "sentences_trained": done,
            "final_category_accuracy": hist["category_acc"][-1],
            "final_property_p_accuracy": hist["property_p_acc"][-1],
            "words_failing": failed[:20], "history": hist,
            "train_sentences_per_s": done / train_s, "test_all_words_s": test_s / len(hist["sentences"]),
            "compile_s": t_compile, "stores": stores}
