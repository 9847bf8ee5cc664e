"""Potjans & Diesmann 2014 microcircuit: jaxbrain against NEST 3.10, same parameters, same run.

The NEST network here is written from jaxbrain's model (``jaxbrain.models.potjans2014``: its
tables, its PSC amplitude, its choices) with NEST's own ``iaf_psc_exp``, ``fixed_indegree``
(multapses and autapses allowed, as jaxbrain), normal weights clipped at 0 and normal
delays either redrawn below dt (``--delays redraw``: the reference's truncated normal, which
jaxbrain's model draws since this comparison found the difference) or clipped to
[dt, 3 mean] (``clip``: jaxbrain's earlier law), a Poisson background of ``K_ext`` x 8 Hz per neuron and the
per-population normal initial V. Each run (engine, seed) records every spike after the
warm-up; the comparison is the Potjans-Diesmann reference-data one: per population, the
distributions of per-neuron rates, ISI CVs and pairwise spike-count correlations (200 neurons,
2 ms bins), compared by Kolmogorov-Smirnov distance. NEST against NEST with another seed is
the noise floor: a jaxbrain-vs-NEST distance at that level is a pass.

Run with a Python that has both nest and jaxbrain (the NEST venv, see docs/peers.md):
    python experiments/peers/nest_potjans2014.py --n-scaling 0.1 --warmup-ms 300 \\
        --duration-ms 1000 --nest-seeds 1,2,3 --jaxbrain-seeds 1,2 \\
        --out results/peers/potjans2014_nest.json
Each run executes in its own subprocess (``--one ENGINE:SEED``) and its spikes are cached
(``--cache``), so the comparison can be redone without re-simulating.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from jaxbrain import analysis
from jaxbrain.models import potjans2014 as pd

STATS = ("rate", "cv", "corr")


def sizes(n_scaling: float) -> np.ndarray:
    return np.maximum(1, np.round(pd.N_FULL * n_scaling)).astype(int)  # as pd.microcircuit


def indegree(t: int, s: int) -> int:
    """The full circuit's in-degree of target population t from source s (jaxbrain's rule:
    the reference's total synapse number over the target size, rounded)."""
    p = pd.CONN_PROBS[t, s]
    k_total = math.log(1 - p) / math.log(1 - 1 / (pd.N_FULL[s] * pd.N_FULL[t]))
    return max(1, int(round(k_total / pd.N_FULL[t])))


def projections():
    """(t, s, in-degree, weight pA (signed), mean delay ms) of every projection."""
    w_e = pd.psc_for_psp(0.15)
    out = []
    for t, s in itertools.product(range(8), range(8)):
        if pd.CONN_PROBS[t, s] == 0:
            continue
        exc = pd.POPULATIONS[s].endswith("E")
        w = w_e * (2.0 if (s, t) == (2, 0) else 1.0) * (1.0 if exc else -4.0)
        out.append((t, s, indegree(t, s), w, 1.5 if exc else 0.75))
    return out


