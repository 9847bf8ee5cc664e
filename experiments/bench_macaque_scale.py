"""Benchmark: a procedural network the size of the macaque multi-area model on one GPU.

    jaxbrain run bench_macaque_scale [--set scale=0.01]

4.13M LIF neurons (80 % excitatory) and 24.2B synapses (each pair connected with probability
epsilon = 5,860 / 4.13M, so ~5,860 inputs per neuron), delta synapses, normal delays
1.5 +- 0.5 ms, Brunel's (2000) balanced regime (g = 5, J CE = 100 mV as in Brunel's network,
external drive eta = 1.1: ~10 Hz asynchronous-irregular at small scale). The synapses are
never stored: every step regenerates the rows of the neurons that spiked from the
counter-based RNG inside the event kernel. Reports wall time per biological second (after
compilation), rate, synaptic events per second and peak device memory. GeNN needs 7.7 min
per biological second for the multi-area model on a Titan RTX (REFERENCE.md); the rates of
that model differ, so events per second is the comparable figure.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax

from jaxbrain import simulate as sim
from jaxbrain.config import in_range, param, positive
from jaxbrain.models.brunel2000 import brunel
from jaxbrain.runs import write_json

N_FULL, SYN_PER_NEURON = 4_130_000, 5_860


@dataclasses.dataclass(frozen=True)
class Config:
    scale: float = param(1.0, in_range(1e-4, 1.0), "fraction of the 4.13M neurons (in-degree kept)")
    eta: float = param(1.1, positive, "external drive / threshold drive")
    warmup_ms: float = param(50.0, positive, "untimed transient (includes compilation), ms")
    duration_ms: float = param(100.0, positive, "timed biological time, ms")
    seed: int = param(0, None, "seed")


def run(cfg: Config, out: Path) -> dict:
    n = int(N_FULL * cfg.scale)
    n_exc, n_inh = int(0.8 * n), n - int(0.8 * n)
    epsilon = min(1.0, SYN_PER_NEURON / n)
    ce = int(epsilon * n_exc)
    t0 = time.perf_counter()
    net, state = brunel(n_exc, n_inh, epsilon=epsilon, j_mv=100.0 / ce, eta=cfg.eta, kind="fixed_prob",
                        delay_std_ms=0.5, seed=cfg.seed, impl="procedural")
    build_s = time.perf_counter() - t0
    warm, steps = int(cfg.warmup_ms / net.dt), int(cfg.duration_ms / net.dt)
    t1 = time.perf_counter()
    state, _ = sim.run(net, state, warm, chunk_steps=warm, progress=False)
    first_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    state, rec = sim.run(net, state, steps, chunk_steps=warm, progress=False)
    wall = time.perf_counter() - t2
    spikes = float(sum(rec.counts[k].sum() for k in rec.counts))
    n_syn = n * epsilon * n  # expected synapses
    per_bio_s = wall / (cfg.duration_ms * 1e-3)
    stats = jax.devices()[0].memory_stats() or {}
    result = {"device": jax.devices()[0].device_kind, "jax": jax.__version__, "date": time.strftime("%Y-%m-%d"),
              "n_neurons": n, "synapses_expected": n_syn, "in_degree": epsilon * n,
              "rates_hz": sim.rates_hz(rec), "build_s": build_s, "compile_and_warmup_s": first_s,
              "wall_s_per_bio_s": per_bio_s, "syn_events_per_s": spikes * epsilon * n / wall,
              "peak_bytes": stats.get("peak_bytes_in_use"), "genn_titan_rtx_s_per_bio_s": 7.7 * 60}
    print(f"n={n:,} synapses {n_syn:.3g}  rates {result['rates_hz']}  {per_bio_s:.2f} s per bio-s  "
          f"{result['syn_events_per_s']:.3g} ev/s  peak {result['peak_bytes'] or 0:,} B", flush=True)
    write_json(out / "bench_macaque_scale.json", result)
    return result
