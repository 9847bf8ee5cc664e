"""Why do jaxbrain's and Brian2's COBA seed ensembles differ? A factorial swap.

For each seed, two random realisations are drawn: Brian2's (``Synapses.connect(p=0.02)`` and
its randn initial state) and jaxbrain's (``brette2007.coba``). Brian2 runs its own; jaxbrain
runs both, with its default refractoriness (5 ms, NEST's convention) and with Brian2's
(4.9 ms of clamped updates, see ``brette2007``'s docstring). With ``--swaps`` Brian2 also
runs jaxbrain's realisation and jaxbrain (5 ms) runs Brian2's and the two mixed realisations
(one generator's connectivity with the other's initial state): if the rate follows the
engine, the dynamics differ; if it follows the realisation, the generators do; the mixed runs
say which ingredient carries it. Also reported: connectivity and initial-state statistics.

Run with jaxbrain's Python; Brian2 is run as a subprocess with ``--peer-python``:
    python experiments/peers/coba_seed_gap.py --seeds 0-8 --swaps --peer-python .peers/bin/python \
        --out results/peers/coba_seed_gap_swaps.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from jaxbrain import connectivity as cx
from jaxbrain import simulate as sim
from jaxbrain.models import brette2007

PEER = Path(__file__).with_name("brian2_brette2007.py")
N_EXC, N_INH = 3200, 800


def jaxbrain_draw(seed: int, **kw) -> dict:
    """jaxbrain's realisation in Brian2's numbering (E sources 0..3199 of Ce, I sources 0..799
    of Ci, targets 0..3999 with E first)."""
    net, state = brette2007.coba(seed=seed, **kw)
    out = {}
    for pre in ("E", "I"):
        ii, jj = [], []
        for post, off in (("E", 0), ("I", N_EXC)):
            pre_idx, post_idx, _, _ = cx.to_coo(net.projections[pre + post].synapses.ell)
            ii.append(pre_idx)
            jj.append(post_idx + off)
        out[f"c{pre.lower()}_i"], out[f"c{pre.lower()}_j"] = np.concatenate(ii), np.concatenate(jj)
    cat = lambda f: np.concatenate([np.asarray(f(state.neurons[k]), np.float64) for k in ("E", "I")])
    out.update(v0_mv=cat(lambda s: s.v), ge0=cat(lambda s: s.g_ex), gi0=cat(lambda s: s.g_in))
    return out


def run_jaxbrain(real: dict, ms: float = 1000.0, t_ref_ms: float = 5.0) -> dict:
    net, state = brette2007.coba(synapses={"E": (real["ce_i"], real["ce_j"]), "I": (real["ci_i"], real["ci_j"])},
                                 init=(real["v0_mv"], real["ge0"], real["gi0"]), t_ref_ms=t_ref_ms)
    _, rec = sim.run(net, state, int(round(ms / net.dt)), chunk_steps=int(round(ms / net.dt)), progress=False)
    r = sim.rates_hz(rec)
    return {"E": r["E"], "I": r["I"]}


def run_brian2(python: str, seed: int, ms: float, load: str = "", export: str = "") -> dict:
    return run_brian2_network(python, "coba", seed, ms, load, export)


def run_brian2_network(python: str, network: str, seed: int, ms: float, load: str = "", export: str = "") -> dict:
    cmd = [python, str(PEER), "--network", network, "--seed", str(seed), "--duration-ms", str(ms)]
    cmd += ["--load", load] if load else []
    cmd += ["--export", export] if export else []
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    d = json.loads(out.strip().splitlines()[-1])
    return {"E": d["rate_E_hz"], "I": d["rate_I_hz"]}


def realisation_stats(real: dict) -> dict:
    """In/out-degree moments, autapses, E/I in-degree correlation, initial-state moments."""
    st = {}
    n = N_EXC + N_INH
    for pre, n_pre in (("e", N_EXC), ("i", N_INH)):
        i, j = real[f"c{pre}_i"], real[f"c{pre}_j"]
        kin = np.bincount(j, minlength=n)
        kout = np.bincount(i, minlength=n_pre)
        src_global = i + (0 if pre == "e" else N_EXC)
        st[pre] = {"n_syn": int(i.size), "in_mean": float(kin.mean()), "in_var": float(kin.var()),
                   "out_mean": float(kout.mean()), "out_var": float(kout.var()),
                   "autapses": int((src_global == j).sum()),
                   "multapses": int(i.size - np.unique(i.astype(np.int64) * n + j).size)}
        st[pre + "_in"] = kin
    st["corr_kin_e_i"] = float(np.corrcoef(st.pop("e_in"), st.pop("i_in"))[0, 1])
    for k in ("v0_mv", "ge0", "gi0"):
        a = np.asarray(real[k])
        st[k] = {"mean": float(a.mean()), "sd": float(a.std()), "frac_negative": float((a < 0).mean())}
    return st


def seed_study_parser(out: str) -> argparse.ArgumentParser:
    """The options every seed study here shares: --seeds (``0-8`` or ``0,3,5``; parse with
    :func:`seed_list`), --peer-python (a Python with brian2), --out (JSON path)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0-8", help="e.g. 0-8 or 0,3,5")
    ap.add_argument("--peer-python", required=True)
    ap.add_argument("--out", default=out)
    return ap


