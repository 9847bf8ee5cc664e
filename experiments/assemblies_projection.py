"""PNAS 2020 projection convergence: support size w_t of area A under repeated projection.

Reference: Papadimitriou et al., PNAS 2020, Fig. (projection); simulations.py ``project_sim``
(n = 1e6, k = 1000, p = 0.01, beta = 0.05). Success: the support stops growing (the assembly
converges) at a small multiple of k.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jaxbrain.config import ConfigError, at_least, open_prob, param, positive, nonnegative


@dataclass(frozen=True)
class Config:
    n: int = param(1_000_000, positive, "neurons in area A")
    k: int = param(1000, positive, "cap size (and stimulus size)")
    p: float = param(0.01, open_prob, "connection probability")
    betas: tuple[float, ...] = param((0.05,), nonnegative, "plasticities to run")
    t: int = param(50, at_least(2), "projection steps")
    seed: int = param(0, nonnegative, "connectivity seed")

    def check(self):
        if self.k >= self.n:
            raise ConfigError(f"config key 'k': value {self.k} must be < n = {self.n}")


def run(cfg: Config, out: Path) -> dict:
    import matplotlib.pyplot as plt
    from jaxbrain.assemblies import operations as ops

    curves, metrics = {}, {}
    for beta in cfg.betas:
        r = ops.projection(cfg.n, cfg.k, cfg.p, beta, cfg.t, cfg.seed)
        curves[beta] = r["support"]
        last = r["num_new"][-5:]
        metrics[f"beta={beta}"] = {
            "support": r["support"], "final_support_over_k": r["support"][-1] / cfg.k,
            "new_winners_last5": last, "converged": max(last) <= 0.01 * cfg.k,
            "final_consecutive_overlap": r["consecutive_overlap"][-1],
            "store_A->A": r["stores"]["A->A"]}
    fig, ax = plt.subplots(figsize=(6, 4))
    for beta, w in curves.items():
        ax.plot([x / cfg.k for x in w], label=f"beta={beta}")
    ax.set_xlabel("projection step t")
    ax.set_ylabel("support w_t / k")
    ax.set_title(f"projection convergence, n={cfg.n:g}, k={cfg.k}, p={cfg.p}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "projection.png", dpi=120)
    plt.close(fig)
    return metrics
