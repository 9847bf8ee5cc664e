"""Tile sweep of the LM's module-substep kernels (GPU): for target modules of a config, the
time of one substep's synaptic input by :func:`jaxbrain.lm.gather_kernel.slot_input`, of that
input plus the XLA adaptive-LIF update, of the XLA fused input (the baseline, in the same
run), and of :func:`~jaxbrain.lm.gather_kernel.alif_substep` for every tile (rows x batch
columns) and warp count. Random spikes at ``rate``; every kernel result is checked against
the XLA fused input. Prints a table, writes sweep.json. Picks the kernels' default tiles
(docs/lm.md)."""

from __future__ import annotations

import dataclasses
import itertools
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxbrain.config import one_of, param, positive, prob
from jaxbrain.lm.gather_kernel import alif_substep, slot_input
from jaxbrain.lm.modules import (MODULES, BrainSpec, alif_update, build_connectivity,
                                 fused_input, local_sources, projection_columns)
from jaxbrain.runs import write_json

__all__ = ["Config", "run"]


@dataclasses.dataclass(frozen=True)
class Config:
    scale: str = param("current", one_of("tiny", "small", "current", "4x"), "LM config")
    batch: int = param(1024, positive, "batch columns")
    modules: tuple[str, ...] = param(("wernicke", "pfc"), one_of(*MODULES[1:]),
                                     "target modules to time")
    rate: float = param(0.05, prob, "spike probability per neuron and column")
    block_n: tuple[int, ...] = param((16, 32, 64), positive, "tile rows to try")
    block_b: tuple[int, ...] = param((64, 128), positive, "tile batch columns to try")
    num_warps: tuple[int, ...] = param((2, 4, 8), positive, "warps per program to try")
    repeats: int = param(20, positive, "timed calls per measurement")


def _ms(f, args, repeats):
    jax.block_until_ready(f(*args))
    t = time.perf_counter()
    for _ in range(repeats):
        r = f(*args)
    jax.block_until_ready(r)
    return (time.perf_counter() - t) / repeats * 1e3


def _ms_in_place(f, wt, src, s, v, a, repeats):
    """Time ``f(wt, src, s, v, a) -> (v, a, spikes)`` with ``v``, ``a`` donated and carried
    from call to call, as the generation scan does (the kernel updates them in place)."""
    v, a, _ = f(wt, src, s, v, a)
    jax.block_until_ready(v)
    t = time.perf_counter()
    for _ in range(repeats):
        v, a, _ = f(wt, src, s, v, a)
    jax.block_until_ready(v)
    return (time.perf_counter() - t) / repeats * 1e3


def run(cfg: Config, out: Path) -> dict:
    if jax.default_backend() != "gpu":
        raise RuntimeError("lm_kernel_sweep times Triton kernels: it needs a GPU backend; "
                           f"this one is {jax.default_backend()!r}")
    spec = BrainSpec.scale(cfg.scale)
    src, cols = local_sources(spec, build_connectivity(spec)), projection_columns(spec)
    rng = np.random.default_rng(0)
    b = cfg.batch
    spikes = tuple(jnp.asarray(rng.random((n, b)) < cfg.rate) for n in spec.sizes)
    s8 = tuple(x.astype(jnp.int8) for x in spikes)
    rows = []
    for name in cfg.modules:
        t = MODULES.index(name)
        k, n = src[t].shape
        c = tuple(cols[t])
        wt = jnp.asarray(rng.normal(size=(k, n)) * 0.1, jnp.float32)
        v = jnp.asarray(rng.normal(size=(n, b)), jnp.float32)
        a = jnp.asarray(rng.random((n, b)), jnp.float32)
        bias = jnp.asarray(rng.normal(size=n), jnp.float32)
        g = jnp.ones((b,), jnp.float32)
        alpha, rho, beta0 = np.float32(0.9), np.float32(0.95), np.float32(1.7)

        def xla_input(wt, sr, s, t=t):
            return fused_input(spec, t, wt, sr, s)

        def kernel_input(wt, sr, s, c=c):
            return slot_input(c, wt, sr, s)

        def input_then_update(wt, sr, s, v, a, t=t, c=c):
            syn = slot_input(c, wt, sr, s)
            v, a, th = alif_update(alpha, rho, beta0 * g[None, :], v, a,
                                   s[t].astype(jnp.float32), g[None, :] * (syn + bias[:, None]))
            return v, a, ((v - th) / th >= 0).astype(jnp.int8)

        sr = src[t]          # an argument, not a constant folded into the program
        want = jax.jit(xla_input)(wt, sr, spikes)
        got = jax.jit(kernel_input)(wt, sr, s8)
        donated = dict(donate_argnums=(3, 4))
        row = {"module": name, "slots": k, "neurons": n, "batch": b,
               "input_agrees": bool(jnp.all(got == want)),
               "xla_fused_input_ms": _ms(jax.jit(xla_input), (wt, sr, spikes), cfg.repeats),
               "kernel_input_ms": _ms(jax.jit(kernel_input), (wt, sr, s8), cfg.repeats),
               "kernel_input_xla_update_ms": _ms_in_place(
                   jax.jit(input_then_update, **donated), wt, sr, s8, v + 0.0, a + 0.0,
                   cfg.repeats),
               "alif_substep_ms": {}}
        for bn, bb, nw in itertools.product(cfg.block_n, cfg.block_b, cfg.num_warps):
            f = jax.jit(lambda wt, sr, s, v, a, bn=bn, bb=bb, nw=nw, c=c, t=t: alif_substep(
                c, wt, sr, s, t, v, a, bias, g, g, alpha=float(alpha), rho=float(rho),
                beta0=float(beta0), block_n=bn, block_b=bb, num_warps=nw), **donated)
            row["alif_substep_ms"][f"{bn}x{bb}w{nw}"] = _ms_in_place(
                f, wt, sr, s8, v + 0.0, a + 0.0, cfg.repeats)
        best = min(row["alif_substep_ms"], key=row["alif_substep_ms"].get)
        row["alif_best"] = [best, row["alif_substep_ms"][best]]
        rows.append(row)
        print(f"{name:10s} K={k:4d} n={n:6d}  xla fused input {row['xla_fused_input_ms']:.3f} ms"
              f"  kernel input {row['kernel_input_ms']:.3f}  + xla update "
              f"{row['kernel_input_xla_update_ms']:.3f}  alif_substep best {best} "
              f"{row['alif_best'][1]:.3f} ms  agrees={row['input_agrees']}", flush=True)
    result = {"device": jax.devices()[0].device_kind, "jax": jax.__version__, "rows": rows}
    write_json(out / "sweep.json", result)
    return {"rows": [{k: r[k] for k in ("module", "kernel_input_ms", "alif_best")} for r in rows]}
