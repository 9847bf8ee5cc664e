"""Pairing-frequency experiment (Sjostrom et al. 2001; Pfister & Gerstner 2006 Fig. 4A):
weight change after ``n_pairs`` pre/post pairings at +-``delta_t`` ms versus the pairing
frequency, for the triplet rule (a published parameter set) and a pair rule. All protocols
run at once (vmap over padded spike trains)."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxbrain.config import at_least, one_of, param, positive
from jaxbrain.plasticity import (TRIPLET_SETS, PairSTDPParams, pair_stdp, pairing_protocol,
                                 run_rule, triplet_params, triplet_stdp)


@dataclasses.dataclass(frozen=True)
class Config:
    parameter_set: str = param("visual_all_to_all", one_of(*TRIPLET_SETS), "triplet parameter set")
    n_pairs: int = param(60, at_least(1), "pairings per protocol")
    delta_t: float = param(10.0, positive, "pre/post offset, ms (run at +delta_t and -delta_t)")
    rhos: tuple[float, ...] = param((1.0, 2.0, 5.0, 10.0, 20.0, 25.0, 40.0, 50.0), positive,
                                    "pairing frequencies, Hz")
    dt: float = param(1.0, positive, "time step, ms")
    pair_a_plus: float = param(5e-3, positive, "pair rule A+ (Song et al. 2000)")
    pair_a_minus: float = param(5.25e-3, positive, "pair rule A-")


def curve(rule, params, deltas, rhos, n_pairs, dt):
    conds = list(itertools.product(deltas, rhos))
    trains = [pairing_protocol(n_pairs, r, d, dt) for d, r in conds]
    T = max(len(a) for a, _ in trains)
    pre, post = zip(*(pairing_protocol(n_pairs, r, d, dt, n_steps=T) for d, r in conds))
    f = jax.jit(jax.vmap(lambda a, b: run_rule(rule, params, a, b, jnp.zeros((1, 1)), dt)[0, 0]))
    return np.asarray(f(jnp.asarray(np.stack(pre)), jnp.asarray(np.stack(post)))).reshape(
        len(deltas), len(rhos))


def run(cfg: Config, out: Path) -> dict:
    deltas = (cfg.delta_t, -cfg.delta_t)
    tri = curve(triplet_stdp, triplet_params(cfg.parameter_set), deltas, cfg.rhos, cfg.n_pairs, cfg.dt)
    pp = PairSTDPParams(a_plus=cfg.pair_a_plus, a_minus=cfg.pair_a_minus, tau_plus=16.8,
                        tau_minus=33.7, w_min=-np.inf, w_max=np.inf)
    pair = curve(pair_stdp, pp, deltas, cfg.rhos, cfg.n_pairs, cfg.dt)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    for ax, dw, title in ((axes[0], tri, f"triplet ({cfg.parameter_set})"),
                          (axes[1], pair, "pair (Song et al. 2000 amplitudes)")):
        ax.plot(cfg.rhos, 100 * dw[0], "o-", label=f"+{cfg.delta_t:g} ms (pre first)")
        ax.plot(cfg.rhos, 100 * dw[1], "s--", label=f"-{cfg.delta_t:g} ms (post first)")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("pairing frequency (Hz)")
        ax.set_ylabel(f"weight change after {cfg.n_pairs} pairings (% of unit weight)")
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "triplet_frequency.png", dpi=120)
    plt.close(fig)
    return {"rhos": list(cfg.rhos), "triplet_plus": tri[0].tolist(), "triplet_minus": tri[1].tolist(),
            "pair_plus": pair[0].tolist(), "pair_minus": pair[1].tolist(),
            "triplet_abs_dw_1hz_plus": float(abs(tri[0][list(cfg.rhos).index(1.0)]))
            if 1.0 in cfg.rhos else None}
