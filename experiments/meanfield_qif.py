"""Montbrio-Pazo-Roxin 2015 Fig. 2: a QIF network against its exact mean field.

A network of ``n`` QIF neurons with Lorentzian excitabilities (:mod:`jaxbrain.qif`) and the
MPR equations (:mod:`jaxbrain.meanfield`) receive the same input: I = 0, a step to I = 3,
and back to I = 0 (bistability: the network stays in the high state). Also draws the MPR
fixed points against I (closed form) and checks the reduced Wong-Wang fixed point.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jaxbrain.config import ConfigError, param, positive


@dataclass(frozen=True)
class Config:
    n: int = param(10_000, positive, "QIF neurons")
    dt: float = param(1e-3, positive, "time step, units of tau")
    t_on: float = param(10.0, positive, "step onset (I: 0 -> i_step), units of tau")
    t_off: float = param(30.0, positive, "step offset (I back to 0)")
    t_end: float = param(50.0, positive, "duration")
    i_step: float = param(3.0, None, "input during the step")
    v_peak: float = param(100.0, positive, "QIF peak / reset magnitude")

    def check(self):
        if not self.t_on < self.t_off < self.t_end:
            raise ConfigError(f"config keys 't_on' < 't_off' < 't_end' required, got "
                              f"{self.t_on}, {self.t_off}, {self.t_end}")


def run(cfg: Config, out: Path) -> dict:
    import time

    import jax
    import jax.numpy as jnp
    import matplotlib.pyplot as plt
    import numpy as np

    from jaxbrain.meanfield import MPRParams, WongWangParams, montbrio, mpr_fixed_points, ww_fixed_point
    from jaxbrain.qif import qif_init, qif_params, qif_simulate

    mf = MPRParams()
    n_steps = int(round(cfg.t_end / cfg.dt))
    t = (np.arange(n_steps) + 1) * cfg.dt
    I = np.where((t > cfg.t_on) & (t <= cfg.t_off), cfg.i_step, 0.0).astype(np.float32)
    qp = qif_params(cfg.n, mf, v_peak=cfg.v_peak)
    t0 = time.perf_counter()
    _, (r, v) = jax.jit(lambda s, I: qif_simulate(qp, s, I, cfg.dt))(qif_init(qp), jnp.asarray(I))
    r, v = np.asarray(r), np.asarray(v)
    wall = time.perf_counter() - t0

    def body(s, i):
        s, _ = montbrio.step(mf, s, i, cfg.dt)
        return s, (s.r, s.v)

    _, (rm, vm) = jax.lax.scan(body, montbrio.init(mf, (), r0=0.0, v0=-2.0), jnp.asarray(I))
    rm, vm = np.asarray(rm), np.asarray(vm)

    def window(x, a, b):
        return float(x[(t > a) & (t <= b)].mean())

    windows = {"I0_low": (cfg.t_on / 2, cfg.t_on), "Istep": ((cfg.t_on + cfg.t_off) / 2, cfg.t_off),
               "I0_high": ((cfg.t_off + cfg.t_end) / 2, cfg.t_end)}
    stats = {k: {"r_qif": window(r, a, b), "r_mpr": window(rm, a, b),
                 "v_qif": window(v, a, b), "v_mpr": window(vm, a, b)} for k, (a, b) in windows.items()}

    # figure: r(t), v(t) (0.05 tau bins for the network) and fixed points vs I
    k = max(1, int(round(0.05 / cfg.dt)))
    nb = n_steps // k
    tb = t[:nb * k].reshape(nb, k).mean(1)
    fig, ax = plt.subplots(3, 1, figsize=(8, 8), gridspec_kw={"height_ratios": [2, 2, 2]})
    ax[0].plot(tb, r[:nb * k].reshape(nb, k).mean(1), color="0.6", lw=1, label=f"QIF network, N={cfg.n}")
    ax[0].plot(t, rm, "k", lw=1, label="MPR mean field")
    ax[0].set_ylabel("rate r (1/tau)")
    ax[0].legend(fontsize=8)
    ax[0].set_title("Montbrio, Pazo & Roxin 2015: QIF network vs exact mean field")
    ax[1].plot(tb, v[:nb * k].reshape(nb, k).mean(1), color="0.6", lw=1)
    ax[1].plot(t, vm, "k", lw=1)
    ax[1].set_ylabel("mean potential v")
    ax[1].set_xlabel("time (tau)")
    Is = np.linspace(-2, 5, 141)
    for Ii in Is:
        for f in mpr_fixed_points(mf, float(Ii)):
            ax[2].plot(Ii, f["r"], ".", ms=3, color="k" if f["stable"] else "r")
    ax[2].set_xlabel("input I")
    ax[2].set_ylabel("fixed points r* (black stable, red unstable)")
    ax[2].set_yscale("log")
    fig.tight_layout()
    fig.savefig(out / "meanfield_qif.png", dpi=110)
    plt.close(fig)

    fp0 = mpr_fixed_points(mf, 0.0)
    fp3 = mpr_fixed_points(mf, cfg.i_step)
    return {
        "windows": stats,
        "mpr_fixed_points_I0": [{"r": f["r"], "v": f["v"], "stable": f["stable"]} for f in fp0],
        "mpr_fixed_points_Istep": [{"r": f["r"], "v": f["v"], "stable": f["stable"]} for f in fp3],
        "wong_wang_fixed_point": ww_fixed_point(WongWangParams()),
        "qif_wall_s": wall,
        "qif_neuron_steps_per_s": cfg.n * n_steps / wall,
    }
