"""Benchmark: one GPU kernel per step (jaxbrain.step_kernel) against the merged XLA step.

    jaxbrain run bench_step_kernel [--set 'scales=[1,100,1000]'] [--set 'relaxed=[true,false]']

Bare steps (no monitor but a spike count) of the scaled COBA network (fan-out 80) and of the
scaled Potjans-Diesmann microcircuit, microseconds per step after compilation, for the merged
form stepped by XLA (``fused.step`` in a scan: compaction and delivery kernels of
:mod:`jaxbrain.event_kernel`) and by :func:`jaxbrain.step_kernel.run`; with float atomic adds
lowered relaxed (as CUDA's atomicAdd, the default) or acquire-release (Pallas's own lowering).
GPU only.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import time
from pathlib import Path

import jax
import jax.numpy as jnp

from jaxbrain import event_kernel, fused, step_kernel
from jaxbrain.config import param, positive
from jaxbrain.models import potjans2014
from jaxbrain.models.coba_scaled import coba_scaled
from jaxbrain.runs import write_json


@dataclasses.dataclass(frozen=True)
class Config:
    scales: tuple[float, ...] = param((1.0, 10.0, 100.0, 1000.0), positive, "COBA sizes / 4,000 neurons")
    microcircuit_scales: tuple[float, ...] = param((), positive, "Potjans-Diesmann n_scaling values")
    relaxed: tuple[bool, ...] = param((True, False), None, "float atomic adds relaxed (True) / acq-rel")
    steps: int = param(2000, positive, "steps per timed call")
    block: int = param(0, None, "neurons per program of the step kernel (0: step_kernel.default_block)")
    tile: int = param(step_kernel.TILE, positive, "synapses per delivery tile of the step kernel")
    num_warps: int = param(4, positive, "warps per program")
    unroll: int = param(4, positive, "kernel launches per iteration of the step loop")


def _best_us(f, state, steps) -> tuple[float, jax.Array]:
    out = jax.block_until_ready(f(state))
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        out = jax.block_until_ready(f(state))
        best = min(best, time.perf_counter() - t0)
    return best / steps * 1e6, out


def run(cfg: Config, out: Path) -> dict:
    if jax.default_backend() != "gpu":
        raise ValueError("bench_step_kernel times GPU kernels; the backend here is " + jax.default_backend())
    cases = [("coba", s) for s in cfg.scales] + [("microcircuit", s) for s in cfg.microcircuit_scales]
    rows = []
    for (model, scale), relaxed in itertools.product(cases, cfg.relaxed):
        event_kernel.relax_float_atomic_adds(relaxed)
        jax.clear_caches()
        net, state = coba_scaled(scale, impl="event") if model == "coba" else \
            potjans2014.microcircuit(scale, impl="event")
        fnet = fused.fuse(net, 60.0 if model == "coba" else 5.0)
        fstate = fused.fuse_state(fnet, state)
        knet = step_kernel.prepare(fnet)

        def body(c, _, fnet):
            s, total = c
            s, spikes = fused.step(fnet, s)
            return (s, total + sum(x.sum() for x in spikes.values())), None

        # the networks are arguments, not closed over: closed-over tables become constants of
        # the compiled program (minutes of compilation at full scale)
        scan = jax.jit(lambda fnet, s: jax.lax.scan(functools.partial(body, fnet=fnet), (s, jnp.float32(0)), None,
                                                    length=cfg.steps)[0])
        kernel = lambda knet, s: step_kernel.run(knet, s, cfg.steps, block=cfg.block or None, tile=cfg.tile,
                                                 num_warps=cfg.num_warps, unroll=cfg.unroll)[:2]
        xla_us, (_, xla_spikes) = _best_us(functools.partial(scan, fnet), fstate, cfg.steps)
        kernel_us, (_, counts) = _best_us(functools.partial(kernel, knet), fstate, cfg.steps)
        row = {"model": model, "scale": scale, "n_neurons": fnet.n, "relaxed_atomics": relaxed,
               "merged_xla_us_per_step": xla_us, "step_kernel_us_per_step": kernel_us,
               "speedup": xla_us / kernel_us, "spikes_xla": float(xla_spikes), "spikes_kernel": int(counts.sum())}
        rows.append(row)
        print(f"{model:12s} n={fnet.n:>9,d} relaxed={relaxed!s:5s}  merged XLA {xla_us:8.2f} us/step  "
              f"step kernel {kernel_us:8.2f} us/step  ({row['speedup']:.2f}x)  spikes {row['spikes_xla']:.0f} / "
              f"{row['spikes_kernel']}", flush=True)
    event_kernel.relax_float_atomic_adds(True)
    result = {"device": jax.devices()[0].device_kind, "jax": jax.__version__, "date": time.strftime("%Y-%m-%d"),
              "config": dataclasses.asdict(cfg), "rows": rows}
    write_json(out / "bench_step_kernel.json", result)
    return {"rows": len(rows), "device": result["device"]}
