"""PNAS 2020 association: two assemblies projected together into C come to share neurons.

simulations.py ``association_grand_sim`` (n = 1e5, k = 317, p = 0.01, beta = 0.05 in the
reference's figure): after A and B fire together into C, the C-assemblies evoked by A alone
and by B alone overlap far more than before (two independent projections overlap ~k/n).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jaxbrain.config import ConfigError, at_least, open_prob, param, positive, nonnegative


@dataclass(frozen=True)
class Config:
    n: int = param(100_000, positive, "neurons per area")
    k: int = param(317, positive, "cap size")
    p: float = param(0.01, open_prob, "connection probability")
    beta: float = param(0.05, nonnegative, "plasticity")
    form_rounds: int = param(10, at_least(2), "rounds to form A, B and their C projections")
    min_iter: int = param(10, at_least(2), "first joint round measured")
    max_iter: int = param(20, at_least(2), "last joint round measured")
    seed: int = param(0, nonnegative, "connectivity seed")

    def check(self):
        if self.k >= self.n:
            raise ConfigError(f"config key 'k': value {self.k} must be < n = {self.n}")
        if self.max_iter < self.min_iter:
            raise ConfigError(f"config key 'max_iter': value {self.max_iter} must be >= min_iter")


def run(cfg: Config, out: Path) -> dict:
    import matplotlib.pyplot as plt
    from jaxbrain.assemblies import operations as ops

    r = ops.association(cfg.n, cfg.k, cfg.p, cfg.beta, cfg.form_rounds, cfg.min_iter,
                        cfg.max_iter, cfg.seed)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(r["rounds"], r["overlap"], "o-", label="after t joint rounds")
    ax.axhline(r["overlap_before"], color="gray", ls="--", label="before association")
    ax.set_xlabel("joint projection rounds t")
    ax.set_ylabel("overlap of C(A) and C(B) / k")
    ax.set_title(f"association, n={cfg.n:g}, k={cfg.k}, p={cfg.p}, beta={cfg.beta}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "association.png", dpi=120)
    plt.close(fig)
    return {"rounds": r["rounds"], "overlap": r["overlap"], "overlap_before": r["overlap_before"],
            "final_overlap": r["overlap"][-1], "stores": r["stores"]}
