"""The Brette et al. 2007 COBA / CUBA networks in BrainPy 2.6 (event-driven CSR), for
same-run comparisons with jaxbrain (``jaxbrain run bench_coba_cpu --set peer_brainpy=PYTHON``).

BrainPy needs its own environment (it pins an older JAX); on this CPU-only Python 3.11
machine: ``python3 -m venv .bpenv && .bpenv/bin/pip install "jax==0.4.30" "jaxlib==0.4.30"
"brainpy==2.6.0" "numpy<2"``. Then
    .bpenv/bin/python experiments/peers/brainpy_brette2007.py --network coba --seed 0
prints one JSON line: rates (Hz), build / compile / run wall times (s), as the Brian2 script.

Model (as BrainPy's own COBA / CUBA examples write the benchmark): LIF with refractoriness
(V_rest -60 mV COBA / -49 mV CUBA, V_th -50, V_reset -60, tau_m 20 ms, t_ref 5 ms),
exponential synapses (5 / 10 ms), fixed connection probability 0.02, event-driven CSR
propagation, no synaptic delay; COBA conductances in units of the leak conductance (6 nS /
10 nS = 0.6, 67 nS / 10 nS = 6.7; reversal 0 / -80 mV), CUBA weights 1.62 / -9 mV (with
R = 1 the synaptic variable is a voltage); initial V ~ Normal(-55, 2) mV as in BrainPy's
examples for CUBA; for COBA Brian2's initial state (v ~ El - 5 + 5 N(0,1) mV, ge ~ 4 + 1.5
N(0,1), gi ~ 20 + 12 N(0,1) in units of g_L), without which this network does not start;
dt 0.1 ms, exponential Euler.
"""

import json
import time

import numpy as np
from brette2007_cli import brette_parser


def main():
    ap = brette_parser()
    args = ap.parse_args()
    t0 = time.perf_counter()
    import brainpy as bp
    import brainpy.math as bm

    bm.set_platform("cpu")
    bm.set_dt(0.1)
    bm.random.seed(args.seed)
    coba = args.network == "coba"
    v_rest = -60.0 if coba else -49.0
    w_e, w_i = (0.6, 6.7) if coba else (1.62, -9.0)

    def out(reversal):
        return bp.dyn.COBA.desc(E=reversal) if coba else bp.dyn.CUBA.desc()

    class Net(bp.DynSysGroup):
        def __init__(self):
            super().__init__()
            lif = dict(V_rest=v_rest, V_th=-50.0, V_reset=-60.0, tau=20.0, tau_ref=5.0,
                       V_initializer=bp.init.Normal(-55.0, 2.0))   # replaced below for COBA
            self.E = bp.dyn.LifRef(args.n_exc, **lif)
            self.I = bp.dyn.LifRef(args.n_inh, **lif)
            self.projs = []
            for pre, tau, w, rev in ((self.E, 5.0, w_e, 0.0), (self.I, 10.0, w_i, -80.0)):
                for post in (self.E, self.I):
                    self.projs.append(bp.dyn.FullProjAlignPostMg(
                        pre=pre, delay=None,
                        comm=bp.dnn.EventCSRLinear(bp.conn.FixedProb(
                            0.02, pre=pre.num, post=post.num, seed=10 * args.seed + len(self.projs)), w),
                        syn=bp.dyn.Expon.desc(post.num, tau=tau), out=out(rev), post=post))

        def update(self):
            for p in self.projs:
                p()
            self.E()
            self.I()
            return self.E.spike.value, self.I.spike.value

    net = Net()

    def initial_state():
        bm.random.seed(args.seed)
        net.reset_state()
        if coba:  # Brian2's initial state: v, ge, gi (conductances in units of g_L = 10 nS)
            for pop in (net.E, net.I):
                pop.V.value = bm.asarray(-60.0 + bm.random.randn(pop.num) * 5.0 - 5.0)
            for p in net.projs:
                n_post = p.syn.g.shape[0]
                exc = p.syn.tau == 5.0
                g0 = bm.random.randn(n_post) * 1.5 + 4.0 if exc else bm.random.randn(n_post) * 12.0 + 20.0
                p.syn.g.value = bm.asarray(g0)

    n_steps = int(round(args.duration_ms / bm.get_dt()))
    jit_run = bm.jit(lambda: bm.for_loop(lambda i: net.step_run(i), np.arange(n_steps), progress_bar=False))
    t1 = time.perf_counter()
    initial_state()
    jit_run()[0].block_until_ready()            # compiles the run and runs it once
    t2 = time.perf_counter()
    initial_state()                             # the same initial state again: the timed run
    t3 = time.perf_counter()
    se, si = jit_run()
    se.block_until_ready()
    t4 = time.perf_counter()
    dur_s = args.duration_ms * 1e-3
    print(json.dumps({"network": args.network, "seed": args.seed, "brainpy": bp.__version__,
                      "rate_E_hz": float(np.asarray(se).sum() / args.n_exc / dur_s),
                      "rate_I_hz": float(np.asarray(si).sum() / args.n_inh / dur_s),
                      "build_s": t1 - t0, "compile_s": (t2 - t1) - (t4 - t3), "run_s": t4 - t3}))


if __name__ == "__main__":
    main()
