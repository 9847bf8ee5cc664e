"""The scaled COBA throughput benchmark of brainevent / BrainPy (examples/COBA_2005.py).

4,000 * scale LIF neurons (80 % excitatory), each source projecting to 80 targets (fixed
out-degree, uniform with replacement: 64 onto E and 16 onto I here), conductance synapses
(tau 5 / 10 ms, E_rev 0 / -80 mV), constant drive of 20 mV above rest (V_inf = -40 mV, above
threshold), V_rest = V_reset = -60 mV, V_th = -50 mV, tau_m = 20 ms, t_ref = 5 ms, initial
V ~ N(-55, 2) mV. The peer's weights (0.6 and 6.7 in units where g_L = 1 / R = 1e3) are
6e-4 and 6.7e-3 g_L: the neurons fire at ~60 Hz, nearly regularly, so the benchmark
measures throughput (1.9e10 synaptic events per biological second at 4M neurons).
Unlike Brette 2007's COBA it is not self-sustained; compare like with like.
"""

from __future__ import annotations

import jax

from .. import connectivity as cx
from .. import network as nw
from .. import neurons, propagation

__all__ = ["coba_scaled", "PARAMS"]

PARAMS = neurons.LIFParams(v_rest=-60.0, v_th=-50.0, v_reset=-60.0, tau_m=20.0, c_m=20.0,
                           t_ref=5.0, tau_syn_ex=5.0, tau_syn_in=10.0, e_ex=0.0, e_in=-80.0)


def coba_scaled(scale: float = 1.0, fan_out: int = 80, seed: int = 0, dt: float = 0.1,
                impl: str = "auto", w_ex: float = 6e-4, w_in: float = 6.7e-3):
    """Network and initial state; weights in units of g_L (= 1 nS here), drive 20 pA."""
    n_exc, n_inh = int(3200 * scale), int(800 * scale)
    g_l = PARAMS.c_m / PARAMS.tau_m
    pops = {"E": nw.Population(n_exc, neurons.lif_conductance, PARAMS, i_ext=20.0 * g_l, conductance=True),
            "I": nw.Population(n_inh, neurons.lif_conductance, PARAMS, i_ext=20.0 * g_l, conductance=True)}
    projs = {}
    k_e, k_i = round(fan_out * 0.8), fan_out - round(fan_out * 0.8)
    for k, (pre, post, w, rec, deg) in enumerate([("E", "E", w_ex, "ex", k_e), ("E", "I", w_ex, "ex", k_i),
                                                  ("I", "E", w_in, "in", k_e), ("I", "I", w_in, "in", k_i)]):
        conn = cx.fixed_outdegree(pops[pre].n, pops[post].n, deg, seed=seed, proj_id=k,
                                  weight=cx.WeightLaw("constant", w * g_l), delay=cx.DelayLaw("constant", dt))
        projs[pre + post] = nw.Projection(pre, post, propagation.build(conn, impl, dt, 60.0), rec)
    net = nw.network(pops, projs, dt=dt, seed=seed)
    key = jax.random.key(seed)
    v0 = {name: -55.0 + 2.0 * jax.random.normal(jax.random.fold_in(key, i), (pops[name].n,))
          for i, name in enumerate(("E", "I"))}
    return net, nw.init_state(net, v0)
