"""Brunel (2000) sparsely connected E/I network of LIF neurons with delta synapses.

NE = 10,000 excitatory and NI = 2,500 inhibitory neurons; every neuron receives CE = 0.1 NE
excitatory and CI = 0.1 NI inhibitory inputs (fixed in-degree), J = 0.1 mV, inhibitory
J_I = -g J, delay 1.5 ms; tau_m = 20 ms, theta = 20 mV (rest 0), V_reset = 0 mV, t_ref = 2 ms
(NEST ``brunel_delta_nest.py``); external Poisson input at nu_ext = eta nu_thr with
nu_thr = theta / (J CE tau_m). With g = 5, eta = 2 the network is asynchronous-irregular at
~32 Hz (Brian2, REFERENCE.md).
"""

from __future__ import annotations

import jax

from .. import connectivity as cx
from .. import network as nw
from .. import neurons, propagation

__all__ = ["brunel", "BRUNEL_PARAMS"]

BRUNEL_PARAMS = neurons.LIFParams(v_rest=0.0, v_th=20.0, v_reset=0.0, tau_m=20.0, c_m=250.0, t_ref=2.0)


def brunel(n_exc: int = 10_000, n_inh: int = 2_500, epsilon: float = 0.1, j_mv: float = 0.1,
           g: float = 5.0, eta: float = 2.0, delay_ms: float = 1.5, seed: int = 0, dt: float = 0.1,
           impl: str = "auto", kind: str = "fixed_indegree", delay_std_ms: float = 0.0):
    """The network and its initial state (v uniform in [0, theta)).

    kind: ``fixed_indegree`` (Brunel's; CE and CI inputs each) or ``fixed_prob`` (each pair
    with probability epsilon: the same mean in-degree, generated source-major, so it can be
    procedural). delay_std_ms > 0: normal delays (clipped to [dt, mean + 4 sd])."""
    if kind not in ("fixed_indegree", "fixed_prob"):
        raise ValueError(f"kind {kind!r}; allowed: fixed_indegree, fixed_prob")
    ce, ci = int(epsilon * n_exc), int(epsilon * n_inh)
    p = BRUNEL_PARAMS
    nu_thr_hz = p.v_th / (j_mv * ce * p.tau_m) * 1e3
    drive = nw.PoissonDrive(rate_hz=eta * nu_thr_hz, n_sources=ce, weight=j_mv, receptor="ex")
    pops = {"E": nw.Population(n_exc, neurons.lif_delta, p, drive=drive),
            "I": nw.Population(n_inh, neurons.lif_delta, p, drive=drive)}
    projs = {}
    delay = cx.DelayLaw("constant", delay_ms) if delay_std_ms <= 0 else \
        cx.DelayLaw("normal", delay_ms, delay_std_ms, max_ms=delay_ms + 4 * delay_std_ms)
    for k, (pre, post, w, rec, indeg) in enumerate([("E", "E", j_mv, "ex", ce), ("E", "I", j_mv, "ex", ce),
                                                    ("I", "E", -g * j_mv, "in", ci), ("I", "I", -g * j_mv, "in", ci)]):
        kw = dict(seed=seed, proj_id=k, weight=cx.WeightLaw("constant", w), delay=delay, allow_autapses=pre != post)
        conn = cx.fixed_indegree(pops[pre].n, pops[post].n, indeg, **kw) if kind == "fixed_indegree" else \
            cx.fixed_prob(pops[pre].n, pops[post].n, epsilon, **kw)
        projs[pre + post] = nw.Projection(pre, post, propagation.build(conn, impl, dt, 30.0), rec)
    net = nw.network(pops, projs, dt=dt, seed=seed)
    key = jax.random.key(seed)
    v0 = {name: p.v_th * jax.random.uniform(jax.random.fold_in(key, i), (pops[name].n,))
          for i, name in enumerate(("E", "I"))}
    return net, nw.init_state(net, v0)