def run_nest(n_scaling, seed, warmup_ms, duration_ms, dt=0.1, threads=1, delays="clip") -> dict:
    import nest

    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.set(resolution=dt, rng_seed=seed + 1, local_num_threads=threads, print_time=False)
    p = pd.PARAMS
    params = {"E_L": p.v_rest, "V_th": p.v_th, "V_reset": p.v_reset, "C_m": p.c_m, "tau_m": p.tau_m,
              "tau_syn_ex": p.tau_syn_ex, "tau_syn_in": p.tau_syn_in, "t_ref": p.t_ref, "I_e": 0.0}
    n = sizes(n_scaling)
    t0 = time.perf_counter()
    pops = []
    for i in range(8):
        pop = nest.Create("iaf_psc_exp", int(n[i]), params=params)
        pop.V_m = nest.random.normal(mean=float(pd.V0_MEAN[i]), std=float(pd.V0_STD[i]))
        pops.append(pop)
    w_e = pd.psc_for_psp(0.15)
    for t, s, k, w, d in projections():
        wdraw = nest.random.normal(mean=w, std=abs(0.1 * w))
        wdraw = nest.math.max(wdraw, 0.0) if w > 0 else nest.math.min(wdraw, 0.0)
        ddraw = nest.random.normal(mean=d, std=0.5 * d)
        ddraw = (nest.math.min(nest.math.max(ddraw, dt), 3 * d) if delays == "clip"
                 else nest.math.redraw(ddraw, min=dt, max=np.inf))
        nest.Connect(pops[s], pops[t], {"rule": "fixed_indegree", "indegree": k,
                                        "allow_autapses": True, "allow_multapses": True},
                     {"synapse_model": "static_synapse", "weight": wdraw, "delay": ddraw})
    recorders = []
    for i in range(8):
        pg = nest.Create("poisson_generator", params={"rate": 8.0 * float(pd.K_EXT[i])})
        nest.Connect(pg, pops[i], "all_to_all", {"weight": w_e, "delay": dt})  # one train per target
        sr = nest.Create("spike_recorder", params={"start": warmup_ms})
        nest.Connect(pops[i], sr)
        recorders.append(sr)
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    nest.Simulate(warmup_ms + duration_ms)
    sim_s = time.perf_counter() - t1
    spikes = {}
    for i, name in enumerate(pd.POPULATIONS):
        ev = recorders[i].events
        first = int(pops[i].tolist()[0])
        # NEST stamps a spike of step k at (k + 1) dt: shift to jaxbrain's step index
        steps = np.rint(np.asarray(ev["times"]) / dt).astype(np.int64) - 1 - int(round(warmup_ms / dt))
        spikes[name] = (np.asarray(ev["senders"], np.int64) - first, steps)
    return {"spikes": spikes, "n": n, "build_s": build_s, "sim_s": sim_s,
            "n_synapses": int(nest.GetKernelStatus("num_connections")), "version": nest.__version__}


def run_jaxbrain(n_scaling, seed, warmup_ms, duration_ms, dt=0.1) -> dict:
    from jaxbrain import simulate as sim

    t0 = time.perf_counter()
    net, state = pd.microcircuit(n_scaling, seed, dt=dt)
    # the projections NEST builds must be these
    for t, s, k, w, d in projections():
        syn = net.projections[f"{pd.POPULATIONS[s]}->{pd.POPULATIONS[t]}"].synapses
        assert syn.conn.k == k and math.isclose(syn.conn.weight.mean, abs(w), rel_tol=1e-6) \
            and syn.conn.delay.mean == d, (pd.POPULATIONS[s], pd.POPULATIONS[t])
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    warm = int(round(warmup_ms / dt))
    state, _ = sim.run(net, state, warm, chunk_steps=1000, progress=False)
    mon = sim.Monitor(raster={k: p.n for k, p in net.populations.items()})
    state, rec = sim.run(net, state, int(round(duration_ms / dt)), mon, chunk_steps=1000, progress=False)
    sim_s = time.perf_counter() - t1
    spikes = {}
    for name in pd.POPULATIONS:
        steps, senders = np.nonzero(rec.raster[name])
        spikes[name] = (senders.astype(np.int64), steps.astype(np.int64))
    n_syn = sum(int(p.synapses.conn.k) * p.synapses.conn.n_post for p in net.projections.values())
    import jax
    return {"spikes": spikes, "n": sizes(n_scaling), "build_s": build_s, "sim_s": sim_s,
            "n_synapses": n_syn, "version": f"jaxbrain (jax {jax.__version__})"}


def statistics(run: dict, duration_ms: float, dt: float = 0.1) -> dict:
    """Per population: per-neuron rates, ISI CVs, pairwise correlations (analysis.spike_statistics)."""
    steps = int(round(duration_ms / dt))
    out = {}
    for i, name in enumerate(pd.POPULATIONS):
        senders, st = run["spikes"][name]
        raster = np.zeros((steps, int(run["n"][i])), bool)
        ok = (st >= 0) & (st < steps)
        raster[st[ok], senders[ok]] = True
        out[name] = analysis.spike_statistics(raster, dt)
    return out


