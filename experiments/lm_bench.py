"""Throughput of the spiking LM: training and generation tokens/s at the seeds' sizes, batch 1
and large batches, for the dense gather and the event-driven propagation in the same run, with
the work per token (decoder FLOPs, synaptic operations, spike events, event-list slots) and
the hardware floors they imply. Writes bench.json.

The event path's capacities come from the activity measured on a teacher-forced batch of the
benchmark's own random tokens (``measure_activity`` -> ``event_capacities``); the fraction
of substeps of that batch that would overflow (and so run the dense fallback) is reported."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxbrain.config import at_least, one_of, param, positive
from jaxbrain.lm.generate import generate_ids
from jaxbrain.lm.model import (event_capacities, init_params, make_model, measure_activity,
                               param_count, with_events)
from jaxbrain.lm.modules import MODULES, BrainSpec
from jaxbrain.lm.sampling import Sampling
from jaxbrain.lm.train import TrainConfig, make_optimizer, make_train_step
from jaxbrain.runs import write_json

__all__ = ["Config", "run", "floors"]


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
    paths: tuple[str, ...] = param(("dense", "event"), None, "propagation paths to time: "
                                   "'dense' (gather over all slots), 'event' (active lists)")
    probe_batch: int = param(256, positive, "batch of the activity probe that sizes the lists")
    headroom: float = param(1.5, at_least(1.0), "capacity = headroom x peak count + 16")
    dense_rate: float = param(0.15, positive, "source modules above this rate stay dense")
    hbm_gbps: float = param(3350.0, positive, "memory bandwidth for the floors (H100 SXM)")
    matmul_tflops: float = param(645.0, positive, "bf16 matmul rate for the dense-matmul floor "
                                 "(measured on the H100: docs/lm.md)")
    budget_s: float = param(120.0, at_least(1.0), "stop measuring after this wall time")


def _time(fn, repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    compile_s = time.perf_counter() - t0
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        ts.append(time.perf_counter() - t0)
    return compile_s, float(np.median(ts))


def floors(spec: BrainSpec, model, caps, counts, cfg: Config) -> dict:
    """Work per token and the bandwidth / FLOP floors it implies (estimates, not measured).

    bytes: dense gather 2 per synaptic slot (the bf16 spike it reads; weights and indices
    are shared by the batch); event path 8 per list slot (4-byte weight gather, 4-byte
    scatter-add; padded slots counted, as the kernel visits them) plus 2 per dense-source
    slot; the neuron update reads and writes v, a, s, z (32 bytes per neuron and substep).
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
    train_dense = S * (4 * 2 * dense_slots + 3 * upd)
    train_event = S * (2 * dense_slots + 3 * (8 * ev_slots + 2 * dense_src) + 3 * upd)
    # the 'sparse matrix times dense matrix' alternative: spikes (B, n_src) @ dense W blocks
    mm_flops = S * 2 * sum(spec.size(s) * spec.size(d) for s, d, k in spec.projections())
    return {"synaptic_ops_per_token": S * dense_slots,
            "spike_events_per_token": S * events,
            "event_slots_per_token": S * ev_slots, "dense_source_slots_per_token": S * dense_src,
            "max_out_degree": deg, "capacities": list(caps),
            "floor_gen_dense_tok_s": bw / gen_dense, "floor_gen_event_tok_s": bw / gen_event,
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
        models = {"dense": model, "event": ev_model}
        div = cfg.big_scale_divisor if scale == "4x" else 1
        jobs = [("train", b) for b in cfg.train_batches] + [("generate", b) for b in cfg.gen_batches]
        # large batches first (the targets), batch 1 after
        jobs.sort(key=lambda j: (j[1] == 1, j[0]))
        for mode, b in jobs:
            b = max(1, b // div) if b > 1 else 1
            for path in cfg.paths:
                if time.perf_counter() - t_start > cfg.budget_s:
                    break
                m = models[path]
                row = {"scale": scale, "mode": mode, "batch": b, "path": path}
                try:
                    if mode == "train":
                        step = make_train_step(m, opt, remat=cfg.remat)
                        xs = jnp.asarray(rs.integers(0, cfg.vocab, (b, cfg.seq_len)), jnp.int32)
                        c, t = _time(lambda: step(params, ost, xs, xs).loss, cfg.repeats)
                        n_tok = b * cfg.seq_len
                    else:
                        prompts = jnp.asarray(rs.integers(0, cfg.vocab, (b, 1)), jnp.int32)
                        lengths = jnp.ones((b,), jnp.int32)
                        c, t = _time(lambda: generate_ids(m, params, prompts, lengths,
                                                          jax.random.key(1), cfg.gen_len,
                                                          Sampling(temperature=1.0)), cfg.repeats)
                        n_tok = b * cfg.gen_len
                    row.update(compile_s=c, step_s=t, tokens_per_s=n_tok / t)
                    fl = info[f"floor_{'gen' if mode == 'generate' else 'train'}_{path}_tok_s"]
                    row["fraction_of_floor"] = row["tokens_per_s"] / fl
                except Exception as e:  # noqa: BLE001 - record OOM etc. and go on
                    row["error"] = str(e)[:300]
                rows.append(row)
                print(row, flush=True)
                _write(cfg, out, dev, infos, rows, t_start)   # partial results survive a kill
    return _write(cfg, out, dev, infos, rows, t_start, final=True)


def _write(cfg, out, dev, infos, rows, t_start, final=False):
    # event / dense ratio per (scale, mode, batch)
    ratios = []
    for r in rows:
        if r["path"] == "event" and "tokens_per_s" in r:
            d = [q for q in rows if q["path"] == "dense" and "tokens_per_s" in q and
                 (q["scale"], q["mode"], q["batch"]) == (r["scale"], r["mode"], r["batch"])]
            if d:
                ratios.append({"scale": r["scale"], "mode": r["mode"], "batch": r["batch"],
                               "dense_tok_s": d[0]["tokens_per_s"],
                               "event_tok_s": r["tokens_per_s"],
                               "speedup": r["tokens_per_s"] / d[0]["tokens_per_s"]})
    if final:
        for q in ratios:
            print(q, flush=True)
    res = {"complete": final, "device": dev.device_kind, "jax": jax.__version__, "substeps": cfg.substeps,
           "transposed_backward": cfg.transposed_backward, "remat": cfg.remat,
           "config": dataclasses.asdict(cfg), "scales": infos, "rows": rows, "speedups": ratios,
           "wall_s": time.perf_counter() - t_start}
    Path(out).mkdir(parents=True, exist_ok=True)
    write_json(Path(out) / "bench.json", res)
    return {"n_rows": len(rows), "device": dev.device_kind}
