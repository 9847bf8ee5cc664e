"""Tsodyks-Markram short-term plasticity: release per spike of regular trains for a
depressing and a facilitating synapse, and the depressing steady state versus frequency
against the analytic ratio (1 - E) / (1 - (1 - U) E), E = exp(-T / tau_d)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxbrain.config import at_least, param, positive
from jaxbrain.plasticity import depressing, facilitating, steady_state_ratio, tsodyks_markram


@dataclasses.dataclass(frozen=True)
class Config:
    n_spikes: int = param(40, at_least(2), "spikes per train")
    train_rate: float = param(20.0, positive, "rate of the plotted trains, Hz")
    rates: tuple[float, ...] = param((1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 50.0, 70.0, 100.0), positive,
                                     "rates of the steady-state curve, Hz")
    steps_per_isi: int = param(20, at_least(1), "time steps per inter-spike interval")


def releases(params, rate, n_spikes, steps_per_isi):
    dt = 1000.0 / rate / steps_per_isi
    spikes = np.zeros(((n_spikes - 1) * steps_per_isi + 1, 1), np.float32)
    spikes[::steps_per_isi] = 1

    def body(s, x):
        r, s = tsodyks_markram.update(params, s, x, dt)
        return s, r[0]

    _, rel = jax.lax.scan(body, tsodyks_markram.init(params, 1), jnp.asarray(spikes))
    return np.asarray(rel)[::steps_per_isi]


def run(cfg: Config, out: Path) -> dict:
    dep, fac = depressing(), facilitating()
    rd = releases(dep, cfg.train_rate, cfg.n_spikes, cfg.steps_per_isi)
    rf = releases(fac, cfg.train_rate, cfg.n_spikes, cfg.steps_per_isi)
    ss = [float(releases(dep, r, 80, cfg.steps_per_isi)[-1] / dep.U) for r in cfg.rates]
    an = [float(steady_state_ratio(dep.U, dep.tau_d, 1000.0 / r)) for r in cfg.rates]

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    n = np.arange(1, cfg.n_spikes + 1)
    axes[0].plot(n, rd / rd[0], "o-", ms=3, label="depressing U=0.5, tau_d=800 ms")
    axes[0].plot(n, rf / rf[0], "s-", ms=3, label="facilitating U=0.03, tau_d=130, tau_f=530 ms")
    axes[0].set_xlabel(f"spike number ({cfg.train_rate:g} Hz train)")
    axes[0].set_ylabel("release / first release")
    axes[0].set_yscale("log")
    axes[0].legend(fontsize=8)
    axes[1].semilogx(cfg.rates, ss, "o", label="simulated (80th spike)")
    axes[1].semilogx(cfg.rates, an, "-", label="analytic (1-E)/(1-(1-U)E)")
    axes[1].set_xlabel("rate (Hz)")
    axes[1].set_ylabel("steady-state release / first release")
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(out / "stp_curves.png", dpi=120)
    plt.close(fig)
    return {"depressing_ratio_train": (rd / rd[0]).tolist(),
            "facilitating_ratio_train": (rf / rf[0]).tolist(),
            "facilitating_ratio_at_spike_20": float(rf[19] / rf[0]) if cfg.n_spikes >= 20 else None,
            "rates": list(cfg.rates), "steady_state_simulated": ss, "steady_state_analytic": an}
