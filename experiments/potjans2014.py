"""Potjans & Diesmann 2014 microcircuit: per-population rates vs the reference table, ISI CV
and pairwise correlations (2 ms bins), raster and rate figures.

    jaxbrain run potjans2014                    # n_scaling = 0.1 (7,717 neurons)
    jaxbrain run potjans2014 --set n_scaling=1  # the full 77,169-neuron circuit (GPU)
    jaxbrain run potjans2014 --set n_scaling=1 --set kernel=true  # one GPU kernel per step
"""

from __future__ import annotations

import dataclasses
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from jaxbrain import analysis, fused, plotting, step_kernel  # noqa: E402
from jaxbrain import simulate as sim  # noqa: E402
from jaxbrain.config import in_range, nonnegative, one_of, param, positive  # noqa: E402
from jaxbrain.models import potjans2014 as pd  # noqa: E402
from jaxbrain.propagation import IMPLS  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Config:
    n_scaling: float = param(0.1, in_range(0.001, 1.0), "fraction of the full population sizes")
    warmup_ms: float = param(500.0, nonnegative, "discarded transient, ms")
    duration_ms: float = param(1000.0, positive, "recorded biological time, ms")
    seed: int = param(0, nonnegative, "seed")
    impl: str = param("auto", one_of("auto", *IMPLS), "propagation implementation")
    raster_neurons: int = param(100, positive, "recorded neurons per population")
    merged: bool = param(False, None, "simulate the merged form (jaxbrain.fused: a few kernels per step)")
    kernel: bool = param(False, None, "merged form stepped by jaxbrain.step_kernel (one GPU kernel per step)")


def run(cfg: Config, out) -> dict:
    t0 = time.perf_counter()
    net, state = pd.microcircuit(cfg.n_scaling, cfg.seed, impl=cfg.impl)
    if cfg.merged or cfg.kernel:
        net = fused.fuse(net, rate_hz=5.0)
        state = fused.fuse_state(net, state)
    knet = step_kernel.prepare(net) if cfg.kernel else None
    build_s = time.perf_counter() - t0
    m = {k: min(cfg.raster_neurons, p.n) for k, p in net.populations.items()}
    warm, steps = int(cfg.warmup_ms / net.dt), int(cfg.duration_ms / net.dt)
    if cfg.kernel:
        simulate = lambda s, n: step_kernel.simulate(knet, s, n, m, chunk_steps=1000)
    else:
        simulate = lambda s, n: sim.run(net, s, n, sim.Monitor(raster=m), chunk_steps=1000)
    state, _ = simulate(state, warm)  # compiles the timed program too
    t1 = time.perf_counter()
    state, rec = simulate(state, steps)
    run_s = time.perf_counter() - t1
    rates = sim.rates_hz(rec)
    metrics = {"n_neurons": int(sum(p.n for p in net.populations.values())), "build_s": build_s,
               "run_s_per_bio_s": run_s / (cfg.duration_ms * 1e-3), "populations": {}}
    for k in pd.POPULATIONS:
        cv = analysis.isi_cv(rec.raster[k], net.dt)
        cc = analysis.pairwise_correlations(rec.raster[k], net.dt)
        metrics["populations"][k] = {"rate_hz": rates[k], "reference_rate_hz": pd.REFERENCE_RATES_HZ[k],
                                     "isi_cv_mean": float(cv.mean()) if cv.size else None,
                                     "corr_mean": float(cc.mean()) if cc.size else None}
        print(f"{k:5s} {rates[k]:7.3f} Hz (reference {pd.REFERENCE_RATES_HZ[k]:.3f})  "
              f"CV {metrics['populations'][k]['isi_cv_mean']}")
    plotting.raster_and_rate(rec, out / "raster.png", title=f"Potjans-Diesmann microcircuit "
                             f"(n_scaling {cfg.n_scaling})", bin_ms=2.0)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    x = np.arange(8)
    ax.bar(x - 0.2, [rates[k] for k in pd.POPULATIONS], 0.4, label="jaxbrain")
    ax.bar(x + 0.2, [pd.REFERENCE_RATES_HZ[k] for k in pd.POPULATIONS], 0.4, label="reference (NEST)")
    ax.set_xticks(x, pd.POPULATIONS)
    ax.set_ylabel("rate (Hz)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "rates.png", dpi=110)
    plt.close(fig)
    return metrics
