"""Train the modular spiking LM on Shakespeare (whole held-out plays for validation) and
compare it with baselines trained in the same run (see jaxbrain/lm/train.py, docs/lm.md)."""

from pathlib import Path

from jaxbrain.lm.train import TrainConfig as Config, train

__all__ = ["Config", "run"]


def run(cfg: Config, out: Path) -> dict:
    return train(cfg, out)
