"""The Brette et al. 2007 COBA / CUBA networks in Brian2 (cython), for same-run comparisons.

Run with a Python that has brian2 (it needs numpy < 2.4):
    python experiments/peers/brian2_brette2007.py --network coba --seed 0 --duration-ms 1000
Prints one JSON line: rates (Hz), ISI CV, build / compile / run wall times (s).
"""

import json
import time

import numpy as np
from brette2007_cli import brette_parser


def main():
    ap = brette_parser()
    ap.add_argument("--export", default="", help="save connectivity, initial state and spike "
                    "counts to this .npz (to run the identical network elsewhere)")
    ap.add_argument("--load", default="", help="run the connectivity and initial state of this "
                    ".npz (keys as --export writes: ce_i, ce_j, ci_i, ci_j, v0_mv, ge0, gi0) "
                    "instead of drawing them")
    args = ap.parse_args()
    t0 = time.perf_counter()
    import brian2 as b2
    from brian2 import mV, ms, nS, pF

    b2.prefs.codegen.target = "cython"
    b2.defaultclock.dt = 0.1 * ms
    b2.seed(args.seed)
    n = args.n_exc + args.n_inh
    ns = {"taue": 5 * ms, "taui": 10 * ms, "taum": 20 * ms, "Vt": -50 * mV, "Vr": -60 * mV,
          "Ee": 0 * mV, "Ei": -80 * mV, "C": 200 * pF, "gl": 10 * nS}
    if args.network == "coba":
        ns["El"] = -60 * mV
        eqs = """dv/dt = (gl*(El - v) + ge*(Ee - v) + gi*(Ei - v)) / C : volt (unless refractory)
                 dge/dt = -ge / taue : siemens
                 dgi/dt = -gi / taui : siemens"""
        on_e, on_i = "ge += 6*nS", "gi += 67*nS"
    else:
        ns["El"] = -49 * mV
        eqs = """dv/dt = (ge + gi - (v - El)) / taum : volt (unless refractory)
                 dge/dt = -ge / taue : volt
                 dgi/dt = -gi / taui : volt"""
        on_e, on_i = "ge += 1.62*mV", "gi -= 9*mV"
    P = b2.NeuronGroup(n, eqs, threshold="v > Vt", reset="v = Vr", refractory=5 * ms,
                       method="exponential_euler", namespace=ns)
    Pe, Pi = P[:args.n_exc], P[args.n_exc:]
    Ce = b2.Synapses(Pe, P, on_pre=on_e, delay=0.1 * ms)
    Ci = b2.Synapses(Pi, P, on_pre=on_i, delay=0.1 * ms)
    given = np.load(args.load) if args.load else None
    if given is not None:
        Ce.connect(i=given["ce_i"], j=given["ce_j"])
        Ci.connect(i=given["ci_i"], j=given["ci_j"])
        unit = nS if args.network == "coba" else mV
        P.v = given["v0_mv"] * mV
        P.ge = given["ge0"] * unit
        P.gi = given["gi0"] * unit
    else:
        Ce.connect(p=0.02)
        Ci.connect(p=0.02)
        if args.network == "coba":
            P.v = "El + (randn() * 5 - 5) * mV"
            P.ge = "(randn() * 1.5 + 4) * 10 * nS"
            P.gi = "(randn() * 12 + 20) * 10 * nS"
        else:
            P.v = "Vr + rand() * (Vt - Vr)"
    init = {"v0_mv": np.asarray(P.v / mV), "ge0": np.asarray(P.ge / (nS if args.network == "coba" else mV)),
            "gi0": np.asarray(P.gi / (nS if args.network == "coba" else mV)),
            "ce_i": np.asarray(Ce.i), "ce_j": np.asarray(Ce.j), "ci_i": np.asarray(Ci.i), "ci_j": np.asarray(Ci.j)}
    spikes = b2.SpikeMonitor(P)
    net = b2.Network(P, Ce, Ci, spikes)
    t1 = time.perf_counter()
    net.run(0.1 * ms)  # compiles the code objects
    t2 = time.perf_counter()
    net.run(args.duration_ms * ms)
    t3 = time.perf_counter()
    i, t = np.asarray(spikes.i), np.asarray(spikes.t / ms)
    keep = t > 0.1 + 1e-9
    i, t = i[keep], t[keep]
    dur_s = args.duration_ms * 1e-3
    cvs = []
    for j in range(0, n, 10):
        tj = np.sort(t[i == j])
        if len(tj) >= 3:
            isi = np.diff(tj)
            cvs.append(isi.std() / isi.mean())
    if args.export:
        # spike_step: the step whose update produced the spike (Brian2 stamps it at that step's start)
        np.savez(args.export, counts=np.bincount(i, minlength=n), spike_i=i,
                 spike_step=np.rint(t / 0.1).astype(np.int64), **init)
    print(json.dumps({
        "network": args.network, "seed": args.seed, "peer": f"brian2 {b2.__version__} cython",
        "rate_E_hz": float((i < args.n_exc).sum() / args.n_exc / dur_s),
        "rate_I_hz": float((i >= args.n_exc).sum() / args.n_inh / dur_s),
        "isi_cv": float(np.mean(cvs)) if cvs else float("nan"),
        "n_synapses": int(len(Ce) + len(Ci)),
        "build_s": t1 - t0, "compile_s": t2 - t1, "run_s": t3 - t2,
    }))


if __name__ == "__main__":
    main()
