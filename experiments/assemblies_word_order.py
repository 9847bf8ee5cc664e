"""Word-order acquisition and generation (word_order_int.py semantics), read from synaptic input.

For each word order (one brain per order, one mood), the brain hears random transitive
sentences in that order; every ``test_every`` sentences it generates ``num_generate``
sentences with plasticity off, each constituent chosen by the largest total synaptic input
(MOOD -> role helpers first, then syntactic area -> the remaining helpers). Success: the
generated order equals the trained one. Reference: after 10 SVO sentences 2 of 5
generations were SVO (word_order_int.py, ~46 s per training sentence on 2 CPU cores).

Timing (per order): with ``warmup`` one sentence per mood is trained and generated in a scratch
brain first (``warmup_s``: compilation plus that work), then every training sentence and every
generated sentence is timed on its own (wall clock, synchronised): ``train_s_per_sentence``,
``generate_s_per_sentence`` (means; medians alongside), compilation excluded. ``path``:
``"program"`` runs each training sentence and each generation as one jitted program;
``"host"`` drives every projection round from the host (same results).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from jaxbrain.config import (ConfigError, at_least, nonnegative, one_of, open_prob, param,
                             positive)


@dataclass(frozen=True)
class Config:
    orders: tuple[str, ...] = param(("SVO", "SOV"), None, "word orders to learn (one brain each)")
    num_nouns: int = param(2, at_least(2), "nouns")
    num_verbs: int = param(2, at_least(1), "verbs")
    n: int = param(100_000, positive, "neurons per non-explicit area")
    k: int = param(100, positive, "cap")
    p: float = param(0.05, open_prob, "connection probability")
    beta: float = param(0.06, nonnegative, "plasticity")
    training_rounds: int = param(10, at_least(1), "projection rounds per constituent")
    num_train: int = param(12, at_least(1), "training sentences")
    test_every: int = param(2, nonnegative, "sentences between generation tests (0: end only)")
    num_generate: int = param(5, at_least(1), "generated sentences per test")
    store_capacity: int = param(2**18, positive, "learned-delta slots per fibre")
    seed: int = param(0, nonnegative, "connectivity and sentence seed")
    warmup: bool = param(True, None, "compile in a scratch brain first (times exclude compilation)")
    path: str = param("host", one_of("program", "host"), "'program': one jitted program per "
                      "training sentence / generation; 'host': one host call per round")

    def check(self):
        for o in self.orders:
            if sorted(o) != ["O", "S", "V"]:
                raise ConfigError(f"config key 'orders': value {o!r} is not allowed; allowed: "
                                  "permutations of 'SVO' (e.g. 'SVO', 'SOV', 'VSO')")
        if not self.orders:
            raise ConfigError("config key 'orders': value [] is not allowed; allowed: >= 1 order")
        if self.k >= self.n:
            raise ConfigError(f"config key 'k': value {self.k} must be < n = {self.n}")


def run(cfg: Config, out: Path) -> dict:
    import matplotlib.pyplot as plt
    import numpy as np
    from jaxbrain.assemblies import word_order as W

    res = {}
    fig, ax = plt.subplots(figsize=(6, 4))
    for order in cfg.orders:
        ws = W.WordOrderSpec(num_nouns=cfg.num_nouns, num_verbs=cfg.num_verbs, orders=(order,),
                             p=cfg.p, n=cfg.n, k=cfg.k, beta=cfg.beta,
                             training_rounds=cfg.training_rounds, seed=cfg.seed,
                             store_capacity=cfg.store_capacity)
        t0 = time.perf_counter()
        r = W.run_trial(ws, cfg.num_train, cfg.num_generate, cfg.test_every, rng_seed=cfg.seed,
                        log=lambda h, o=order: print(o, h["sentences"], h["fraction_correct"][o],
                                                      flush=True), warmup=cfg.warmup,
                        host_loop=cfg.path == "host")
        wall = time.perf_counter() - t0
        hist = r["history"]
        xs = [h["sentences"] for h in hist]
        ys = [h["fraction_correct"][order] for h in hist]
        ax.plot(xs, ys, marker="o", label=order)
        stores = r["state"].stores
        res[order] = {
            "final_fraction_correct": ys[-1],
            "first_all_correct_after": next((x for x, y in zip(xs, ys) if y == 1.0), None),
            "history": [{"sentences": h["sentences"], "fraction_correct": h["fraction_correct"][order],
                         "generated": h["generated"][order]} for h in hist],
            "wall_s_incl_compile_and_tests": wall,
            "warmup_s": r["warmup_s"],
            "times_exclude_compile": bool(cfg.warmup),
            "path": cfg.path,
            "train_s_per_sentence": r["train_s_per_sentence"],
            "train_s_per_sentence_median": float(np.median(r["train_s"])),
            "generate_s_per_sentence": r["generate_s_per_sentence"],
            "generate_s_per_sentence_median": float(np.median(r["generate_s"])),
            "generated_sentences_timed": len(r["generate_s"]),
            "store_dropped": int(sum(int(v.dropped) for v in stores.values())),
            "store_max_fill": max(int(v.size) for v in stores.values()) / cfg.store_capacity,
        }
    ax.set_xlabel("training sentences")
    ax.set_ylabel("fraction generated in the trained order")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"word order, n={cfg.n:g}, k={cfg.k}, p={cfg.p}, beta={cfg.beta}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "word_order.png", dpi=120)
    plt.close(fig)
    return res
