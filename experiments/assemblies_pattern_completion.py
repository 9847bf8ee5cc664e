"""PNAS 2020 pattern completion: firing a fraction alpha of an assembly recovers all of it
(simulations.py ``pattern_com_alphas``: n = 1e5, k = 317, p = 0.01, beta = 0.05)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jaxbrain.config import ConfigError, at_least, open_prob, param, positive, nonnegative, prob


@dataclass(frozen=True)
class Config:
    n: int = param(100_000, positive, "neurons")
    k: int = param(317, positive, "cap size")
    p: float = param(0.01, open_prob, "connection probability")
    beta: float = param(0.05, nonnegative, "plasticity")
    project_iter: int = param(25, at_least(2), "rounds forming the assembly")
    comp_iter: int = param(5, at_least(1), "recurrent rounds from the partial assembly")
    alphas: tuple[float, ...] = param((0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0), prob,
                                      "fractions of the assembly fired")
    seed: int = param(0, nonnegative, "seed")

    def check(self):
        if self.k >= self.n:
            raise ConfigError(f"config key 'k': value {self.k} must be < n = {self.n}")


def run(cfg: Config, out: Path) -> dict:
    import matplotlib.pyplot as plt
    from jaxbrain.assemblies import operations as ops

    r = ops.pattern_completion(cfg.n, cfg.k, cfg.p, cfg.beta, cfg.project_iter, cfg.comp_iter,
                               cfg.alphas, cfg.seed)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(r["alphas"], r["recovered"], "o-", label="recovered")
    ax.plot(r["alphas"], r["alphas"], ":", color="gray", label="fired (alpha)")
    ax.set_xlabel("fraction alpha of the assembly fired")
    ax.set_ylabel(f"overlap with the assembly after {cfg.comp_iter} rounds / k")
    ax.set_title(f"pattern completion, n={cfg.n:g}, k={cfg.k}, p={cfg.p}, beta={cfg.beta}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "pattern_completion.png", dpi=120)
    plt.close(fig)
    return r
