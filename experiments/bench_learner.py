"""Learner benchmark: training sentences/s of one learner and of many independent learners
trained together (vmap), against the reference learner.py's ~7-11 sentences/s.

Workload: jaxbrain.assemblies.learner with learner.py's sizes (LEX n = 1e5, k = 50, p = 0.05,
beta = 0.06, 2 rounds) and ``num_nouns`` + ``num_verbs`` words. For each B in ``learners``: B
learners, each with its own i.i.d. sentence stream (``SentenceSampler`` seeded with its
index), one connectome (``seed``), trained on ``sentences`` sentences in one vmapped
``lax.scan`` (one dispatch, timed after a compiling call on other sentences of the same
shape), once hashing the fixed assemblies' input in every round and once reading it from
``learner.fixed_drive``'s table (``fixed_drive``; the same brains), along each training
path of ``paths`` (``learner.TRAIN_PATHS``: ``"project"``, brain.project per round, the
reference; ``"stacked"``, NOUN and VERB stacked, each stage of a round one vmapped op; the
same brains: with both, each row after the first of a (learners, fixed_drive) pair reports
``same_as_first_path``, every leaf of the trained states compared); then every word of
every learner is tested (category and property P read from the neurons) and the fraction of
learners at the learner's criterion is reported.

Run: ``jaxbrain run configs/bench_learner.toml --out DIR [--set key=value]`` (JSON: ``summary.json`` and
``bench_learner.json``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from jaxbrain.assemblies.kcap import METHODS as KCAP_METHODS
from jaxbrain.assemblies.learner import TRAIN_PATHS
from jaxbrain.config import ConfigError, at_least, nonnegative, one_of, param, positive


@dataclass(frozen=True)
class Config:
    num_nouns: int = param(2, at_least(1), "nouns")
    num_verbs: int = param(2, at_least(1), "verbs")
    lex_n: int = param(100_000, positive, "neurons in NOUN and VERB")
    learners: tuple[int, ...] = param((1, 32, 256), positive, "learners trained together")
    sentences: int = param(100, at_least(1), "timed sentences per learner")
    store_capacity: int = param(16_384, positive, "learned-delta slots per PHON fibre")
    seed: int = param(0, nonnegative, "connectome seed")
    fixed_drive: tuple[bool, ...] = param((False, True), None, "hash the fixed assemblies' "
                                          "input every round (false) or read it from "
                                          "learner.fixed_drive's table (true); same result")
    paths: tuple[str, ...] = param(("project", "stacked"), one_of(*TRAIN_PATHS), "training paths timed "
                                   "in the same run (learner.train's path; same result)")
    kcap: str = param("auto", one_of(*KCAP_METHODS), "k-cap method (all exact and equal; "
                      "jaxbrain.assemblies.kcap)")

    def check(self):
        for key in ("learners", "fixed_drive", "paths"):
            if not getattr(self, key):
                raise ConfigError(f"config key '{key}': value [] is not allowed; allowed: a "
                                  "non-empty list")


def run(cfg: Config, out: Path) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jaxbrain.assemblies import brain as B
    from jaxbrain.assemblies import learner as L

    ls = L.LearnerSpec(num_nouns=cfg.num_nouns, num_verbs=cfg.num_verbs, lex_n=cfg.lex_n,
                       store_capacity=cfg.store_capacity, seed=cfg.seed, kcap=cfg.kcap)
    spec = L.make_spec(ls)
    trains = {p: jax.jit(jax.vmap(lambda s, a, b, d, p=p: L.train(spec, ls, s, a, b, d, path=p),
                                  in_axes=(0, 0, 0, None))) for p in cfg.paths}
    test = jax.jit(jax.vmap(lambda s: L.test_words(spec, ls, s)))
    same = jax.jit(lambda a, b: jnp.all(jnp.stack([jnp.array_equal(x, y) for x, y in
                                                   zip(jax.tree.leaves(a), jax.tree.leaves(b))])))
    drive = L.fixed_drive(spec, ls)
    rows, first = [], None
    for nb, cached, path in [(nb, c, p) for nb in cfg.learners for c in cfg.fixed_drive
                             for p in cfg.paths]:
        d = drive if cached else None
        train = trains[path]
        state = jax.tree.map(lambda a: jnp.broadcast_to(a, (nb,) + a.shape), B.init(spec))
        samplers = [L.SentenceSampler(cfg.num_nouns, cfg.num_verbs, "iid", i) for i in range(nb)]
        draws = [s.draw(2 * cfg.sentences) for s in samplers]
        nouns = np.stack([d[0] for d in draws])
        verbs = np.stack([d[1] for d in draws])
        t0 = time.perf_counter()   # compile + a warm-up on the second half of each stream
        jax.block_until_ready(train(state, nouns[:, cfg.sentences:], verbs[:, cfg.sentences:], d))
        warm_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        learned = jax.block_until_ready(train(state, nouns[:, :cfg.sentences],
                                              verbs[:, :cfg.sentences], d))
        secs = time.perf_counter() - t0
        r = jax.tree.map(np.asarray, test(learned))
        at_criterion = np.all(r["property_p"], axis=1)
        extra = {}
        if path == cfg.paths[0]:
            first = learned
        else:
            extra = {"same_as_first_path": bool(same(first, learned))}
        rows.append({"learners": nb, "fixed_drive": cached, "path": path, **extra,
                     "sentences_per_learner": cfg.sentences, "seconds": secs,
                     "sentences_per_s": nb * cfg.sentences / secs,
                     "sentences_per_s_per_learner": cfg.sentences / secs,
                     "compile_and_warmup_s": warm_s,
                     "fraction_at_criterion": float(at_criterion.mean()),
                     "fraction_words_property_p": float(r["property_p"].mean()),
                     "dropped": int(sum(np.sum(v.dropped) for v in learned.stores.values()))})
        print(json.dumps(rows[-1]), flush=True)
    res = {"workload": f"learner {cfg.num_nouns} + {cfg.num_verbs} words, LEX n = {cfg.lex_n}",
           "reference_sentences_per_s": "7-11 (REFERENCE.md, reference learner.py, 2 CPU cores)",
           "kcap": cfg.kcap, "device": jax.devices()[0].device_kind, "jax": jax.__version__,
           "rows": rows}
    (out / "bench_learner.json").write_text(json.dumps(res, indent=1))
    return res

