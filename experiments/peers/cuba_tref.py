"""Brette et al. 2007 CUBA: jaxbrain's own networks at t_ref 5.0 ms (NEST's convention, the
default) and 4.9 ms (Brian2's: see brette2007's docstring) against Brian2's own networks.

    python experiments/peers/cuba_tref.py --seeds 0-8 --peer-python .peers/bin/python \\
        --out results/peers/cuba_tref.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from jaxbrain import simulate as sim
from jaxbrain.models import brette2007

from coba_seed_gap import run_brian2_network, seed_list, seed_study_parser


def main():
    args = seed_study_parser("results/peers/cuba_tref.json").parse_args()
    rows = []
    for seed in seed_list(args.seeds):
        row = {"seed": seed, "brian2": run_brian2_network(args.peer_python, "cuba", seed, 1000.0)}
        for t_ref in (5.0, 4.9):
            net, state = brette2007.cuba(seed=seed, t_ref_ms=t_ref)
            _, rec = sim.run(net, state, 10_000, chunk_steps=10_000, progress=False)
            row[f"jaxbrain_{t_ref}"] = {k: float(v) for k, v in sim.rates_hz(rec).items()}
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = {k: {"E_mean": float(np.mean([r[k]["E"] for r in rows])),
                   "E_sd": float(np.std([r[k]["E"] for r in rows], ddof=1)),
                   "I_mean": float(np.mean([r[k]["I"] for r in rows]))} for k in rows[0] if k != "seed"}
    for k, v in summary.items():
        print(f"{k:14s} E {v['E_mean']:.2f} +- {v['E_sd']:.2f} Hz  I {v['I_mean']:.2f} Hz")
    Path(args.out).write_text(json.dumps({"command": " ".join(sys.argv), "summary": summary, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
