"""Train-time neuromodulator ablation: the same spiking LM trained four times, with all
modulators on and with dopamine, noradrenaline or serotonin switched off from the start.
Writes ablation.json (validation nats/token of each) and one run folder per variant."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from jaxbrain.config import from_dict, param, positive, to_dict
from jaxbrain.lm.train import TrainConfig, train
from jaxbrain.runs import write_json

__all__ = ["Config", "run"]

VARIANTS = {"all": (1.0, 1.0, 1.0), "no_dopamine": (0.0, 1.0, 1.0),
            "no_noradrenaline": (1.0, 0.0, 1.0), "no_serotonin": (1.0, 1.0, 0.0)}


@dataclasses.dataclass(frozen=True)
class Config:
    train: TrainConfig = param(TrainConfig(), None, "the training config of every variant")
    seeds: int = param(1, positive, "seeds per variant (0 .. seeds-1)")


def run(cfg: Config, out: Path) -> dict:
    res = {}
    for name, mask in VARIANTS.items():
        for seed in range(cfg.seeds):
            tc = from_dict(TrainConfig, {**to_dict(cfg.train), "modulators": list(mask),
                                         "seed": seed, "ablation": False, "progress": False,
                                         "baselines": ["unigram", "bigram"]})
            r = train(tc, Path(out) / f"{name}_seed{seed}")
            res.setdefault(name, []).append(r["spiking"]["nll"])
            print(name, seed, r["spiking"], flush=True)
    summary = {k: {"nll": v, "mean": sum(v) / len(v)} for k, v in res.items()}
    for k in summary:
        summary[k]["delta_vs_all"] = summary[k]["mean"] - summary["all"]["mean"]
    write_json(Path(out) / "ablation.json", summary)
    return summary