def seed_list(text: str) -> list[int]:
    """``"0-8"`` -> 0..8 inclusive; ``"0,3,5"`` -> [0, 3, 5]."""
    if "-" in text:
        lo, hi = (int(x) for x in text.split("-"))
        return list(range(lo, hi + 1))
    return [int(s) for s in text.split(",")]


def main():
    ap = seed_study_parser("results/peers/coba_seed_gap.json")
    ap.add_argument("--duration-ms", type=float, default=1000.0)
    ap.add_argument("--swaps", action="store_true", help="also the cross and mixed runs")
    args = ap.parse_args()
    seeds = seed_list(args.seeds)
    rows = []
    tmp = Path(tempfile.mkdtemp())
    for seed in seeds:
        t0 = time.perf_counter()
        b_npz, j_npz = tmp / f"b{seed}.npz", tmp / f"j{seed}.npz"
        row = {"seed": seed}
        row["brian2_on_brian2"] = run_brian2(args.peer_python, seed, args.duration_ms, export=str(b_npz))
        b = {k: v for k, v in np.load(b_npz).items() if k != "counts"}
        j = jaxbrain_draw(seed)
        np.savez(j_npz, **j)
        row["jaxbrain_on_jaxbrain"] = run_jaxbrain(j, args.duration_ms)
        row["jaxbrain4.9_on_jaxbrain"] = run_jaxbrain(j, args.duration_ms, 4.9)
        row["jaxbrain4.9_on_brian2"] = run_jaxbrain(b, args.duration_ms, 4.9)
        if args.swaps:
            row["brian2_on_jaxbrain"] = run_brian2(args.peer_python, seed, args.duration_ms, load=str(j_npz))
            row["jaxbrain_on_brian2"] = run_jaxbrain(b, args.duration_ms)
            conn = lambda r: {k: r[k] for k in ("ce_i", "ce_j", "ci_i", "ci_j")}
            init = lambda r: {k: r[k] for k in ("v0_mv", "ge0", "gi0")}
            row["jaxbrain_conn_brian2_init"] = run_jaxbrain({**conn(j), **init(b)}, args.duration_ms)
            row["brian2_conn_jaxbrain_init"] = run_jaxbrain({**conn(b), **init(j)}, args.duration_ms)
        row["stats"] = {"brian2": realisation_stats(b), "jaxbrain": realisation_stats(j)}
        row["wall_s"] = time.perf_counter() - t0
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "stats"}), flush=True)
    keys = [k for k in rows[0] if k not in ("seed", "stats", "wall_s")]
    # paired differences on identical realisations: the engine's share of the gap
    paired = {}
    for a, b_ in (("brian2_on_brian2", "jaxbrain4.9_on_brian2"), ("brian2_on_brian2", "jaxbrain_on_brian2"),
                  ("brian2_on_jaxbrain", "jaxbrain_on_jaxbrain"), ("brian2_on_jaxbrain", "jaxbrain4.9_on_jaxbrain")):
        if a in rows[0] and b_ in rows[0]:
            dlt = np.array([r[b_]["E"] - r[a]["E"] for r in rows])
            paired[f"{b_} - {a}"] = {"E_mean": float(dlt.mean()), "E_sem": float(dlt.std(ddof=1) / np.sqrt(len(dlt))) if len(dlt) > 1 else 0.0}
    summary = {k: {"E_mean": float(np.mean([r[k]["E"] for r in rows])), "E_sd": float(np.std([r[k]["E"] for r in rows], ddof=1)) if len(rows) > 1 else 0.0,
                   "I_mean": float(np.mean([r[k]["I"] for r in rows]))} for k in keys}
    for k, v in summary.items():
        print(f"{k:28s} E {v['E_mean']:6.2f} +- {v['E_sd']:.2f} Hz   I {v['I_mean']:6.2f} Hz")
    for k, v in paired.items():
        print(f"paired {k}: E {v['E_mean']:+.2f} +- {v['E_sem']:.2f} Hz (sem)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"command": " ".join(sys.argv), "seeds": seeds, "summary": summary,
                                          "paired": paired, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
