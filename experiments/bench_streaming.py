"""Cost of streaming detailed regions through the device with an LRU pager.

A multiscale brain with ``n_regions`` detailed LIF regions (plus a few Wong-Wang units) is
run for ``n_exchanges`` exchange intervals (1) all on the device in one ``lax.scan`` and
(2) streamed by :func:`jaxbrain.multiscale.simulate_streamed` with ``capacity`` device slots
(host-memory store, and a disk store for the smallest capacity). Reports wall time per
exchange, regions paged, bytes and seconds moved each way, and checks the spike counts of
the streamed runs equal the in-memory run's.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from jaxbrain.config import at_least, one_of, param, positive


@dataclass(frozen=True)
class Config:
    n_regions: int = param(6, at_least(1), "detailed regions")
    n_exc: int = param(800, positive, "excitatory neurons per region")
    n_inh: int = param(200, positive, "inhibitory neurons per region")
    impl: str = param("event", one_of("dense", "event", "segment_sum"), "recurrent propagation")
    capacities: tuple[int, ...] = param((1, 2, 3, 6), at_least(1), "device slots to test")
    n_exchanges: int = param(20, at_least(2), "exchange intervals per run")
    t_ex: float = param(1.0, positive, "exchange interval, ms")
    disk: bool = param(True, None, "also test a disk store at the smallest capacity")
    seed: int = param(0, None, "seed")


def run(cfg: Config, out: Path) -> dict:
    import jax
    import matplotlib.pyplot as plt
    import numpy as np

    from jaxbrain import multiscale as ms
    from jaxbrain.streaming import tree_nbytes

    n_nodes = cfg.n_regions + 2
    W, D, _ = ms.synthetic_connectome(n_nodes, seed=cfg.seed)
    D = np.maximum(D, cfg.t_ex)                       # keep t_ex <= every delay
    levels = ["spiking"] * cfg.n_regions + ["wong_wang"] * 2
    spk = ms.SpikingRegionParams(n_exc=cfg.n_exc, n_inh=cfg.n_inh, impl=cfg.impl)
    brain = ms.build_brain(W, D, levels, spk=spk, t_ex=cfg.t_ex, seed=cfg.seed)
    st = ms.init_state(brain, jax.random.key(cfg.seed))
    n_ex = cfg.n_exchanges
    bio_s = n_ex * brain.t_ex * 1e-3

    ms.simulate(brain, st, n_ex)                      # compile
    t0 = time.perf_counter()
    _, ref = ms.simulate(brain, st, n_ex)
    jax.block_until_ready(ref)
    t_mem = time.perf_counter() - t0
    item = jax.tree.map(lambda x: np.asarray(x[0]), (st.spk, brain.spk_syn))
    region_bytes = tree_nbytes(item)

    warm = ms.make_pager(brain, st, capacity=cfg.n_regions)
    ms.simulate_streamed(brain, st, 2, warm)          # compile the streamed pieces
    rows = []
    runs = [(c, None) for c in cfg.capacities if c <= cfg.n_regions]
    if cfg.disk:
        runs.append((min(cfg.capacities), "disk"))
    for cap, store in runs:
        with tempfile.TemporaryDirectory() as tmp:
            pager = ms.make_pager(brain, st, capacity=cap, spill_dir=tmp if store else None)
            t0 = time.perf_counter()
            _, rec = ms.simulate_streamed(brain, st, n_ex, pager)
            jax.block_until_ready(rec)
            wall = time.perf_counter() - t0
        s = pager.stats
        rows.append({
            "capacity": cap, "store": store or "host_memory", "wall_s": wall,
            "ms_per_exchange": wall / n_ex * 1e3, "wall_s_per_bio_s": wall / bio_s,
            "slowdown_vs_in_memory": wall / t_mem,
            "misses": s.misses, "hits": s.hits, "evictions": s.evictions,
            "bytes_in": s.bytes_in, "bytes_out": s.bytes_out,
            "seconds_in": s.seconds_in, "seconds_out": s.seconds_out,
            "paging_fraction_of_wall": (s.seconds_in + s.seconds_out) / wall,
            "gb_per_s_in": s.bytes_in / s.seconds_in / 1e9 if s.seconds_in else None,
            "spikes_equal_in_memory": bool(np.array_equal(np.asarray(rec.spike_counts),
                                                          np.asarray(ref.spike_counts))),
        })

    fig, ax = plt.subplots(figsize=(6.5, 4))
    mem_rows = [r for r in rows if r["store"] == "host_memory"]
    ax.plot([r["capacity"] for r in mem_rows], [r["ms_per_exchange"] for r in mem_rows], "o-",
            label="streamed (host memory)")
    for r in rows:
        if r["store"] == "disk":
            ax.plot([r["capacity"]], [r["ms_per_exchange"]], "s", label="streamed (disk)")
    ax.axhline(t_mem / n_ex * 1e3, color="k", ls="--", label="all on device (lax.scan)")
    ax.set_xlabel(f"device slots (of {cfg.n_regions} detailed regions)")
    ax.set_ylabel("wall ms per exchange interval")
    ax.set_title(f"LRU paging of {cfg.n_regions} regions x {spk.n} neurons "
                 f"({region_bytes / 1e6:.1f} MB each), {jax.devices()[0].platform}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "bench_streaming.png", dpi=110)
    plt.close(fig)
    return {"region_bytes": region_bytes, "in_memory_wall_s": t_mem,
            "in_memory_ms_per_exchange": t_mem / n_ex * 1e3, "rows": rows,
            "all_spikes_equal": all(r["spikes_equal_in_memory"] for r in rows),
            "device": str(jax.devices()[0].device_kind)}
