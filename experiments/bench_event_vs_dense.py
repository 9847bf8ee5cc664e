"""Benchmark: event-driven vs dense vs segment_sum vs procedural propagation across activity.

    jaxbrain run bench_event_vs_dense [--set n=20000]

One projection (n -> n, fixed probability p), spike patterns with a given fraction of active
sources, 200 steps in one scan per point; reports microseconds per step, the speed-up of the
event-driven path over the dense one, the measured crossover activity, and what
``propagation.choose_impl`` would pick (its cost model's threshold).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxbrain import connectivity as cx
from jaxbrain import propagation as pg
from jaxbrain.config import param, positive, prob
from jaxbrain.delays import ring_init
from jaxbrain.runs import write_json


@dataclasses.dataclass(frozen=True)
class Config:
    n: int = param(4000, positive, "neurons (source and target)")
    p: float = param(0.02, prob, "connection probability")
    activities: tuple[float, ...] = param((0.001, 0.005, 0.01, 0.05, 0.1, 0.3, 1.0), prob,
                                          "fractions of sources active per step")
    impls: tuple[str, ...] = param(("dense", "segment_sum", "event", "procedural", "switch"),
                                   doc="implementations ('switch': per-step choice of event / segment_sum)")
    steps: int = param(200, positive, "steps per timing")


def _time_per_step(syn, spikes) -> float:
    """Synapses are an argument of the jitted scan (as in a network run), not constants that
    XLA could fold."""
    def body(ring, x, syn):
        t, s = x
        return pg.deliver(syn, s, ring, t), None

    f = jax.jit(lambda ring, syn, ts, sp: jax.lax.scan(lambda r, x: body(r, x, syn), ring, (ts, sp))[0])
    ring = ring_init(syn.conn.n_post, syn.max_delay)
    ts = jnp.arange(spikes.shape[0], dtype=jnp.int32)
    jax.block_until_ready(f(ring, syn, ts, spikes))
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        jax.block_until_ready(f(ring, syn, ts, spikes))
        best = min(best, time.perf_counter() - t0)
    return best / spikes.shape[0] * 1e6


def run(cfg: Config, out: Path) -> dict:
    conn = cx.fixed_prob(cfg.n, cfg.n, cfg.p, seed=0)
    rng = np.random.default_rng(0)
    rows = []
    for a in cfg.activities:
        spikes = jnp.asarray((rng.random((cfg.steps, cfg.n)) < a).astype(np.float32))
        rate_hz = a / 0.1e-3  # fraction per 0.1 ms step as a rate, for the event capacity
        row = {"activity": a, "auto_choice": pg.choose_impl(conn, rate_hz=rate_hz)}
        for impl in cfg.impls:
            row[impl] = _time_per_step(pg.build(conn, impl, rate_hz=rate_hz), spikes)
        row["event_speedup_vs_dense"] = row["dense"] / row["event"]
        rows.append(row)
        print(f"activity {a:6.3f}: " + "  ".join(f"{i} {row[i]:9.1f} us" for i in cfg.impls)
              + f"  event/dense speed-up {row['event_speedup_vs_dense']:6.2f}x  auto={row['auto_choice']}",
              flush=True)
    crossover = next((r["activity"] for r in rows if r["event"] > r["dense"]), None)
    result = {"device": jax.devices()[0].device_kind, "jax": jax.__version__, "n": cfg.n, "p": cfg.p,
              "rows": rows, "measured_crossover_activity": crossover}
    write_json(out / "bench_event_vs_dense.json", result)
    print(f"dense is faster than event-driven from activity {crossover} on (None: never in this range)")
    return {"measured_crossover_activity": crossover, "rows": rows}
