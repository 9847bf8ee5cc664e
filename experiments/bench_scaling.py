"""Weak and strong scaling of the sharded spiking engine, with a model that extrapolates.

An E/I LIF network (procedural fixed-probability synapses, Poisson drive) is sharded over
1, 2, 4, ... devices with :mod:`jaxbrain.sharding`: weak scaling keeps ``n_per_device``
neurons per device, strong scaling keeps ``n_total``. Per run: wall time per step, spikes
and synaptic events per step, bytes each device receives per step (bitmask and compact
indices). A cost model

    t_step(D) = t0 + c_n * n / D + c_e * events / D + t_comm(D),
    t_comm(D) = alpha * ceil(log2 D) + (D - 1) / D * bytes / beta   (tree/ring all-gather)

is fitted on the 1-device runs (t0, c_n, c_e by non-negative least squares) and projected to 8, 64 and
1,000 devices with link parameters (alpha, beta) from the config: the defaults are
*assumptions* (NVLink inside an 8-GPU node, InfiniBand across nodes), not measurements.
On forced CPU devices all "devices" share the host's cores, so the measured multi-device
times show the overhead of the sharded program, not a speed-up.

Run with forced CPU devices:  XLA_FLAGS=--xla_force_host_platform_device_count=8 \\
    jaxbrain run configs/multiscale_scaling.toml
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from jaxbrain.config import at_least, one_of, param, positive


@dataclass(frozen=True)
class Config:
    devices: tuple[int, ...] = param((1, 2, 4, 8), at_least(1), "device counts to run")
    n_per_device: int = param(4096, positive, "weak scaling: neurons per device")
    n_total: int = param(16384, positive, "strong scaling: neurons in total")
    k_in: int = param(100, positive, "excitatory in-degree (fixed_prob with p = k_in / n_exc; "
                                      "inhibitory in-degree k_in / 4), the same at every size")
    n_steps: int = param(200, at_least(10), "timed steps per run")
    exchange: str = param("bitmask", one_of("bitmask", "indices"), "spike exchange")
    rate_hz: float = param(8.0, positive, "Poisson drive rate per source, Hz (100 sources)")
    fit_sizes: tuple[int, ...] = param((2048, 8192, 32768), positive, "1-device sizes for the fit")
    alpha_intra_us: float = param(15.0, positive, "assumed all-gather latency per hop in a node, us")
    beta_intra_gbs: float = param(300.0, positive, "assumed NVLink bandwidth per GPU, GB/s")
    alpha_inter_us: float = param(25.0, positive, "assumed latency per hop across nodes, us")
    beta_inter_gbs: float = param(40.0, positive, "assumed InfiniBand bandwidth per GPU, GB/s")
    gpu_events_per_s: float = param(2e9, positive, "assumed synaptic events/s of one GPU "
                                                    "(for the GPU projection; measure and set)")
    gpu_neuron_steps_per_s: float = param(2e10, positive, "assumed neuron updates/s of one GPU")
    gpu_step_overhead_us: float = param(30.0, positive, "assumed fixed cost per step on a GPU, us")


def _network(n, k_in, rate):
    import jax

    from jaxbrain import connectivity as cx
    from jaxbrain import network as nw
    from jaxbrain import neurons as nm
    from jaxbrain import propagation as pg

    n_e, n_i = n * 4 // 5, n // 5
    p_conn = min(1.0, k_in / n_e)
    w = cx.WeightLaw("constant", 20.0)
    par = nm.LIFParams()
    with jax.numpy_rank_promotion("allow"):
        projs = {
            "E": nw.Projection("E", "E", pg.build(cx.fixed_prob(n_e, n_e, p_conn, seed=1, weight=w,
                                                                delay=cx.DelayLaw("constant", 1.5)),
                                                  "procedural", rate_hz=20.0)),
            "EI": nw.Projection("E", "I", pg.build(cx.fixed_prob(n_e, n_i, p_conn, seed=2, weight=w,
                                                                 delay=cx.DelayLaw("constant", 1.5)),
                                                   "procedural", rate_hz=20.0)),
            "IE": nw.Projection("I", "E", pg.build(cx.fixed_prob(n_i, n_e, p_conn, seed=3,
                                                                 weight=cx.WeightLaw("constant", -80.0),
                                                                 delay=cx.DelayLaw("constant", 1.5)),
                                                   "procedural", rate_hz=20.0), receptor="in"),
        }
    drive = nw.PoissonDrive(rate, 100, 50.0)
    pops = {"E": nw.Population(n_e, nm.lif_current, par, drive=drive),
            "I": nw.Population(n_i, nm.lif_current, par, drive=drive)}
    return nw.network(pops, projs, seed=0)


def _time_run(n, D, cfg):
    import jax
    import numpy as np

    from jaxbrain import network as nw
    from jaxbrain import sharding as sh

    net = _network(n, cfg.k_in, cfg.rate_hz)
    snet = sh.shard_network(net, D, exchange=cfg.exchange)
    mesh = sh.make_mesh(D)
    r = np.random.default_rng(0)
    st = nw.init_state(net, v0={k: r.uniform(-70.0, -55.0, p.n).astype(np.float32)
                                for k, p in net.populations.items()})
    end, rec = sh.simulate(snet, mesh, st, cfg.n_steps)          # compile + warm-up
    jax.block_until_ready(rec)
    t0 = time.perf_counter()
    end, rec = sh.simulate(snet, mesh, end, cfg.n_steps)
    jax.block_until_ready(rec)
    wall = time.perf_counter() - t0
    counts = {k: float(np.asarray(v).mean()) for k, v in rec.counts.items()}
    n_e = net.populations["E"].n
    n_i = net.populations["I"].n
    out = {k: pr.synapses.conn.mean_out for k, pr in net.projections.items()}
    events = counts["E"] * (out["E"] + out["EI"]) + counts["I"] * out["IE"]
    events += (n_e + n_i) * 100 * cfg.rate_hz * net.dt * 1e-3        # Poisson input events
    b = sh.exchange_bytes_per_step(snet, counts)
    return {"n": n, "devices": D, "ms_per_step": wall / cfg.n_steps * 1e3,
            "spikes_per_step": counts["E"] + counts["I"],
            "rate_hz": (counts["E"] + counts["I"]) / n / (net.dt * 1e-3),
            "synaptic_events_per_step": events, "bytes_per_step_per_device": b["total"],
            "bytes_useful_indices": sum(v for k, v in b.items() if k.endswith(":useful_indices")),
            "compile_note": "timed after a warm-up run (compile excluded)"}


def run(cfg: Config, out: Path) -> dict:
    import jax
    import matplotlib.pyplot as plt
    import numpy as np

    avail = len(jax.devices())
    devices = [d for d in cfg.devices if d <= avail]
    skipped = [d for d in cfg.devices if d > avail]
    unit = 5 * 8                                                      # E/I split and bitmask
    weak, strong = [], []
    for D in devices:
        weak.append(_time_run(int(math.ceil(cfg.n_per_device * D / (unit * D))) * unit * D, D, cfg))
        strong.append(_time_run(int(math.ceil(cfg.n_total / (unit * D))) * unit * D, D, cfg))
    fit_runs = [_time_run(int(math.ceil(n / unit)) * unit, 1, cfg) for n in cfg.fit_sizes]

    # fit t = t0 + c_n n + c_e events on the 1-device runs
    A = np.array([[1.0, r["n"], r["synaptic_events_per_step"]] for r in fit_runs])
    y = np.array([r["ms_per_step"] * 1e-3 for r in fit_runs])
    from scipy.optimize import nnls          # costs cannot be negative (noisy timings)
    coef, _ = nnls(A, y)
    t0, c_n, c_e = (float(c) for c in coef)

    def comm(D, n, intra_alpha, intra_beta, inter_alpha, inter_beta):
        if D == 1:
            return 0.0
        bytes_ = n / 8 * (D - 1) / D
        hops = math.ceil(math.log2(D))
        if D <= 8:
            return hops * intra_alpha + bytes_ / intra_beta
        return (3 * intra_alpha + (hops - 3) * inter_alpha + bytes_ / inter_beta)

    def predict(D, n, events, t0_, cn, ce):
        return t0_ + cn * n / D + ce * events / D + comm(
            D, n, cfg.alpha_intra_us * 1e-6, cfg.beta_intra_gbs * 1e9,
            cfg.alpha_inter_us * 1e-6, cfg.beta_inter_gbs * 1e9)

    rate = float(np.mean([r["rate_hz"] for r in fit_runs]))
    projection = []
    for D in (1, 8, 64, 1000):
        for mode, n in (("weak", cfg.n_per_device * D), ("strong", cfg.n_total)):
            # per neuron and step: recurrent (out-degree ~ 1.25 k_in) + Poisson drive events
            ev_per_neuron = rate * 0.1e-3 * 1.25 * cfg.k_in + 100 * cfg.rate_hz * 0.1e-3
            events = ev_per_neuron * n
            t_cpu = predict(D, n, events, t0, c_n, c_e)
            t_gpu = predict(D, n, events, cfg.gpu_step_overhead_us * 1e-6,
                            1.0 / cfg.gpu_neuron_steps_per_s, 1.0 / cfg.gpu_events_per_s)
            projection.append({"mode": mode, "devices": D, "n": n, "events_per_step": events,
                               "bytes_per_step_per_device": n / 8 * (D - 1) / D,
                               "t_step_ms_cpu_fit": t_cpu * 1e3, "t_step_ms_gpu_assumed": t_gpu * 1e3,
                               "comm_ms": comm(D, n, cfg.alpha_intra_us * 1e-6, cfg.beta_intra_gbs * 1e9,
                                               cfg.alpha_inter_us * 1e-6, cfg.beta_inter_gbs * 1e9) * 1e3,
                               "realtime_factor_gpu": 0.1e-3 / t_gpu})

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    ax[0].plot([r["devices"] for r in weak], [r["ms_per_step"] for r in weak], "o-", label="weak (measured)")
    ax[0].plot([r["devices"] for r in strong], [r["ms_per_step"] for r in strong], "s-", label="strong (measured)")
    ax[0].set_xscale("log", base=2)
    ax[0].set_xlabel(f"devices ({jax.devices()[0].platform})")
    ax[0].set_ylabel("ms per step (0.1 ms)")
    ax[0].legend(fontsize=8)
    ax[0].set_title(f"measured: {cfg.n_per_device}/device, {cfg.n_total} total", fontsize=9)
    for mode, mk in (("weak", "o-"), ("strong", "s-")):
        rows = [r for r in projection if r["mode"] == mode]
        ax[1].plot([r["devices"] for r in rows], [r["t_step_ms_gpu_assumed"] for r in rows], mk, label=f"{mode}: model")
        ax[1].plot([r["devices"] for r in rows], [r["comm_ms"] for r in rows], mk.replace("-", ":"), alpha=0.5,
                   label=f"{mode}: spike exchange part")
    ax[1].set_xscale("log")
    ax[1].set_yscale("log")
    ax[1].set_xlabel("GPUs (model, assumed link and GPU parameters)")
    ax[1].set_ylabel("ms per step")
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "bench_scaling.png", dpi=110)
    plt.close(fig)
    return {"weak": weak, "strong": strong, "fit_runs": fit_runs, "devices_skipped": skipped,
            "fit": {"t0_s": t0, "s_per_neuron_step": c_n, "s_per_event": c_e},
            "projection": projection, "platform": jax.devices()[0].platform,
            "note": "forced CPU devices share the host cores: multi-device CPU times measure "
                    "the sharded program's overhead, not a speed-up; GPU projections use the "
                    "assumed parameters in the config"}
