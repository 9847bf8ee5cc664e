"""Seed-workload NEMO benchmark: sentences/s with learning read back, and the floors.

Workload: jaxbrain.assemblies.seed_workload (k = 50, p = 0.05 recurrent / 0.1 cross-area,
beta = 0.1, w_max = 10, 2 rounds, 4 nouns + 3 verbs, two-word sentences, 16 area-projections
per sentence). Per n: ``sentences`` timed sentences in
one ``lax.scan`` (one dispatch), blocked on the result, after an untimed warm-up call of the same shape
(compilation + ``sentences`` sentences). Also: vmap over independent brains,
and the floors (pair-hash throughput of one projection, one k-cap, one memory pass).

Rows: ``mode="brain"`` (``brain.project``: hash law with the k-caps ``kcaps`` up to
``old_max_n``, and every ``law/kcap`` of ``fast_paths`` at every n: "block/blocks" is the block
connectivity law; these rows ran through a separate ``project_fast`` until it was folded into
``brain.project`` as ``BrainSpec.law``) and ``mode="lazy"`` (``lazy_ns``: lazy.py, brain.py's algorithm, cost independent of n; one p for
every fibre). Every row records device memory (``memory_stats``, peak since the process
started) and the compiled function's own memory analysis.

Run: ``PYTHONPATH=. python experiments/bench_nemo.py --out DIR [--set key=value]``. Seed figures: 148 / 175 / 64 sentences/s at n = 1e5 / 1e6 / 1e7;
targets 1,750 at 1e6 and 640 at 1e7.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from jaxbrain.config import at_least, nonnegative, one_of, param, positive


@dataclass(frozen=True)
class Config:
    ns: tuple[int, ...] = param((100_000, 1_000_000, 10_000_000, 100_000_000), positive,
                                "area sizes")
    kcaps: tuple[str, ...] = param(("threshold",), one_of("top_k", "threshold", "auto"),
                                   "k-cap methods of the brain-mode (old path) rows")
    compare_top_k_at: int = param(1_000_000, nonnegative, "also time top_k at this n (0: no)")
    sentences: int = param(200, at_least(1), "timed sentences")
    vmap_brains: tuple[int, ...] = param((8,), positive, "independent brains under vmap")
    vmap_n: int = param(1_000_000, positive, "n for the vmap runs")
    vmap_kcap: str = param("top_k", one_of("top_k", "threshold", "auto"),
                           "k-cap under vmap")
    store_capacity: int = param(2**15, positive, "learned-delta slots per fibre")
    old_max_n: int = param(10**7, positive, "brain-mode (old path) rows only up to this n")
    fast_paths: tuple[str, ...] = param((), one_of("hash/blocks", "block/blocks", "block/top_k",
                                                   "hash/top_k", "block/threshold"),
                                        "extra brain-mode rows 'law/kcap' at every n")
    lazy_ns: tuple[int, ...] = param((), positive, "lazy-mode rows at these n")
    lazy_capacity: int = param(2048, positive, "lazy support slots per area")
    lazy_p: float = param(0.1, positive, "lazy mode's single connection probability")
    large_n: int = param(10**8, positive, "n from which sentences_large is used")
    sentences_large: int = param(20, at_least(1), "timed sentences at n >= large_n")
    floors: bool = param(True, None, "time the floors at every n")
    seed: int = param(0, nonnegative, "seed")


def _time(fn, *args, reps=3):
    import jax
    out = fn(*args)
    jax.block_until_ready(out)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        out = fn(*args)
        jax.block_until_ready(out)
        best = min(best, time.perf_counter() - t)
    return best


def _words(rng, shape):
    import jax.numpy as jnp
    from jaxbrain.assemblies import seed_workload as sw
    return (jnp.asarray(rng.integers(0, sw.N_NOUNS, shape), jnp.int32),
            jnp.asarray(rng.integers(0, sw.N_VERBS, shape), jnp.int32))


def bench_one(n, kcap, cfg, rng, brains=0, mode="brain", law="hash"):
    """One row: ``mode`` 'brain' (implicit brain, ``law``, ``kcap``) or 'lazy'."""
    import jax
    import numpy as np
    from jaxbrain.assemblies import brain as B
    from jaxbrain.assemblies import seed_workload as sw

    sentences = cfg.sentences_large if n >= cfg.large_n else cfg.sentences
    if mode == "lazy":
        spec = sw.make_lazy_spec(n, p=cfg.lazy_p, seed=cfg.seed)
        state = sw.lazy_init(spec, cfg.lazy_capacity)
        fn = jax.jit(lambda s, a, b: sw.lazy_train(spec, s, a, b), donate_argnums=0)
        shape_t = (sentences,)
    else:
        spec = sw.make_spec(n, seed=cfg.seed, kcap=kcap, store_capacity=cfg.store_capacity, law=law)
        train = lambda s, a, b: sw.train(spec, s, a, b)  # noqa: E731
        if brains:
            state = jax.vmap(lambda _: B.init(spec))(np.arange(brains))
            fn = jax.jit(jax.vmap(train), donate_argnums=0)
            shape_t = (brains, sentences)
        else:
            state = B.init(spec)
            fn = jax.jit(train, donate_argnums=0)
            shape_t = (sentences,)
    t0 = time.perf_counter()
    a, b = _words(rng, shape_t)   # same shape as the timed call: compiled once
    compiled_mem = {}
    try:
        ma = fn.lower(state, a, b).compile().memory_analysis()
        compiled_mem = {k: int(getattr(ma, k)) for k in ("temp_size_in_bytes", "argument_size_in_bytes",
                                                          "output_size_in_bytes") if hasattr(ma, k)}
    except Exception as e:  # pragma: no cover
        compiled_mem = {"error": f"{type(e).__name__}: {str(e)[:200]}"}
    state = fn(state, a, b)
    jax.block_until_ready(state)
    compile_and_warm = time.perf_counter() - t0
    a, b = _words(rng, shape_t)
    t0 = time.perf_counter()
    state = fn(state, a, b)
    jax.block_until_ready(state)
    dt = time.perf_counter() - t0
    total = sentences * max(brains, 1)
    if mode == "lazy":
        stores = {a: {"support": int(v.w), "overflow": int(v.overflow)} for a, v in state.areas.items()}
    else:
        stores = {k: {"size": int(np.max(np.asarray(v.size))), "capacity": v.capacity,
                      "dropped": int(np.sum(np.asarray(v.dropped)))} for k, v in state.stores.items()}
    state_bytes = sum(x.nbytes for x in jax.tree_util.tree_leaves(state))
    mem = {}
    try:
        st = jax.devices()[0].memory_stats() or {}
        mem = {"peak_bytes_in_use": st.get("peak_bytes_in_use"), "bytes_in_use": st.get("bytes_in_use")}
    except Exception:  # pragma: no cover
        pass
    return {"n": n, "mode": mode, "law": law if mode != "lazy" else "lazy",
            "kcap": kcap if mode != "lazy" else "auto (support; rank on a GPU)",
            "brains": max(brains, 1), "sentences": total, "seconds": dt,
            "sentences_per_s": total / dt,
            "area_projections_per_s": total * sw.AREAS_PER_SENTENCE / dt,
            "compile_and_warmup_s": compile_and_warm, "state_bytes": state_bytes,
            "device_memory": mem, "compiled_memory": compiled_mem, "stores": stores}


def floors(n, kcap):
    """Time one projection's hash (k = 50 sources x n targets), one k-cap, one memory pass."""
    import jax
    import jax.numpy as jnp
    from jaxbrain.assemblies import implicit
    from jaxbrain.assemblies.kcap import k_cap

    k = 50
    src = jnp.arange(k, dtype=jnp.int32) * 7919
    proj = jax.jit(lambda s: implicit.area_input(0, 1, 0.1, s, jnp.ones(k, bool), n))
    t_hash = _time(proj, src) if n <= 10**8 else None
    blk = jax.jit(lambda s: implicit.block_area_input(0, 1, 0.1, s, jnp.ones(k, bool), n))
    t_block = _time(blk, src)
    x = blk(src)
    t_kcap = _time(jax.jit(lambda x: k_cap(x, k, kcap)), x)
    t_blocks = _time(jax.jit(lambda x: k_cap(x, k, "blocks")), x)
    t_topk = _time(jax.jit(lambda x: k_cap(x, k, "top_k")), x) if n <= 10**7 else None
    t_pass = _time(jax.jit(lambda x: x * 2.0 + 1.0), x)
    return {"n": n, "projection_s": t_hash, "pair_hashes_per_s": n * k / t_hash if t_hash else None,
            "block_projection_s": t_block, "block_targets_per_s": 0.1 * n * k / t_block,
            "k_cap_s": t_kcap, "k_cap_method": kcap, "k_cap_blocks_s": t_blocks, "top_k_s": t_topk,
            "memory_pass_s": t_pass, "memory_pass_bytes_per_s": 8 * n / t_pass}


