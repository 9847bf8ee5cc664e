"""PNAS 2020 density: the recurrent synapse density inside an assembly exceeds the ambient p
and grows with beta (simulations.py ``density_sim``: n = 1e5, k = 317, p = 0.01)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jaxbrain.config import ConfigError, at_least, open_prob, param, positive, nonnegative


@dataclass(frozen=True)
class Config:
    n: int = param(100_000, positive, "neurons")
    k: int = param(317, positive, "cap size")
    p: float = param(0.01, open_prob, "connection probability")
    betas: tuple[float, ...] = param((0.0, 0.025, 0.05, 0.075, 0.1), nonnegative, "plasticities")
    rounds: int = param(20, at_least(1), "projection rounds")
    seed: int = param(0, nonnegative, "seed")

    def check(self):
        if self.k >= self.n:
            raise ConfigError(f"config key 'k': value {self.k} must be < n = {self.n}")


def run(cfg: Config, out: Path) -> dict:
    import matplotlib.pyplot as plt
    from jaxbrain.assemblies import operations as ops

    r = ops.density(cfg.n, cfg.k, cfg.p, cfg.betas, cfg.rounds, cfg.seed)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(r["betas"], r["density"], "o-", label="assembly density")
    ax.axhline(cfg.p, color="red", ls="--", label="ambient p")
    ax.set_xlabel("beta")
    ax.set_ylabel("recurrent synapse density in the assembly")
    ax.set_title(f"density, n={cfg.n:g}, k={cfg.k}, p={cfg.p}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "density.png", dpi=120)
    plt.close(fig)
    return r
