"""Throughput of the spiking LM: training and generation tokens/s at the seeds' sizes, batch 1
and large batches, for the dense gather, the event-driven propagation and the fused generation
path in the same run, with the work per token (decoder FLOPs, synaptic operations, spike
events, event-list slots) and the hardware floors they imply. Writes bench.json.

The event path's capacities come from the activity measured on a teacher-forced batch of the
benchmark's own random tokens (``measure_activity`` -> ``event_capacities``); the fraction
of substeps of that batch that would overflow (and so run the dense fallback) is reported.

Agreement between the paths: the teacher-forced loss of that batch through each path's
generation step (``generation_nll``), and the fraction of generated tokens equal to the dense
path's (same prompts, same key). With ``hlo_batch`` > 0 the optimised HLO of each path's
generation call is compiled on the benchmark's device and accounted per generated token
(:func:`hlo_accounting`: kernels, bytes written and read, by kind; the HLO text is saved)."""

from __future__ import annotations

import collections
import dataclasses
import gzip
import math
import re
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxbrain.config import at_least, one_of, param, positive
from jaxbrain.lm.generate import _compiled
from jaxbrain.lm.model import (ALL_MODULATORS, event_capacities, generation_nll, init_params,
                               make_model, measure_activity, param_count, with_events,
                               with_fused)
from jaxbrain.lm.modules import MODULES, BrainSpec
from jaxbrain.lm.sampling import Sampling
from jaxbrain.lm.train import TrainConfig, make_optimizer, make_train_step
from jaxbrain.profiling import kernel_table
from jaxbrain.runs import write_json

__all__ = ["Config", "run", "floors", "hlo_accounting"]


@dataclasses.dataclass(frozen=True)
class Config:
    scales: tuple[str, ...] = param(("current", "small", "4x"), None, "scales to measure, in order")
    vocab: int = param(32000, positive, "vocabulary (the seeds' SentencePiece 32k)")
    seq_len: int = param(64, positive, "training sequence length")
    gen_len: int = param(64, positive, "generated tokens per sequence")
    train_batches: tuple[int, ...] = param((1, 64), None, "training batch sizes")
    gen_batches: tuple[int, ...] = param((1, 1024), None, "generation batch sizes")
    big_scale_divisor: int = param(4, positive, "divide large batches by this at scale 4x")
    compute_dtype: str = param("bfloat16", one_of("float32", "bfloat16"), "gather dtype")
    repeats: int = param(3, positive, "timed repetitions after the compile")
    substeps: int = param(8, positive, "neural substeps per token")
    transposed_backward: bool = param(True, None, "backward of the spike gather as a gather over "
                                      "the source-major table (False: XLA's scatter-add)")
    remat: bool = param(True, None, "recompute each token's forward in the backward pass")
    paths: tuple[str, ...] = param(("dense", "event", "fused", "packed"),
                                   one_of("dense", "event", "fused", "packed", "kernel"),
                                   "propagation "
                                   "paths to time: 'dense' (gather over all slots), 'event' "
                                   "(active lists), 'fused', 'packed' and 'kernel' "
                                   "(generation only: with_fused, spikes 1 byte or 1 bit per "
                                   "column; 'kernel': one Pallas kernel per module substep, "
                                   "GPU)")
    hlo: bool = param(False, None, "account the optimised HLO of each generation row "
                      "(per generated token) and save each row's gzipped HLO text under hlo/")
    agree_batch: int = param(16, at_least(0), "sequences of the probe batch scored through each "
                             "path's generation step, first scale only (0: off)")
    probe_batch: int = param(256, positive, "batch of the activity probe that sizes the lists")
    headroom: float = param(1.5, at_least(1.0), "capacity = headroom x peak count + 16")
    dense_rate: float = param(0.15, positive, "source modules above this rate stay dense")
    hbm_gbps: float = param(3350.0, positive, "memory bandwidth for the floors (H100 SXM)")
    matmul_tflops: float = param(645.0, positive, "bf16 matmul rate for the dense-matmul floor "
                                 "(measured on the H100: docs/lm.md)")
    budget_s: float = param(120.0, at_least(1.0), "stop measuring after this wall time")
    profile: bool = param(False, None, "trace one more call of each row and record its kernel "
                          "time by kernel name (jaxbrain.profiling.kernel_table)")


