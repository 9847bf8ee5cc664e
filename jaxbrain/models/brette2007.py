"""The Vogels & Abbott (2005) networks as benchmarked by Brette et al. (2007): COBA and CUBA.

3,200 excitatory + 800 inhibitory LIF neurons, random connectivity with p = 0.02, one step
(0.1 ms) synaptic delay, dt = 0.1 ms. Parameters as in REFERENCE.md (and NEST's
``brette_et_al_2007`` / Brian2's examples):

* COBA: E_L = -60, V_th = -50, V_reset = -60 mV, t_ref = 5 ms, C_m = 200 pF, g_L = 10 nS
  (tau_m = 20 ms), E_ex = 0, E_in = -80 mV, tau_ex = 5 ms, tau_in = 10 ms, weights 6 nS
  (exc) and 67 nS (inh); initial v ~ N(E_L - 5, 5) mV, g_ex ~ N(4, 1.5) g_L,
  g_in ~ N(20, 12) g_L. Self-sustained; Brian2 gives 17.6-19.4 Hz.
* CUBA: E_L = -49 mV (above threshold: neurons fire without input), dv/dt =
  (g_ex + g_in - (v - E_L)) / tau_m with jumps of 1.62 mV (exc) and -9 mV (inh), i.e. currents
  of w * C_m / tau_m pA; initial v ~ U(V_reset, V_th). Brian2 gives 5.5-6.2 Hz.

Refractoriness, and why jaxbrain's default rates sit ~1 Hz below Brian2's: jaxbrain (like
NEST) holds the membrane at V_reset for round(t_ref / dt) updates after the step that spiked,
i.e. exactly t_ref. Brian2 evaluates ``timestep(t - lastspike) >= timestep(refractory)``
before each update with the spike stamped at the start of its step, so it resumes one update
earlier: t_ref - dt (4.9 ms here). The self-sustained COBA network is sensitive to this: on
identical networks, 4.9 ms raises jaxbrain's E rate by 0.77 +- 0.13 Hz (27 seeds) and makes
it equal to Brian2's (+0.09 +- 0.09 Hz, paired over 27 Brian2-drawn networks; spike for spike
identical until float32 vs float64 rounding parts the chaotic trajectories). The random
networks and initial states themselves are drawn alike (same degree, overlap, reciprocity and
initial-state statistics; no rate difference between the two generators in one engine over
27 seeds: +0.17 +- 0.39 Hz). docs/peers.md has the tables. The default stays the benchmark's
5 ms in NEST's convention; pass ``t_ref_ms = 5.0 - dt`` to run Brian2's.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .. import connectivity as cx
from .. import network as nw
from .. import neurons, propagation

__all__ = ["coba", "cuba", "COBA_PARAMS", "CUBA_PARAMS"]

COBA_PARAMS = neurons.LIFParams(v_rest=-60.0, v_th=-50.0, v_reset=-60.0, tau_m=20.0, c_m=200.0,
                                t_ref=5.0, tau_syn_ex=5.0, tau_syn_in=10.0, e_ex=0.0, e_in=-80.0)
CUBA_PARAMS = COBA_PARAMS.replace(v_rest=-49.0)


def _build(model, params, w_ex, w_in, n_exc, n_inh, p, seed, dt, impl, rate_hz, conductance, synapses):
    if params.t_ref < 0:
        raise ValueError(f"t_ref_ms={params.t_ref!r}; allowed: >= 0")
    pops = {"E": nw.Population(n_exc, model, params, conductance=conductance),
            "I": nw.Population(n_inh, model, params, conductance=conductance)}
    projs = {}
    for k, (pre, post, w, rec) in enumerate([("E", "E", w_ex, "ex"), ("E", "I", w_ex, "ex"),
                                             ("I", "E", w_in, "in"), ("I", "I", w_in, "in")]):
        if synapses is None:
            conn = cx.fixed_prob(pops[pre].n, pops[post].n, p, seed=seed, proj_id=k,
                                 weight=cx.WeightLaw("constant", w), delay=cx.DelayLaw("constant", dt))
            syn = propagation.build(conn, impl, dt, rate_hz)
        else:  # (source, target) pairs in one 0..N-1 numbering, E first (Brian2's P[:n_exc])
            i, j = (np.asarray(a) for a in synapses[pre])
            sel = (j < n_exc) if post == "E" else (j >= n_exc)
            conn, ell = cx.from_coo(i[sel], j[sel] - (0 if post == "E" else n_exc), w, 1,
                                    pops[pre].n, pops[post].n)
            syn = propagation.from_ell(conn, ell, "event" if impl == "auto" else impl, dt, rate_hz)
        projs[pre + post] = nw.Projection(pre, post, syn, rec)
    return nw.network(pops, projs, dt=dt, seed=seed)


def coba(n_exc: int = 3200, n_inh: int = 800, p: float = 0.02, seed: int = 0, dt: float = 0.1,
         impl: str = "auto", w_ex_ns: float = 6.0, w_in_ns: float = 67.0, synapses=None, init=None,
         t_ref_ms: float = 5.0):
    """The COBA network and its random initial state (seeded).

    ``synapses = {"E": (i, j), "I": (i, j)}`` and ``init = (v0 mV, g_ex0 nS, g_in0 nS)`` (arrays
    over all neurons, E first) replace the generated connectivity / initial state, e.g. to run
    exactly the network another simulator drew.
    """
    net = _build(neurons.lif_conductance, COBA_PARAMS.replace(t_ref=t_ref_ms), w_ex_ns, w_in_ns, n_exc, n_inh, p, seed, dt,
                 impl, 20.0, True, synapses)
    if init is not None:
        v, ge, gi = (jnp.asarray(a, jnp.float32) for a in init)
        cut = lambda a: {"E": a[:n_exc], "I": a[n_exc:]}
        return net, nw.init_state(net, cut(v), {k: (cut(ge)[k], cut(gi)[k]) for k in ("E", "I")})
    g_l = COBA_PARAMS.c_m / COBA_PARAMS.tau_m
    key = jax.random.key(seed)
    v0, g0 = {}, {}
    for i, (name, n) in enumerate((("E", n_exc), ("I", n_inh))):
        kv, ke, ki = jax.random.split(jax.random.fold_in(key, i), 3)
        v0[name] = COBA_PARAMS.v_rest - 5.0 + 5.0 * jax.random.normal(kv, (n,))
        g0[name] = ((4.0 + 1.5 * jax.random.normal(ke, (n,))) * g_l,
                    (20.0 + 12.0 * jax.random.normal(ki, (n,))) * g_l)
    return net, nw.init_state(net, v0, g0)


def cuba(n_exc: int = 3200, n_inh: int = 800, p: float = 0.02, seed: int = 0, dt: float = 0.1,
         impl: str = "auto", w_ex_mv: float = 1.62, w_in_mv: float = -9.0, t_ref_ms: float = 5.0):
    """The CUBA network and its random initial state (seeded). ``t_ref_ms``: as for :func:`coba`."""
    to_pa = CUBA_PARAMS.c_m / CUBA_PARAMS.tau_m
    net = _build(neurons.lif_current, CUBA_PARAMS.replace(t_ref=t_ref_ms), w_ex_mv * to_pa, w_in_mv * to_pa, n_exc, n_inh,
                 p, seed, dt, impl, 6.0, False, None)
    key = jax.random.key(seed)
    v0 = {name: CUBA_PARAMS.v_reset + (CUBA_PARAMS.v_th - CUBA_PARAMS.v_reset)
          * jax.random.uniform(jax.random.fold_in(key, i), (n,))
          for i, (name, n) in enumerate((("E", n_exc), ("I", n_inh)))}
    return net, nw.init_state(net, v0)
