"""PNAS 2020 merge: assemblies A and B fire into C while C fires back; C forms a stable
assembly whose support converges (simulations.py ``merge_sim``: n = 1e5, k = 317, p = 0.01)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jaxbrain.config import ConfigError, at_least, open_prob, param, positive, nonnegative


@dataclass(frozen=True)
class Config:
    n: int = param(100_000, positive, "neurons per area")
    k: int = param(317, positive, "cap size")
    p: float = param(0.01, open_prob, "connection probability")
    betas: tuple[float, ...] = param((0.1, 0.05), nonnegative, "plasticities to run")
    max_t: int = param(50, at_least(2), "merge steps")
    seed: int = param(0, nonnegative, "connectivity seed")

    def check(self):
        if self.k >= self.n:
            raise ConfigError(f"config key 'k': value {self.k} must be < n = {self.n}")


def run(cfg: Config, out: Path) -> dict:
    import matplotlib.pyplot as plt
    from jaxbrain.assemblies import operations as ops

    fig, ax = plt.subplots(figsize=(6, 4))
    metrics = {}
    for beta in cfg.betas:
        r = ops.merge(cfg.n, cfg.k, cfg.p, beta, cfg.max_t, cfg.seed)
        for x, ls in (("A", ":"), ("B", "--"), ("C", "-")):
            ax.plot([w / cfg.k for w in r[f"support_{x}"]], ls, label=f"{x}, beta={beta}")
        metrics[f"beta={beta}"] = {
            "support_C": r["support_C"], "final_support_C_over_k": r["support_C"][-1] / cfg.k,
            "C_final_consecutive_overlap": r["C_consecutive_overlap"][-1],
            "C_new_last5": [b - a for a, b in zip(r["support_C"][-6:-1], r["support_C"][-5:])]}
    ax.set_xlabel("merge step t")
    ax.set_ylabel("support / k")
    ax.set_title(f"merge, n={cfg.n:g}, k={cfg.k}, p={cfg.p}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "merge.png", dpi=120)
    plt.close(fig)
    return metrics
