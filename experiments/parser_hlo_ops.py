"""Static size of the parser's one-program-per-sentence path: HLO ops of the compiled
program of each sentence plan (``parser._parse_program``, default parser sizes, kcap
``blocks``), on the default backend.

Counts, from ``jit(...).lower(...).compile().as_text()``: ``instructions`` (every HLO
instruction, fused computations included), ``kernel_ops`` (instructions outside fused
computations, parameters / constants / tuples / bitcasts left out: each a kernel, a loop
or a call), ``fusions``, ``copies``; ``kernel_ops_run``: kernel ops executed per parse with
the projection rounds' loops (trip count ``project_rounds - 1``) unrolled, every other loop
(binary searches, per-source hash loops: unrolled or fused on a GPU) counted as one op, a
conditional as its larger branch.

Run: ``PYTHONPATH=. python experiments/parser_hlo_ops.py [--hebb-batch all|shape]
[SENTENCE ...]`` (default: "cats chase mice" and "the big dogs chase the bad cats").
"""

from __future__ import annotations

import argparse
import json
import re
import time

_TRIVIAL = {"parameter", "constant", "get-tuple-element", "tuple", "bitcast"}


def _computations(text: str):
    """({name: [(opcode, line)]}, entry name) of an HLO module's text."""
    comps, cur, entry = {}, None, None
    for line in text.splitlines():
        m = re.match(r"^(ENTRY )?%?([\w.\-]+) .*\{$", line)
        if m:
            cur, comps[m.group(2)] = m.group(2), []
            entry = cur if m.group(1) else entry
        elif cur and " = " in line:
            op = re.search(r"= [^ ]+(?: [^ ]+)*? ([a-z\-]+)\(", line)
            comps[cur].append((op.group(1) if op else "?", line))
    return comps, entry


def _run(comps, name, rounds):
    n = 0
    for op, line in comps[name]:
        if op in _TRIVIAL:
            continue
        if op == "while":
            trip = re.search(r'known_trip_count":\{"n":"(\d+)"', line)
            body = re.search(r"body=%?([\w.\-]+)", line).group(1)
            n += (rounds * _run(comps, body, rounds)
                  if trip and int(trip.group(1)) == rounds else 1)
        elif op == "conditional":
            names = re.findall(r"%?([\w.\-]+)", line.split("branch_computations={")[1]
                               .split("}")[0])
            n += max(_run(comps, b, rounds) for b in names)
        elif op == "call":
            n += _run(comps, re.search(r"to_apply=%?([\w.\-]+)", line).group(1), rounds)
        else:
            n += 1
    return n


def count_ops(text: str, rounds: int) -> dict:
    """The counts of the module doc for one compiled HLO module's text."""
    comps, entry = _computations(text)
    fused = set(re.findall(r"calls=%?([\w.\-]+)", text))
    top = [op for c, ops in comps.items() if c not in fused for op, _ in ops
           if op not in _TRIVIAL]
    return {"instructions": sum(map(len, comps.values())), "kernel_ops": len(top),
            "fusions": top.count("fusion"), "copies": top.count("copy"),
            "kernel_ops_run": _run(comps, entry, rounds)}


def main():
    import jax.numpy as jnp
    from jaxbrain.assemblies import brain as B
    from jaxbrain.assemblies import parser as P
    from jaxbrain.assemblies.fibrewise import seedless

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sentences", nargs="*",
                    default=["cats chase mice", "the big dogs chase the bad cats"])
    ap.add_argument("--hebb-batch", default=None, help="batched.project_rounds' hebb_batch")
    args = ap.parse_args()
    ps = P.ParserSpec(kcap="blocks")
    spec = P.make_brain_spec(ps)
    st0 = B.init(spec)
    extra = {} if args.hebb_batch is None else {"hebb_batch": args.hebb_batch}
    for s in args.sentences:
        toks = s.split()
        pl = P.plan([ps.category(w) for w in toks], ps.project_rounds, ps.grammar)
        low = P._parse_program.lower(
            seedless(spec), seedless(ps), st0,
            jnp.asarray([ps.assembly(w) for w in toks], jnp.int32), jnp.uint32(0),
            ops=pl.ops, order=P._readout_order(pl.fired, ps.grammar.readout),
            fixed=P._fixed_areas(spec, st0), **extra)
        t0 = time.perf_counter()
        text = low.compile().as_text()
        row = {"sentence": s, "compile_s": round(time.perf_counter() - t0, 1),
               **count_ops(text, ps.project_rounds - 1)}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
