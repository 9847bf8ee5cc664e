"""Throughput of the spiking LM: training and generation tokens/s at the seeds' three sizes,
batch 1 and large batches, with the work per token (decoder FLOPs, synaptic operations,
spike events) to compare against the hardware floor. Writes bench.json."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxbrain.config import at_least, one_of, param, positive
from jaxbrain.lm.generate import generate_ids
from jaxbrain.lm.model import batch_metrics, init_params, make_model, param_count
from jaxbrain.lm.modules import BrainSpec
from jaxbrain.lm.sampling import Sampling
from jaxbrain.lm.train import TrainConfig, make_optimizer, make_train_step
from jaxbrain.runs import write_json

__all__ = ["Config", "run"]


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


def run(cfg: Config, out: Path) -> dict:
    t_start = time.perf_counter()
    rows = []
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
        step = make_train_step(model, opt, remat=cfg.remat)
        rs = np.random.default_rng(0)
        # work per token: decoder, dense-gather synaptic ops, spike events at the initial rates
        x = jnp.asarray(rs.integers(0, cfg.vocab, (4, cfg.seq_len)), jnp.int32)
        _, _, rates = jax.jit(lambda p, a, b: batch_metrics(model, p, a, b, remat=False))(params, x, x)
        rates = np.asarray(rates)
        fan = np.asarray(spec.fanout, float)
        events = spec.substeps * float(np.sum(rates * np.asarray(spec.sizes) * fan))
        info = {"scale": scale, "neurons": spec.n, "synapses": spec.n_synapses,
                "params": param_count(params), "vocab": cfg.vocab, "substeps": spec.substeps,
                "decoder_flops_per_token": 2 * spec.out_dim * cfg.vocab,
                "synaptic_ops_per_token": spec.substeps * spec.n_synapses,
                "spike_events_per_token": events, "rates": rates.round(4).tolist()}
        print(info, flush=True)
        div = cfg.big_scale_divisor if scale == "4x" else 1
        for b in cfg.train_batches:
            if time.perf_counter() - t_start > cfg.budget_s:
                break
            b = max(1, b // div) if b > 1 else 1
            xs = jnp.asarray(rs.integers(0, cfg.vocab, (b, cfg.seq_len)), jnp.int32)
            try:
                c, t = _time(lambda: step(params, ost, xs, xs).loss, cfg.repeats)
                row = {**info, "mode": "train", "batch": b, "compile_s": c, "step_s": t,
                       "tokens_per_s": b * cfg.seq_len / t}
            except Exception as e:  # noqa: BLE001 - record OOM etc. and go on
                row = {**info, "mode": "train", "batch": b, "error": str(e)[:300]}
            rows.append(row)
            print({k: row.get(k) for k in ("scale", "mode", "batch", "compile_s", "step_s", "tokens_per_s", "error")}, flush=True)
        for b in cfg.gen_batches:
            if time.perf_counter() - t_start > cfg.budget_s:
                break
            b = max(1, b // div) if b > 1 else 1
            prompts = jnp.asarray(rs.integers(0, cfg.vocab, (b, 1)), jnp.int32)
            lengths = jnp.ones((b,), jnp.int32)
            try:
                c, t = _time(lambda: generate_ids(model, params, prompts, lengths, jax.random.key(1),
                                                  cfg.gen_len, Sampling(temperature=1.0)), cfg.repeats)
                row = {**info, "mode": "generate", "batch": b, "compile_s": c, "step_s": t,
                       "tokens_per_s": b * cfg.gen_len / t}
            except Exception as e:  # noqa: BLE001
                row = {**info, "mode": "generate", "batch": b, "error": str(e)[:300]}
            rows.append(row)
            print({k: row.get(k) for k in ("scale", "mode", "batch", "compile_s", "step_s", "tokens_per_s", "error")}, flush=True)
    res = {"device": dev.device_kind, "jax": jax.__version__, "substeps": cfg.substeps,
           "transposed_backward": cfg.transposed_backward, "remat": cfg.remat, "rows": rows}
    write_json(Path(out) / "bench.json", res)
    return {"n_rows": len(rows), "device": dev.device_kind}