def ks_table(a: dict, b: dict) -> dict:
    return {k: {s: analysis.ks_distance(a[k][s], b[k][s]) for s in STATS} for k in pd.POPULATIONS}


def _one(args, engine, seed):
    """Run one simulation in a subprocess (memory is returned to the OS after each) and cache it."""
    tag = args.delays if engine == "nest" else "jb"
    path = Path(args.cache) / f"{engine}_s{seed}_n{args.n_scaling}_w{args.warmup_ms:g}_d{args.duration_ms:g}_{tag}.npz"
    if not path.exists():
        cmd = [sys.executable, __file__, "--one", f"{engine}:{seed}", "--save", str(path)]
        cmd += [f"--{k.replace('_', '-')}={getattr(args, k)}" for k in ("n_scaling", "warmup_ms", "duration_ms", "threads", "delays")]
        subprocess.run(cmd, check=True)
    z = np.load(path, allow_pickle=False)
    spikes = {name: (z[f"{name}_senders"], z[f"{name}_steps"]) for name in pd.POPULATIONS}
    meta = json.loads(str(z["meta"]))
    return {"spikes": spikes, "n": z["n"], **meta}


def compare(args):
    runs = {f"nest:{s}": _one(args, "nest", s) for s in args.nest_seeds}
    runs.update({f"jaxbrain:{s}": _one(args, "jaxbrain", s) for s in args.jaxbrain_seeds})
    stats = {k: statistics(r, args.duration_ms) for k, r in runs.items()}
    nest_keys = [k for k in runs if k.startswith("nest")]
    jb_keys = [k for k in runs if k.startswith("jaxbrain")]
    pairs = {"nest_vs_nest": list(itertools.combinations(nest_keys, 2)),
             "jaxbrain_vs_nest": list(itertools.product(jb_keys, nest_keys)),
             "jaxbrain_vs_jaxbrain": list(itertools.combinations(jb_keys, 2))}
    ks = {kind: {f"{a}|{b}": ks_table(stats[a], stats[b]) for a, b in ps} for kind, ps in pairs.items()}
    mean_ks = {kind: {name: {s: float(np.mean([t[name][s] for t in tabs.values()])) if tabs else None
                             for s in STATS} for name in pd.POPULATIONS}
               for kind, tabs in ks.items()}
    max_ks = {kind: {name: {s: float(np.max([t[name][s] for t in tabs.values()])) if tabs else None
                            for s in STATS} for name in pd.POPULATIONS}
              for kind, tabs in ks.items()}
    rates = {k: {name: float(stats[k][name]["rate"].mean()) for name in pd.POPULATIONS} for k in runs}
    def window_rates(run, i, name, win_ms=500.0, dt=0.1):
        """Rates (Hz) in consecutive ``win_ms`` windows of the recording (slow fluctuations)."""
        steps = run["spikes"][name][1]
        w = int(round(win_ms / dt))
        n_win = int(round(args.duration_ms / dt)) // w
        return [float(((steps >= j * w) & (steps < (j + 1) * w)).sum() / run["n"][i] / (win_ms * 1e-3))
                for j in range(n_win)]

    summary = {k: {name: {"rate_hz": rates[k][name],
                          "window_rates_500ms_hz": window_rates(runs[k], i, name),
                          "cv_mean": float(stats[k][name]["cv"].mean()) if stats[k][name]["cv"].size else None,
                          "n_cv": int(stats[k][name]["cv"].size),
                          "corr_mean": float(stats[k][name]["corr"].mean()) if stats[k][name]["corr"].size else None}
                   for i, name in enumerate(pd.POPULATIONS)} for k in runs}
    result = {"command": " ".join([Path(sys.executable).name] + sys.argv),
              "n_scaling": args.n_scaling, "warmup_ms": args.warmup_ms, "duration_ms": args.duration_ms,
              "delays": args.delays, "threads": args.threads,
              "runs": {k: {kk: r[kk] for kk in ("build_s", "sim_s", "n_synapses", "version")} for k, r in runs.items()},
              "reference_rates_hz": pd.REFERENCE_RATES_HZ, "summary": summary,
              "ks_mean": mean_ks, "ks_max": max_ks, "ks": ks}
    print(f"{'':10s}" + "".join(f"{n:>8s}" for n in pd.POPULATIONS))
    for k in runs:
        print(f"{k:10s}" + "".join(f"{rates[k][n]:8.2f}" for n in pd.POPULATIONS))
    print(f"{'reference':10s}" + "".join(f"{pd.REFERENCE_RATES_HZ[n]:8.2f}" for n in pd.POPULATIONS))
    for s in STATS:
        for kind in ks:
            if ks[kind]:
                print(f"KS {s:4s} {kind:20s}" + "".join(f"{mean_ks[kind][n][s]:7.3f}" for n in pd.POPULATIONS))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1))
        figure(stats, runs, mean_ks, Path(args.out).with_suffix(".png"), args)
    return result