def run(cfg: Config, out: Path) -> dict:
    import jax
    import numpy as np

    rng = np.random.default_rng(cfg.seed)
    res = {"device": str(jax.devices()[0].device_kind), "jax": jax.__version__,
           "single": [], "vmap": [], "floors": []}

    def save():
        (out / "bench_nemo.json").write_text(json.dumps(res, indent=2))

    def vmap_runs():
        for nb in cfg.vmap_brains:
            try:
                r = bench_one(cfg.vmap_n, cfg.vmap_kcap, cfg, rng, brains=nb)
            except Exception as e:
                r = {"n": cfg.vmap_n, "brains": nb, "error": f"{type(e).__name__}: {str(e)[:300]}"}
            print(json.dumps({k: v for k, v in r.items() if k != "stores"}), flush=True)
            res["vmap"].append(r)
            save()

    def row(n, kcap, mode, law="hash"):
        try:
            r = bench_one(n, kcap, cfg, rng, mode=mode, law=law)
        except Exception as e:  # out of memory at the largest n: record, keep going
            r = {"n": n, "mode": mode, "law": law, "kcap": kcap,
                 "error": f"{type(e).__name__}: {str(e)[:300]}"}
        print(json.dumps({k: v for k, v in r.items() if k != "stores"}), flush=True)
        res["single"].append(r)
        save()

    for n in cfg.lazy_ns:
        row(n, "top_k", "lazy")
    for n in cfg.ns:
        methods = list(cfg.kcaps) + (["top_k"] if n == cfg.compare_top_k_at and "top_k" not in cfg.kcaps else [])
        if n <= cfg.old_max_n:
            for m in methods:
                row(n, m, "brain")
        for fp in cfg.fast_paths:
            law, m = fp.split("/")
            row(n, m, "brain", law)
        if cfg.floors:
            try:
                f = floors(n, cfg.kcaps[0] if cfg.kcaps else "top_k")
            except Exception as e:
                f = {"n": n, "error": f"{type(e).__name__}: {str(e)[:300]}"}
            print(json.dumps(f), flush=True)
            res["floors"].append(f)
            save()
        if n == cfg.vmap_n:
            vmap_runs()
    if cfg.vmap_n not in cfg.ns:
        vmap_runs()
    return {"single": [{k: r.get(k) for k in ("n", "mode", "law", "kcap", "sentences_per_s",
                                              "area_projections_per_s")}
                       for r in res["single"]],
            "vmap": [{k: r.get(k) for k in ("n", "brains", "sentences_per_s")} for r in res["vmap"]]}


if __name__ == "__main__":
    import argparse
    from jaxbrain.config import apply_overrides, from_dict
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/bench_nemo")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    cfg = from_dict(Config, apply_overrides({}, args.overrides))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(json.dumps(run(cfg, out), indent=1))
    sys.exit(0)
