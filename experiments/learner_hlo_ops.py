"""Static size of one learner's training sentence: HLO ops of the compiled program of
``learner.sentence`` (learner.py's sizes, 2 + 2 words, LEX n = 1e5, the bench's store
capacity 16,384) for each training path, with and without ``learner.fixed_drive``'s table,
on the default backend.

Counts as in ``experiments/parser_hlo_ops.py`` (its ``count_ops``): ``instructions``,
``kernel_ops`` (each a kernel, a loop or a call; on a GPU each fusion is a kernel),
``fusions``, ``copies``, and ``kernel_ops_run``: kernel ops executed per sentence, with the
loops of trip count 2 (the sentence's two words; the ``proj_rounds = 2`` later rounds of a
word) unrolled, every other loop counted as one op, a conditional as its larger branch.

``--trace-as gpu`` (on a CPU only) traces the program as for a GPU (``jax.default_backend``
reports "gpu" while tracing: no ``lax.cond`` around the store merges, unrolled binary
searches, vmapped Hebbian batches) and compiles it with the CPU's XLA: the GPU's program
structure, but not its fusion (XLA's GPU backend fuses e.g. an unrolled binary search's
gathers into one kernel, the CPU's does not), so an upper bound, not the GPU's count.

Run: ``PYTHONPATH=. python experiments/learner_hlo_ops.py [--paths project stacked]
[--fixed-drive no yes] [--lex-n N] [--trace-as gpu]`` (one JSON line per path and drive).
"""

from __future__ import annotations

import argparse
import json
import time

from parser_hlo_ops import count_ops   # this script's folder is on sys.path


def main():
    import jax
    import jax.numpy as jnp
    from jaxbrain.assemblies import brain as B
    from jaxbrain.assemblies import learner as L

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", nargs="+", default=list(L.TRAIN_PATHS), choices=L.TRAIN_PATHS)
    ap.add_argument("--lex-n", type=int, default=100_000)
    ap.add_argument("--store-capacity", type=int, default=16_384)
    ap.add_argument("--fixed-drive", nargs="+", default=["no", "yes"], choices=("no", "yes"),
                    help="hash the fixed assemblies every round (no) or read fixed_drive (yes)")
    ap.add_argument("--trace-as", choices=("gpu",), default=None,
                    help="trace as for a GPU, compile with this backend (module doc)")
    args = ap.parse_args()
    backend = jax.default_backend()
    if args.trace_as:
        if backend != "cpu":
            ap.error(f"--trace-as is for the CPU backend; this one is {backend!r}")
        jax.default_backend = lambda: args.trace_as
    ls = L.LearnerSpec(lex_n=args.lex_n, store_capacity=args.store_capacity)
    spec = L.make_spec(ls)
    st0 = B.init(spec)
    drive = L.fixed_drive(spec, ls)
    if ls.proj_rounds != 2:
        raise ValueError("learner_hlo_ops: unrolls loops of trip count 2 (words, rounds)")
    for path in args.paths:
        for d in [drive if x == "yes" else None for x in args.fixed_drive]:
            low = jax.jit(lambda s, a, b, d: L.sentence(spec, ls, s, a, b, d, path=path)).lower(
                st0, jnp.int32(0), jnp.int32(1), d)
            t0 = time.perf_counter()
            text = low.compile().as_text()
            row = {"path": path, "fixed_drive": d is not None,
                   "backend": backend, "traced_as": args.trace_as or backend,
                   "compile_s": round(time.perf_counter() - t0, 1), **count_ops(text, 2)}
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
