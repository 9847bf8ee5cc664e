"""Word acquisition (learner.py semantics) with a lemminflect lexicon and neural readouts.

Nouns are grounded in VISUAL, verbs in MOTOR; the learner hears random (noun, verb)
sentences. Every ``test_every`` sentences all words are tested with plasticity off: the
category is read from the neurons (which lexical area PHON[word] drives harder) and property
P (grounding -> lexical area chosen by that readout -> PHON gives >= 0.75 of the word's PHON
assembly). Criterion: every word passes both. Reference (learner.py, 2 + 2 words, LEX_n 1e5):
criterion after ~47-72 sentences.

Per-word diagnostics (summary ``per_word`` and ``failing``): sentences heard per word, PHON
overlap per word at every test, and for each failing word the word that took most of its
PHON winners, that word's sentence count, and how many neurons the two words' lexical
assemblies (grounding -> lexical area, the property-P path) share.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from jaxbrain.config import at_least, nonnegative, one_of, open_prob, param, positive, prob


@dataclass(frozen=True)
class Config:
    num_nouns: int = param(50, at_least(1), "nouns (lemminflect lemmas)")
    num_verbs: int = param(50, at_least(1), "verbs (lemminflect lemmas)")
    lex_n: int = param(100_000, positive, "neurons in NOUN and VERB")
    lex_k: int = param(50, positive, "cap of NOUN and VERB")
    p: float = param(0.05, open_prob, "connection probability")
    beta: float = param(0.06, nonnegative, "plasticity")
    w_max: float = param(0.0, nonnegative, "Hebbian weight cap (0: none, as learner.py)")
    proj_rounds: int = param(2, at_least(1), "recurrent rounds per word")
    max_sentences: int = param(4000, at_least(1), "give up after this many sentences")
    test_every: int = param(10, at_least(1), "sentences between tests of all words")
    max_seconds: float = param(0.0, nonnegative, "stop after this much training+testing time (0: none)")
    min_overlap: float = param(0.75, prob, "property-P success threshold")
    store_capacity: int = param(2**17, positive, "learned-delta slots per PHON <-> NOUN/VERB fibre")
    store_capacity_other: int = param(0, nonnegative, "slots of the other fibres (0: store_capacity / 8)")
    sampling: str = param("iid", one_of("iid", "balanced"), "sentences: 'iid' (learner.py) or "
                          "'balanced' (every word once per num_nouns / num_verbs sentences)")
    stop_at_criterion: bool = param(True, None, "stop at the first test every word passes "
                                    "(False: go on to max_sentences and report which tests pass)")
    seed: int = param(0, nonnegative, "seed")
    lexicon_path: str = param("", None, "infl_lu.csv.gz path ('' = from the lemminflect package)")


def _failing(words, nouns_n, r, counts):
    """Per failing word: who took its PHON winners, and the shared lexical neurons."""
    import numpy as np
    from jaxbrain.assemblies.brain import PAD
    phon_k = r["phon_winners"].shape[1]
    out = []
    for i in np.nonzero(~r["property_p"])[0]:
        pw = r["phon_winners"][i]
        by_word = np.bincount(pw[pw != PAD] // phon_k, minlength=len(words))
        by_word[i] = -1
        j = int(np.argmax(by_word))
        same_area = (i < nouns_n) == (j < nouns_n)
        li, lj = r["lex_winners"][i], r["lex_winners"][j]
        shared = len(np.intersect1d(li[li != PAD], lj[lj != PAD])) if same_area else None
        out.append({"word": words[i], "index": int(i), "sentences": int(counts[i]),
                    "category_ok": bool(r["category_ok"][i]),
                    "phon_overlap": round(float(r["phon_overlap"][i]), 3),
                    "top_other": words[j], "top_other_index": j,
                    "top_other_phon_winners": int(by_word[j]),
                    "top_other_sentences": int(counts[j]),
                    "shared_lex_neurons_with_top_other": shared})
    return out


def _shared_stats(nouns_n, lex):
    """Shared neurons between the lexical assemblies of every same-area pair of words."""
    import numpy as np
    from jaxbrain.assemblies.brain import PAD
    lex = [x[x != PAD] for x in lex]
    w = len(lex)
    best = np.zeros(w, int)
    for i in range(w):
        for j in range(w):
            if i != j and (i < nouns_n) == (j < nouns_n):
                best[i] = max(best[i], len(np.intersect1d(lex[i], lex[j])))
    return {"max_shared_per_word_mean": float(best.mean()), "max_shared_per_word_max": int(best.max()),
            "words_sharing_ge_5": int((best >= 5).sum())}


def run(cfg: Config, out: Path) -> dict:
    import jax
    import matplotlib.pyplot as plt
    import numpy as np
    from jaxbrain.assemblies import brain as B
    from jaxbrain.assemblies import learner as L
    from jaxbrain.runs import write_json

    nouns, verbs = L.load_lexicon(cfg.num_nouns, cfg.num_verbs, path=cfg.lexicon_path or None)
    words = nouns + verbs
    ls = L.LearnerSpec(num_nouns=cfg.num_nouns, num_verbs=cfg.num_verbs, p=cfg.p,
                       lex_n=cfg.lex_n, lex_k=cfg.lex_k, beta=cfg.beta,
                       proj_rounds=cfg.proj_rounds, min_overlap=cfg.min_overlap, seed=cfg.seed,
                       store_capacity=cfg.store_capacity,
                       other_capacity=cfg.store_capacity_other,
                       w_max=cfg.w_max if cfg.w_max > 0 else math.inf)
    spec = L.make_spec(ls)
    state = B.init(spec)
    drive = L.fixed_drive(spec, ls)   # the fixed assemblies' hashed input, once
    tr = jax.jit(lambda s, a, b, d: L.train(spec, ls, s, a, b, d))
    te = jax.jit(lambda s: L.test_words(spec, ls, s))
    sampler = L.SentenceSampler(cfg.num_nouns, cfg.num_verbs, cfg.sampling, cfg.seed)
    counts = np.zeros(len(words), int)
    hist = {"sentences": [], "category_acc": [], "property_p_acc": [], "phon_overlap": [],
            "counts": []}
    criterion = None
    train_s = test_s = 0.0
    done = 0
    t_compile = time.perf_counter()
    zeros = np.zeros(cfg.test_every, np.int32)
    tr = tr.lower(state, zeros, zeros, drive).compile()   # compile only (no warm-up training)
    te = te.lower(state).compile()
    t_compile = time.perf_counter() - t_compile
    while done < cfg.max_sentences:
        a, b = sampler.draw(cfg.test_every)
        np.add.at(counts, a, 1)
        np.add.at(counts, cfg.num_nouns + b, 1)
        t0 = time.perf_counter()
        state = jax.block_until_ready(tr(state, a, b, drive))
        train_s += time.perf_counter() - t0
        done += cfg.test_every
        t0 = time.perf_counter()
        r = jax.tree_util.tree_map(np.asarray, te(state))
        test_s += time.perf_counter() - t0
        hist["sentences"].append(done)
        hist["category_acc"].append(float(r["category_ok"].mean()))
        hist["property_p_acc"].append(float(r["property_p"].mean()))
        hist["phon_overlap"].append(np.round(r["phon_overlap"], 2).tolist())
        hist["counts"].append(counts.tolist())
        write_json(out / "progress.json", {"history": hist, "train_s": train_s, "test_s": test_s,
                                           "compile_s": t_compile,
                                           "failing": _failing(words, cfg.num_nouns, r, counts),
                                           "dropped": {k: int(v.dropped) for k, v in state.stores.items()}})
        if r["property_p"].all() and criterion is None:
            criterion = done
        if criterion is not None and cfg.stop_at_criterion:
            break
        if cfg.max_seconds and train_s + test_s > cfg.max_seconds:
            break
    failing = _failing(words, cfg.num_nouns, r, counts)
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
            "tests_all_pass_after_criterion": (
                None if criterion is None else
                f"{sum(a == 1.0 for s, a in zip(hist['sentences'], hist['property_p_acc']) if s >= criterion)}"
                f" of {sum(s >= criterion for s in hist['sentences'])}"),
            "final_category_accuracy": hist["category_acc"][-1],
            "final_property_p_accuracy": hist["property_p_acc"][-1],
            "words_failing": [f["word"] for f in failing][:20], "failing": failing[:20],
            "per_word": {"words": words, "sentences": counts.tolist(),
                         "phon_overlap": np.round(r["phon_overlap"], 3).tolist(),
                         "property_p": r["property_p"].astype(int).tolist()},
            "shared_lex_neurons": _shared_stats(cfg.num_nouns, r["lex_winners"]),
            "history": hist,
            "train_sentences_per_s": done / train_s, "test_all_words_s": test_s / len(hist["sentences"]),
            "compile_s": t_compile, "stores": stores}