def figure(stats, runs, mean_ks, path, args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(4, 8, figsize=(20, 9.5))
    colours = {"nest": "tab:blue", "jaxbrain": "tab:red"}
    for i, name in enumerate(pd.POPULATIONS):
        for row, s in enumerate(STATS):
            ax = axes[row, i]
            for k in runs:
                x = np.sort(stats[k][name][s])
                if x.size:
                    ax.plot(x, np.arange(1, x.size + 1) / x.size, color=colours[k.split(":")[0]],
                            lw=1, alpha=0.8, label=k)
            ax.set_title(f"{name} {s}", fontsize=9)
            ax.tick_params(labelsize=7)
        ax = axes[3, i]
        xs = np.arange(3)
        for j, kind in enumerate(("nest_vs_nest", "jaxbrain_vs_nest")):
            ax.bar(xs + (j - 0.5) * 0.4, [mean_ks[kind][name][s] or 0 for s in STATS], 0.4,
                   label=kind.replace("_", " "), color=["tab:gray", "tab:red"][j])
        ax.set_xticks(xs, ["rate", "CV", "corr"], fontsize=7)
        ax.set_title(f"{name} KS distance", fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0, 0].set_ylabel("CDF")
    axes[0, 0].legend(fontsize=6)
    axes[3, 0].legend(fontsize=6)
    fig.suptitle(f"Potjans-Diesmann microcircuit, n_scaling {args.n_scaling}: jaxbrain (red) vs NEST "
                 f"(blue), {args.duration_ms:g} ms after {args.warmup_ms:g} ms warm-up")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-scaling", type=float, default=0.1)
    ap.add_argument("--warmup-ms", type=float, default=300.0)
    ap.add_argument("--duration-ms", type=float, default=1000.0)
    ap.add_argument("--nest-seeds", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    ap.add_argument("--jaxbrain-seeds", type=lambda s: [int(x) for x in s.split(",")], default=[1])
    ap.add_argument("--threads", type=int, default=1, help="NEST threads")
    ap.add_argument("--delays", choices=["clip", "redraw"], default="clip")
    ap.add_argument("--cache", default="/tmp/jaxbrain_nest_pd14")
    ap.add_argument("--out", default="results/peers/potjans2014_nest.json")
    ap.add_argument("--one", default="", help=argparse.SUPPRESS)
    ap.add_argument("--save", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        engine, seed = args.one.split(":")
        fn = run_nest if engine == "nest" else run_jaxbrain
        kw = {"threads": args.threads, "delays": args.delays} if engine == "nest" else {}
        r = fn(args.n_scaling, int(seed), args.warmup_ms, args.duration_ms, **kw)
        meta = {k: r[k] for k in ("build_s", "sim_s", "n_synapses", "version")}
        print(f"{args.one}: build {r['build_s']:.1f} s, simulate {r['sim_s']:.1f} s, {r['n_synapses']} synapses",
              flush=True)
        arrays = {f"{name}_{f}": r["spikes"][name][j] for name in pd.POPULATIONS for j, f in enumerate(("senders", "steps"))}
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.save, n=r["n"], meta=json.dumps(meta), **arrays)
        return r
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    return compare(args)


if __name__ == "__main__":
    main()
