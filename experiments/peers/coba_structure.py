"""Are jaxbrain's and Brian2's random COBA networks and initial states drawn alike?

For each seed both generators draw a realisation (Brian2: ``Synapses.connect(p=0.02)`` and
its randn initial state, exported after a 1 ms run; jaxbrain: ``brette2007.coba``), and this
reports, averaged over seeds, the statistics a rate difference could come from: synapse
counts, in/out-degree moments, autapses, the correlation of a neuron's E and I in-degrees,
reciprocal pairs, directed 3-cycles, target overlaps of source pairs (mean and second
moment; Bernoulli: 4000 p^2 = 1.6), and the initial v / g_ex / g_in moments.

    python experiments/peers/coba_structure.py --seeds 0-8 --peer-python .peers/bin/python \\
        --out results/peers/coba_structure.json
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sps

from coba_seed_gap import N_EXC, N_INH, PEER, jaxbrain_draw, seed_list, seed_study_parser

N = N_EXC + N_INH


def structure(real: dict) -> dict:
    i = np.concatenate([real["ce_i"], real["ci_i"] + N_EXC]).astype(np.int64)
    j = np.concatenate([real["ce_j"], real["ci_j"]]).astype(np.int64)
    a = sps.csr_matrix((np.ones(i.size), (i, j)), shape=(N, N))  # a[pre, post]
    k_in_e = np.asarray(a[:N_EXC].sum(0)).ravel()
    k_in_i = np.asarray(a[N_EXC:].sum(0)).ravel()
    k_out = np.asarray(a.sum(1)).ravel()
    ov = (a @ a.T).tocoo()
    off = ov.row != ov.col
    pairs = N * (N - 1)
    out = {"n_synapses": int(i.size), "autapses": int((i == j).sum()),
           "in_e_mean": float(k_in_e.mean()), "in_e_var": float(k_in_e.var()),
           "in_i_mean": float(k_in_i.mean()), "in_i_var": float(k_in_i.var()),
           "out_mean": float(k_out.mean()), "out_var": float(k_out.var()),
           "corr_in_e_in_i": float(np.corrcoef(k_in_e, k_in_i)[0, 1]),
           "corr_in_out": float(np.corrcoef(k_in_e + k_in_i, k_out)[0, 1]),
           "reciprocal_pairs": float(a.multiply(a.T).sum() / 2),
           "directed_3_cycles": float((a @ a).multiply(a.T).sum() / 3),
           "target_overlap_mean": float(ov.data[off].sum() / pairs),
           "target_overlap_m2": float((ov.data[off] ** 2).sum() / pairs)}
    for k in ("v0_mv", "ge0", "gi0"):
        x = np.asarray(real[k], np.float64)
        out[k + "_mean"], out[k + "_sd"] = float(x.mean()), float(x.std())
        out[k + "_frac_below_0"] = float((x < 0).mean())
    return out


def main():
    args = seed_study_parser("results/peers/coba_structure.json").parse_args()
    tmp = Path(tempfile.mkdtemp())
    per_seed = {"brian2": [], "jaxbrain": []}
    for seed in seed_list(args.seeds):
        npz = tmp / f"b{seed}.npz"
        subprocess.run([args.peer_python, str(PEER), "--network", "coba", "--seed", str(seed),
                        "--duration-ms", "1", "--export", str(npz)], check=True, capture_output=True)
        per_seed["brian2"].append(structure(dict(np.load(npz))))
        per_seed["jaxbrain"].append(structure(jaxbrain_draw(seed)))
    summary = {}
    for gen, rows in per_seed.items():
        summary[gen] = {k: {"mean": float(np.mean([r[k] for r in rows])),
                            "sd": float(np.std([r[k] for r in rows], ddof=1))} for k in rows[0]}
    for k in summary["brian2"]:
        b, jb = summary["brian2"][k], summary["jaxbrain"][k]
        print(f"{k:22s} brian2 {b['mean']:12.4f} +- {b['sd']:9.4f}   jaxbrain {jb['mean']:12.4f} +- {jb['sd']:9.4f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"command": " ".join(sys.argv), "summary": summary,
                                          "per_seed": per_seed}, indent=1))


if __name__ == "__main__":
    main()