def _time(fn, repeats):
    """(first call s, median s of ``repeats`` more, the last result)."""
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    compile_s = time.perf_counter() - t0
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = jax.block_until_ready(fn())
        ts.append(time.perf_counter() - t0)
    return compile_s, float(np.median(ts)), res


def floors(spec: BrainSpec, model, caps, counts, cfg: Config) -> dict:
    """Work per token and the bandwidth / FLOP floors it implies (estimates, not measured).

    bytes: dense gather 2 per synaptic slot (the bf16 spike it reads; weights and indices
    are shared by the batch); event path 8 per list slot (4-byte weight gather, 4-byte
    scatter-add; padded slots counted, as the kernel visits them) plus 2 per dense-source
    slot; the neuron update reads and writes v, a, s, z (32 bytes per neuron and substep).
    Fused generation path: 1 byte per slot (the bool spike, as if never cached) and 18 per
    neuron and substep (v, a read and written; the spike written and read); packed: 1 bit
    per slot and per spike.
    Training: forward, recomputed forward, weight gradient and spike gradient, each like one
    forward pass (the spike gradient is always dense: the surrogate derivative is non-zero
    below threshold), and about 3 neuron updates."""
    S = spec.substeps
    dense_slots = spec.n_synapses
    plan = model.events
    deg = [int(p.shape[1]) for p in plan.pos]
    ev_slots = sum(c * d for c, d in zip(caps, deg))
    dense_src = sum(spec.size(d) * k for s, d, k in spec.projections()
                    if caps[MODULES.index(s)] == 0)
    fan = np.asarray([sum(k * spec.size(d) for s, d, k in spec.projections() if s == m)
                      / spec.size(m) for m in MODULES])
    events = float(np.sum(counts.mean(axis=(0, 1, 3)) * fan))      # per substep
    upd = 32 * spec.n
    bw = cfg.hbm_gbps * 1e9
    gen_dense = S * (2 * dense_slots + upd)
    gen_event = S * (8 * ev_slots + 2 * dense_src + upd)
    # fused: 1 byte per gathered spike (if none came from cache), v and a read and written,
    # spikes written and read (18 bytes per neuron and substep)
    gen_fused = S * (dense_slots + 18 * spec.n)
    gen_packed = S * (dense_slots / 8 + 16.25 * spec.n)      # 1 bit per slot and spike
    train_dense = S * (4 * 2 * dense_slots + 3 * upd)
    train_event = S * (2 * dense_slots + 3 * (8 * ev_slots + 2 * dense_src) + 3 * upd)
    # the 'sparse matrix times dense matrix' alternative: spikes (B, n_src) @ dense W blocks
    mm_flops = S * 2 * sum(spec.size(s) * spec.size(d) for s, d, k in spec.projections())
    return {"synaptic_ops_per_token": S * dense_slots,
            "spike_events_per_token": S * events,
            "event_slots_per_token": S * ev_slots, "dense_source_slots_per_token": S * dense_src,
            "max_out_degree": deg, "capacities": list(caps),
            "floor_gen_dense_tok_s": bw / gen_dense, "floor_gen_event_tok_s": bw / gen_event,
            "floor_gen_fused_tok_s": bw / gen_fused, "floor_gen_packed_tok_s": bw / gen_packed,
            "floor_gen_kernel_tok_s": bw / gen_fused,
            "floor_train_dense_tok_s": bw / train_dense,
            "floor_train_event_tok_s": bw / train_event,
            "floor_gen_matmul_tok_s": cfg.matmul_tflops * 1e12 / mm_flops,
            "dense_matmul_flops_per_token": mm_flops}


