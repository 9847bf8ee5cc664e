"""Throughput of the Diehl & Cook network: training images/s (sequential, networks vmapped)
and frozen-inference images/s, for the scan dynamics at a few unroll factors and for the
one-kernel-per-presentation dynamics (GPU), side by side in one run. Times exclude
compilation (the first call of each shape is run once before timing)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxbrain.config import at_least, param


@dataclasses.dataclass(frozen=True)
class Config:
    n_e: int = param(400, at_least(1), "excitatory neurons")
    n_nets: tuple[int, ...] = param((1, 5), None, "networks trained side by side (vmap)")
    unrolls: tuple[int, ...] = param((1, 4), None, "lax.scan unroll factors to compare")
    kernel: bool = param(True, None, "also time the kernel dynamics (needs a GPU)")
    chunk: int = param(100, at_least(1), "images per timed training call")
    infer_batch: int = param(1000, at_least(1), "images per timed inference call")


def run(cfg: Config, out: Path) -> dict:
    from jaxbrain.datasets.mnist import load_mnist
    from jaxbrain.models import diehl_cook as dc

    x, _ = load_mnist("train", n=max(2 * cfg.chunk, cfg.infer_batch))
    res = {}
    variants = [(f"unroll{u}", dict(unroll=u)) for u in cfg.unrolls]
    if cfg.kernel:
        variants.append(("kernel", dict(dynamics="kernel")))
    for name, kw in variants:
        p = dc.DCParams(n_e=cfg.n_e, **kw)
        for m in cfg.n_nets:
            seeds = jnp.arange(m, dtype=jnp.uint32)
            st = jax.vmap(lambda s: dc.init(p, s))(seeds)
            f = jax.jit(jax.vmap(lambda s, sd, im, ids: dc.train_chunk(p, s, im, ids, sd)[0],
                                 in_axes=(0, 0, None, None)))
            im = jnp.asarray(x[:cfg.chunk])
            ids = jnp.arange(cfg.chunk, dtype=jnp.uint32)
            t0 = time.perf_counter()
            st = jax.block_until_ready(f(st, seeds, im, ids))
            tc = time.perf_counter() - t0
            t0 = time.perf_counter()
            st = jax.block_until_ready(f(st, seeds, jnp.asarray(x[cfg.chunk:2 * cfg.chunk]), ids + cfg.chunk))
            t = time.perf_counter() - t0
            res[f"train_{name}_nets{m}"] = {"images_per_s": cfg.chunk / t, "compile_s": tc - t}
            print(res[f"train_{name}_nets{m}"], f"{name} nets {m}", flush=True)
        st1 = dc.init(p, 0)
        g = jax.jit(lambda im, ids: dc.respond(p, st1, im, ids, 0, 1))
        im = jnp.asarray(x[:cfg.infer_batch])
        ids = jnp.arange(cfg.infer_batch, dtype=jnp.uint32)
        jax.block_until_ready(g(im, ids))
        t0 = time.perf_counter()
        jax.block_until_ready(g(im, ids + 5000))
        t = time.perf_counter() - t0
        res[f"infer_{name}"] = {"images_per_s": cfg.infer_batch / t}
        print(res[f"infer_{name}"], flush=True)
    base = variants[0][0]
    print(f"{'variant':<12}{'networks':>9}{'train img/s':>13}{'x ' + base:>12}")
    for name, _ in variants:
        for m in cfg.n_nets:
            r = res[f"train_{name}_nets{m}"]
            r["ratio_to_" + base] = r["images_per_s"] / res[f"train_{base}_nets{m}"]["images_per_s"]
            print(f"{name:<12}{m:>9}{r['images_per_s']:>13.1f}{r['ratio_to_' + base]:>12.2f}")
        r = res[f"infer_{name}"]
        r["ratio_to_" + base] = r["images_per_s"] / res[f"infer_{base}"]["images_per_s"]
        print(f"{name:<12}{'infer':>9}{r['images_per_s']:>13.1f}{r['ratio_to_' + base]:>12.2f}")
    return res
