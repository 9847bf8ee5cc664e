"""The NEMO parser (parser.py semantics) with dependencies read from the neurons, in English
or (``language = "russian"``: case areas NOM / ACC / DAT, free word order, LEX of 7 x lex_k
with lex_k = 10 in the reference) in Russian.

Each sentence is parsed in a fresh brain (LEX explicit, 20 words x lex_k; syntactic areas
n = 1e4, k = 100; p = 0.1; 20 projection rounds per word, reference defaults) under the
word categories' inhibit / disinhibit rules; then, with plasticity off, the dependencies
are read out by projecting from VERB along the fibres that fired and back into LEX, where
the word whose assembly holds the most of LEX's winners (>= 0.7) is read. Success for a
sentence: the read dependencies equal its hand-written gold dependencies exactly.
Reference speed: 1.5-3.4 s per parsed sentence (reference parser.py, 2 CPU cores).

Timing: the first pass over the sentences (seed ``seeds[0]``) compiles the kernels
(``first_pass_with_compile_s``); every timed parse comes after it (``seconds_per_sentence_*``:
parse + readout of one sentence, wall clock up to the dependencies on the host, compilation
excluded); ``compile_s`` = first pass minus the same seed's timed pass over the same
sentences. ``path``: ``"program"`` runs each sentence's parse + readout as one jitted
program (compiled once per sentence plan, for every seed); ``"host"`` drives every
projection round from the host. ``compare = true`` also times the other path in the same
run (same seeds and sentences) and checks it reads the same dependencies (``compare``).
``batch_seeds = B`` also parses every sentence in B fresh brains (seeds 0..B-1) with
``parser.parse_many``, one vmapped program per sentence plan, timed after a compiling pass
(``batched``: seconds per parse = summed program wall time / parses, and the exact fraction).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from jaxbrain.assemblies.kcap import METHODS as KCAP_METHODS
from jaxbrain.config import (ConfigError, at_least, nonnegative, one_of, open_prob, param,
                             positive)

PATHS = ("program", "host")
LANGUAGES = ("english", "russian")


@dataclass(frozen=True)
class Config:
    language: str = param("english", one_of(*LANGUAGES), "grammar and test sentences")
    p: float = param(0.1, open_prob, "connection probability")
    lex_k: int = param(20, positive, "LEX (and DET) cap")
    n: int = param(10_000, positive, "neurons per syntactic area")
    k: int = param(100, positive, "cap of the syntactic areas")
    default_beta: float = param(0.2, nonnegative, "default plasticity")
    lex_beta: float = param(1.0, nonnegative, "LEX <-> syntactic area plasticity")
    recurrent_beta: float = param(0.05, nonnegative, "syntactic area self-loop plasticity")
    interarea_beta: float = param(0.5, nonnegative, "plasticity between syntactic areas")
    project_rounds: int = param(20, at_least(1), "projection rounds per word")
    store_capacity: int = param(8192, positive, "learned-delta slots per fibre")
    hebb_density: float = param(0.4, open_prob, "cap on the fraction of a fibre's winner "
                                "pairs updated per round (overflow counted as dropped)")
    kcap: str = param("top_k", one_of(*KCAP_METHODS), "k-cap method (all exact and equal; "
                      "see jaxbrain.assemblies.kcap)")
    seeds: tuple[int, ...] = param((0, 1, 2), nonnegative, "connectivity seeds (one pass each)")
    sentences: tuple[str, ...] = param((), None, "sentences to parse (empty: the whole test set)")
    path: str = param("host", one_of(*PATHS), "'program': one jitted program per sentence; "
                      "'host': one host call per projection round")
    compare: bool = param(False, None, "also time the other path and check its dependencies")
    batch_seeds: int = param(0, nonnegative, "also parse every sentence with seeds "
                             "0..batch_seeds-1 in one vmapped program per sentence plan "
                             "(parser.parse_many) and report its throughput; 0: off")

    def check(self):
        from jaxbrain.assemblies.parser import GRAMMARS
        known = [s for s, _ in GRAMMARS[self.language].sentences]
        for s in self.sentences:
            if s not in known:
                raise ConfigError(f"config key 'sentences': value {s!r} has no gold parse; "
                                  f"allowed: {known}")
        if not self.k < self.n or not self.lex_k < self.n:
            raise ConfigError(f"config key 'k': value {self.k} must be < n = {self.n}")
        if not self.seeds:
            raise ConfigError("config key 'seeds': value [] is not allowed; allowed: at least one seed")


def run(cfg: Config, out: Path) -> dict:
    import matplotlib.pyplot as plt
    import numpy as np
    from jaxbrain.assemblies import parser as P

    grammar = P.GRAMMARS[cfg.language]
    gold = dict(grammar.sentences)
    sents = list(cfg.sentences) or list(gold)
    specs = {seed: P.ParserSpec(p=cfg.p, lex_k=cfg.lex_k, n=cfg.n, k=cfg.k,
                                default_beta=cfg.default_beta, lex_beta=cfg.lex_beta,
                                recurrent_beta=cfg.recurrent_beta,
                                interarea_beta=cfg.interarea_beta,
                                project_rounds=cfg.project_rounds, seed=seed,
                                store_capacity=cfg.store_capacity, grammar=grammar,
                                hebb_density=cfg.hebb_density, kcap=cfg.kcap)
             for seed in cfg.seeds}

    def timed(path):
        """({seed: rows}, first pass seconds, compile seconds) of one path (timed rows come
        after a compiling first pass)."""
        host = path == "host"
        per_seed, compile_s, warm_first_seed_s = {}, None, None
        for seed, ps in specs.items():
            if compile_s is None:   # the first parse of every sentence shape compiles
                t0 = time.perf_counter()
                P.parse_sentences(ps, sents, host_loop=host)
                compile_s = time.perf_counter() - t0
            P.parse_sentences(ps, sents[:1], host_loop=host)   # per-seed warm-up
            rows = P.parse_sentences(ps, sents, host_loop=host)
            if warm_first_seed_s is None:
                warm_first_seed_s = sum(r["seconds"] for r in rows)
            for r in rows:
                r.update(P.score(r["dependencies"], gold[r["sentence"]]))
            per_seed[seed] = rows
        return per_seed, compile_s, compile_s - warm_first_seed_s

    per_seed, first_pass_s, compile_s = timed(cfg.path)
    compare = None
    if cfg.compare:
        other = next(q for q in PATHS if q != cfg.path)
        o_rows, o_first, o_compile = timed(other)
        o_secs = [r["seconds"] for rows in o_rows.values() for r in rows]
        m_secs = [r["seconds"] for rows in per_seed.values() for r in rows]
        compare = {
            "path": other,
            "seconds_per_sentence_mean": float(np.mean(o_secs)),
            "seconds_per_sentence_median": float(np.median(o_secs)),
            "first_pass_with_compile_s": o_first,
            "compile_s": o_compile,
            "dependencies_identical": all(
                a["dependencies"] == b["dependencies"]
                for s in cfg.seeds for a, b in zip(per_seed[s], o_rows[s])),
            "mean_seconds_over_path_mean": float(np.mean(o_secs) / np.mean(m_secs)),
            "median_seconds_over_path_median": float(np.median(o_secs) / np.median(m_secs)),
        }
    batched = None
    if cfg.batch_seeds:
        ps0, seeds_b = specs[cfg.seeds[0]], range(cfg.batch_seeds)
        t0 = time.perf_counter()
        P.parse_many(ps0, sents, seeds_b)                   # compiles once per plan
        first_b = time.perf_counter() - t0
        rows_b = P.parse_many(ps0, sents, seeds_b)
        for r in rows_b:
            r.update(P.score(r["dependencies"], gold[r["sentence"]]))
        prog_s = {r["sentence"]: r["batch_seconds"] for r in rows_b}   # one program per plan
        plans = {tuple(ps0.category(w) for w in s.split()): s for s in sents}
        total_s = sum(prog_s[s] for s in plans.values())
        batched = {
            "parses": len(rows_b), "programs": len(plans), "seeds": cfg.batch_seeds,
            "seconds_per_parse": total_s / len(rows_b),
            "program_seconds": {s: prog_s[s] for s in plans.values()},
            "fraction_exact": float(np.mean([r["exact"] for r in rows_b])),
            "failures": [{"seed": r["seed"], "sentence": r["sentence"], "read": r["dependencies"]}
                         for r in rows_b if not r["exact"]],
            "store_dropped_total": int(sum(r["store_dropped"] for r in rows_b)),
            "first_pass_with_compile_s": first_b,
        }
    all_rows = [r for rows in per_seed.values() for r in rows]
    words = [len(r["sentence"].split()) for r in all_rows]
    secs = [r["seconds"] for r in all_rows]
    exact = np.array([r["exact"] for r in all_rows])
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(sents) + 1.5))
    seed0 = per_seed[cfg.seeds[0]]
    ax.barh(range(len(sents)), [r["seconds"] for r in seed0],
            color=["tab:green" if r["exact"] else "tab:red" for r in seed0])
    ax.set_yticks(range(len(sents)), [r["sentence"] for r in seed0], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"seconds per parse + readout ({cfg.path} path, seed {cfg.seeds[0]}; green: "
                  "all dependencies correct)")
    ax.set_title(f"NEMO parser ({cfg.language}): {exact.mean():.0%} of {len(all_rows)} parses "
                 f"exact ({len(cfg.seeds)} seeds)")
    fig.tight_layout()
    fig.savefig(out / "parser.png", dpi=120)
    plt.close(fig)
    return {
        "language": cfg.language,
        "fraction_exact": float(exact.mean()),
        "fraction_exact_by_seed": {str(s): float(np.mean([r["exact"] for r in rows]))
                                   for s, rows in per_seed.items()},
        "dependency_recall": float(np.mean([r["recall"] for r in all_rows])),
        "seconds_per_sentence_mean": float(np.mean(secs)),
        "seconds_per_sentence_median": float(np.median(secs)),
        "seconds_per_word_mean": float(np.sum(secs) / np.sum(words)),
        "path": cfg.path,
        "first_pass_with_compile_s": first_pass_s,
        "compile_s": compile_s,
        "compare": compare,
        "batched": batched,
        "parses_timed": len(all_rows),
        "store_dropped_total": int(sum(r["store_dropped"] for r in all_rows)),
        "store_max_fill": float(max(r["store_max_fill"] for r in all_rows)),
        "failures": [{"seed": s, "sentence": r["sentence"], "read": r["dependencies"]}
                     for s, rows in per_seed.items() for r in rows if not r["exact"]],
        "parses_seed0": [{"sentence": r["sentence"], "dependencies": r["dependencies"],
                          "seconds": r["seconds"]} for r in seed0],
    }