def run(cfg: Config, out: Path) -> dict:
    t_start = time.perf_counter()
    rows, infos = [], []
    dev = jax.devices()[0]
    for scale in cfg.scales:
        spec = BrainSpec.scale(scale, substeps=cfg.substeps)
        model = make_model(spec, cfg.vocab, cfg.compute_dtype)
        if not cfg.transposed_backward:
            model = model._replace(conn=model.conn._replace(out_pos=None, out_row=None))
        params = init_params(model, jax.random.key(0))
        tc = TrainConfig(scale=scale, substeps=cfg.substeps, steps=1000, lr=5e-3)
        opt, _ = make_optimizer(tc)
        ost = opt.init(params)
        rs = np.random.default_rng(0)
        # the activity the event lists must hold: every substep, module and column
        x = jnp.asarray(rs.integers(0, cfg.vocab, (cfg.probe_batch, cfg.seq_len)), jnp.int32)
        counts = measure_activity(model, params, x)                  # (T, S, 6, B)
        caps = event_capacities(counts, spec, cfg.headroom, cfg.dense_rate)
        ev_model = with_events(model, caps)
        capv = np.asarray([c if c else 1 << 30 for c in caps])
        overflow = float(np.mean(np.any(counts > capv[None, None, :, None], axis=(2, 3))))
        rates = counts.mean(axis=(0, 1, 3)) / np.asarray(spec.sizes)
        info = {"scale": scale, "neurons": spec.n, "synapses": spec.n_synapses,
                "params": param_count(params), "vocab": cfg.vocab, "substeps": spec.substeps,
                "decoder_flops_per_token": 2 * spec.out_dim * cfg.vocab,
                "rates": rates.round(4).tolist(),
                "peak_active": counts.max(axis=(0, 1, 3)).tolist(),
                "probe_overflow_fraction": overflow,
                **floors(spec, ev_model, caps, counts, cfg)}
        infos.append(info)
        print(info, flush=True)
        models = {"dense": model, "event": ev_model, "fused": with_fused(model),
                  "packed": with_fused(model, packed=True),
                  "kernel": with_fused(model, kernel=True)}
        if cfg.agree_batch and scale == cfg.scales[0]:
            # the same teacher-forced batch through each path's generation step
            xa, nll = x[:cfg.agree_batch], {}
            for path in cfg.paths:
                f = jax.jit(lambda p, x, m=models[path]: generation_nll(m, p, x[:, :-1], x[:, 1:]))
                nll[path] = float(jnp.mean(f(params, xa))) / (cfg.seq_len - 1)
            info["nll_per_token"] = nll
            print({"nll_per_token": nll}, flush=True)
        gen_toks = {}
        div = cfg.big_scale_divisor if scale == "4x" else 1
        jobs = [("train", b) for b in cfg.train_batches] + [("generate", b) for b in cfg.gen_batches]
        # large batches first (the targets), batch 1 after
        jobs.sort(key=lambda j: (j[1] == 1, j[0]))
        for mode, b in jobs:
            b = max(1, b // div) if b > 1 else 1
            for path in cfg.paths:
                if time.perf_counter() - t_start > cfg.budget_s:
                    break
                if mode == "train" and path not in ("dense", "event"):
                    continue                      # generation paths: training is unchanged
                m = models[path]
                row = {"scale": scale, "mode": mode, "batch": b, "path": path}
                try:
                    if mode == "train":
                        step = make_train_step(m, opt, remat=cfg.remat)
                        xs = jnp.asarray(rs.integers(0, cfg.vocab, (b, cfg.seq_len)), jnp.int32)
                        call = lambda: step(params, ost, xs, xs).loss  # noqa: E731
                        c, t, _ = _time(call, cfg.repeats)
                        n_tok = b * cfg.seq_len
                        if cfg.hlo:
                            _save_hlo(out, f"{scale}_{path}_train_b{b}",
                                      step.lower(params, ost, xs, xs).compile().as_text())
                    else:
                        prompts = jnp.asarray(np.random.default_rng(b).integers(
                            0, cfg.vocab, (b, 1)), jnp.int32)      # the same for every path
                        # generate_ids's own jitted function, compiled here so that its
                        # optimised HLO can be accounted
                        args = (params, prompts, jnp.ones((b,), jnp.int32), jax.random.key(1),
                                ALL_MODULATORS)
                        t0 = time.perf_counter()
                        exe = _compiled(m, cfg.gen_len, Sampling(temperature=1.0)).lower(
                            *args).compile()
                        c0 = time.perf_counter() - t0
                        call = lambda: exe(*args)  # noqa: E731
                        c, t, toks = _time(call, cfg.repeats)
                        c += c0
                        n_tok = b * cfg.gen_len
                        if cfg.hlo:
                            txt = exe.as_text()
                            _save_hlo(out, f"{scale}_{path}_b{b}", txt)
                            row["hlo"] = hlo_accounting(txt, b, cfg.gen_len)
                        toks = np.asarray(toks)
                        gen_toks[(b, path)] = toks
                        if (b, "dense") in gen_toks:
                            ref = gen_toks[(b, "dense")]
                            row["tokens_equal_dense"] = float(np.mean(toks == ref))
                            row["sequences_equal_dense"] = float(np.mean(np.all(toks == ref, 1)))
                    row.update(compile_s=c, step_s=t, tokens_per_s=n_tok / t)
                    if cfg.profile:
                        row["profile"] = kernel_table(call)
                    fl = info[f"floor_{'gen' if mode == 'generate' else 'train'}_{path}_tok_s"]
                    row["fraction_of_floor"] = row["tokens_per_s"] / fl
                except Exception as e:  # noqa: BLE001 - record OOM etc. and go on
                    row["error"] = str(e)[:300]
                rows.append(row)
                print(row, flush=True)
                _write(cfg, out, dev, infos, rows, t_start)   # partial results survive a kill
    return _write(cfg, out, dev, infos, rows, t_start, final=True)


def _save_hlo(out, name, txt):
    (Path(out) / "hlo").mkdir(parents=True, exist_ok=True)
    (Path(out) / "hlo" / f"{name}.txt.gz").write_bytes(gzip.compress(txt.encode()))


def _write(cfg, out, dev, infos, rows, t_start, final=False):
    # path / dense ratio per (scale, mode, batch)
    ratios = []
    for r in rows:
        if r["path"] != "dense" and "tokens_per_s" in r:
            d = [q for q in rows if q["path"] == "dense" and "tokens_per_s" in q and
                 (q["scale"], q["mode"], q["batch"]) == (r["scale"], r["mode"], r["batch"])]
            if d:
                ratios.append({"scale": r["scale"], "mode": r["mode"], "batch": r["batch"],
                               "path": r["path"], "dense_tok_s": d[0]["tokens_per_s"],
                               "tok_s": r["tokens_per_s"],
                               "speedup": r["tokens_per_s"] / d[0]["tokens_per_s"]})
    if final:
        print(f"{'scale':8} {'mode':9} {'batch':>5} {'path':6} {'tok/s':>10} {'x dense':>8} "
              f"{'floor':>6} {'compile s':>9} {'same tokens':>11} {'MB written/tok':>14}")
        for r in rows:
            if "tokens_per_s" not in r:
                print(r["scale"], r["mode"], r["batch"], r["path"], "error:", r.get("error"))
                continue
            sp = [q["speedup"] for q in ratios
                  if (q["scale"], q["mode"], q["batch"], q["path"]) ==
                  (r["scale"], r["mode"], r["batch"], r["path"])]
            hlo = r.get("hlo", {}).get("written_per_token")
            print(f"{r['scale']:8} {r['mode']:9} {r['batch']:5d} {r['path']:6} "
                  f"{r['tokens_per_s']:10.1f} {(sp[0] if sp else 1.0):8.2f} "
                  f"{r['fraction_of_floor']:6.3f} {r['compile_s']:9.1f} "
                  f"{r.get('tokens_equal_dense', float('nan')):11.3f} "
                  f"{(hlo or float('nan')) / 1e6:14.2f}", flush=True)
    res = {"complete": final, "device": dev.device_kind, "jax": jax.__version__, "substeps": cfg.substeps,
           "transposed_backward": cfg.transposed_backward, "remat": cfg.remat,
           "config": dataclasses.asdict(cfg), "scales": infos, "rows": rows, "speedups": ratios,
           "wall_s": time.perf_counter() - t_start}
    Path(out).mkdir(parents=True, exist_ok=True)
    write_json(Path(out) / "bench.json", res)
    return {"n_rows": len(rows), "device": dev.device_kind}


# --- HLO accounting -----------------------------------------------------------------------

_ELEM = {"pred": 1, "s8": 1, "u8": 1, "bf16": 2, "f16": 2, "s16": 2, "u16": 2, "f32": 4,
         "s32": 4, "u32": 4, "f64": 8, "s64": 8, "u64": 8}
_ARRAY = re.compile(r"\b(pred|bf16|[suf]\d+)\[([\d,]*)\]")
_INSTR = re.compile(r"^\s*(?:ROOT\s+)?%([\w.\-]+) = (.*)$")
_NO_KERNEL = {"parameter", "constant", "get-tuple-element", "tuple", "bitcast", "after-all",
              "opt-barrier", "partition-id", "replica-id"}
_RNG = re.compile(r"threefry|random_bits|_gumbel|_uniform")


def _nbytes(shape: str) -> int:
    return sum(_ELEM.get(t, 4) * math.prod(int(d) for d in dims.split(",") if d)
               for t, dims in _ARRAY.findall(shape))


def _close(text: str, start: int) -> int:
    """Index of the parenthesis closing the one at ``start``."""
    depth = 0
    for i in range(start, len(text)):
        depth += (text[i] == "(") - (text[i] == ")")
        if depth == 0:
            return i
    return len(text)


def _parse_hlo(text: str):
    """{computation: [instruction dicts]} and the entry computation's name."""
    comps, entry, cur = {}, None, None
    for line in text.splitlines():
        if not line.startswith(" ") and line.rstrip().endswith("{"):
            m = re.match(r"^(ENTRY\s+)?%([\w.\-]+)", line)
            if m:
                cur = comps.setdefault(m.group(2), [])
                entry = m.group(2) if m.group(1) else entry
            continue
        if line.startswith("}"):
            cur = None
            continue
        m = _INSTR.match(line) if cur is not None else None
        if not m:
            continue
        name, rest = m.groups()
        if rest.startswith("("):
            i = _close(rest, 0)
            shape, rem = rest[:i + 1], rest[i + 1:].lstrip()
        else:
            shape, _, rem = rest.partition(" ")
        om = re.match(r"([\w\-]+)\(", rem)
        if om:
            j = _close(rem, om.end() - 1)
            cur.append(dict(name=name, shape=shape, op=om.group(1), attrs=rem[j + 1:],
                            operands=re.findall(r"%([\w.\-]+)", rem[om.end():j])))
    return comps, entry


def hlo_accounting(text: str, batch: int, steps: int, branch: int = 0, top: int = 8) -> dict:
    """Kernels per step and bytes per token of an optimised HLO module (``as_text()`` of a
    compiled call that generates ``steps`` tokens for ``batch`` sequences).

    Every instruction that is not a parameter, constant, tuple or bitcast counts as one
    kernel, times the trip counts of the loops around it (``known_trip_count``); of a
    conditional only branch ``branch`` is counted (0: the event path's no-overflow branch).
    ``written``: bytes of the kernel's outputs; ``read``: bytes of its operands (an upper
    bound: a fusion that gathers from an operand reads only the gathered part, and an
    in-place scatter's operand is only partly touched). Kinds: the first of scatter, sort,
    gather, dot, reduce, copy found in the kernel (random-number kernels: ``rng``), else
    elementwise. Kernels are divided by ``steps``, bytes by ``batch * steps`` tokens."""
    tokens = batch * steps
    comps, entry = _parse_hlo(text)
    kernels = []

    def fused_ops(cname):
        ops = set()
        for ins in comps.get(cname, []):
            ops.add(ins["op"])
            for c in re.findall(r"calls=%([\w.\-]+)", ins["attrs"]):
                ops |= fused_ops(c)
        return ops

    def walk(cname, mult, rng):
        shapes = {}
        for ins in comps[cname]:
            shapes[ins["name"]] = ins["shape"]
            op, at = ins["op"], ins["attrs"]
            meta = re.search(r'op_name="([^"]*)"', at)
            where = meta.group(1) if meta else ""
            if op in _NO_KERNEL:
                continue
            if op == "while":
                trip = re.search(r'"known_trip_count":\{"n":"(\d+)"', at)
                walk(re.search(r"body=%([\w.\-]+)", at).group(1),
                     mult * (int(trip.group(1)) if trip else 1), rng or bool(_RNG.search(where)))
            elif op == "conditional":
                bm = re.search(r"branch_computations=\{([^}]*)\}", at)
                names = (re.findall(r"%([\w.\-]+)", bm.group(1)) if bm else
                         [re.search(rf"{k}_computation=%([\w.\-]+)", at).group(1)
                          for k in ("false", "true")])
                walk(names[min(branch, len(names) - 1)], mult, rng)
            elif op == "call":
                walk(re.search(r"to_apply=%([\w.\-]+)", at).group(1), mult, rng)
            else:
                cm = re.search(r"calls=%([\w.\-]+)", at)
                ops = fused_ops(cm.group(1)) - {"parameter"} if op == "fusion" and cm else {op}
                if op == "custom-call" and re.search(r"gemm|matmul|dot", at):
                    ops.add("dot")                           # cuBLAS / cuBLASLt calls
                kind = "rng" if rng or _RNG.search(where + at) else next(
                    (k for k in ("scatter", "sort", "gather", "dot", "reduce", "copy")
                     if k in ops), "elementwise")
                kernels.append(dict(kind=kind, op=op, shape=ins["shape"][:60], mult=mult,
                                    out=_nbytes(ins["shape"]),
                                    inp=sum(_nbytes(shapes.get(o, "")) for o in ins["operands"]),
                                    where="/".join(where.split("/")[-2:])))
    walk(entry, 1, False)
    kinds = collections.defaultdict(lambda: [0, 0.0, 0.0])
    for k in kernels:
        kinds[k["kind"]][0] += k["mult"]
        kinds[k["kind"]][1] += k["mult"] * k["out"] / tokens
        kinds[k["kind"]][2] += k["mult"] * k["inp"] / tokens
    ranked = sorted(kernels, key=lambda k: -k["mult"] * (k["out"] + k["inp"]))[:top]
    return {"kernels_per_step": sum(k["mult"] for k in kernels) / steps,
            "written_per_token": sum(k["mult"] * k["out"] for k in kernels) / tokens,
            "read_per_token": sum(k["mult"] * k["inp"] for k in kernels) / tokens,
            "by_kind": {c: {"kernels_per_step": v[0] / steps, "written": v[1], "read": v[2]}
                        for c, v in sorted(kinds.items(), key=lambda x: -x[1][1] - x[1][2])},
            "top": [{"where": k["where"], "op": k["op"], "shape": k["shape"],
                     "per_step": k["mult"] / steps,
                     "written": k["mult"] * k["out"] / tokens,
                     "read": k["mult"] * k["inp"] / tokens} for k in ranked]}
