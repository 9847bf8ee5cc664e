"""Potjans & Diesmann (2014) cortical microcircuit: 77,169 LIF neurons in 8 populations.

Parameters as the INM-6 reference implementation (microcircuit-PD14-model, REFERENCE.md):
iaf_psc_exp neurons (E_L = V_reset = -65 mV, V_th = -50 mV, C_m = 250 pF, tau_m = 10 ms,
tau_syn = 0.5 ms, t_ref = 2 ms); connection probabilities from the table below (rows target,
columns source), turned into total synapse numbers K = log(1 - p) / log(1 - 1 / (N_pre N_post))
and realised here as a fixed in-degree round(K / N_post) with multapses (the reference draws K
synapses with multapses, so its in-degrees are Binomial(K, 1 / N_post) around the same mean);
PSP amplitude 0.15 mV (PSC from the exact PSP peak), weights normal with 10 %
relative sd, clipped at 0, inhibitory g = -4, L4E -> L23E doubled; delays normal with 50 %
relative sd (1.5 ms excitatory, 0.75 ms inhibitory), at least one step; Poisson background
of K_ext inputs at 8 Hz; initial V per population from the reference's optimised table.

``n_scaling`` scales the population sizes keeping the in-degrees (the reference's
N_scaling), so the scaled-down circuit keeps the same mean input per neuron.
"""

from __future__ import annotations

import math

import jax
import numpy as np

from .. import connectivity as cx
from .. import network as nw
from .. import neurons, propagation

__all__ = ["POPULATIONS", "N_FULL", "CONN_PROBS", "K_EXT", "REFERENCE_RATES_HZ", "indegree", "microcircuit", "psc_for_psp"]

POPULATIONS = ("L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I")
N_FULL = np.array([20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948])
CONN_PROBS = np.array([
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0],
    [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443]])
K_EXT = np.array([1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100])
V0_MEAN = np.array([-68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43])
V0_STD = np.array([5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48])
REFERENCE_RATES_HZ = dict(zip(POPULATIONS, (0.903, 2.965, 4.414, 5.876, 7.569, 8.633, 1.105, 7.829)))
PARAMS = neurons.LIFParams(v_rest=-65.0, v_th=-50.0, v_reset=-65.0, tau_m=10.0, c_m=250.0, t_ref=2.0,
                           tau_syn_ex=0.5, tau_syn_in=0.5)


def psc_for_psp(psp_mv: float, p: neurons.LIFParams = PARAMS) -> float:
    """Amplitude (pA) of an exponential PSC whose PSP peaks at ``psp_mv`` (iaf_psc_exp)."""
    tm, ts, c = p.tau_m, p.tau_syn_ex, p.c_m
    t_peak = math.log(tm / ts) * tm * ts / (tm - ts)
    per_pa = ts * tm / (c * (tm - ts)) * (math.exp(-t_peak / tm) - math.exp(-t_peak / ts))
    return psp_mv / per_pa


def indegree(t: int, s: int) -> int:
    """In-degree of the projection from population ``s`` to ``t`` (indices into
    POPULATIONS) in the full circuit, used at any scale: the reference's number of synapses
    ``log(1 - p) / log(1 - 1 / (N_s N_t))`` divided by ``N_t`` (at least 1; 0 where p = 0)."""
    p = CONN_PROBS[t, s]
    if p == 0:
        return 0
    k_total = math.log(1 - p) / math.log(1 - 1 / (N_FULL[s] * N_FULL[t]))
    return max(1, int(round(k_total / N_FULL[t])))


def microcircuit(n_scaling: float = 1.0, seed: int = 0, dt: float = 0.1, impl: str = "auto",
                 bg_rate_hz: float = 8.0, psp_mv: float = 0.15, g: float = -4.0):
    """The microcircuit and its initial state."""
    n = np.maximum(1, np.round(N_FULL * n_scaling)).astype(int)
    w_e = psc_for_psp(psp_mv)
    pops = {}
    for i, name in enumerate(POPULATIONS):
        drive = nw.PoissonDrive(rate_hz=bg_rate_hz, n_sources=int(K_EXT[i]), weight=w_e, receptor="ex")
        pops[name] = nw.Population(int(n[i]), neurons.lif_current, PARAMS, drive=drive)
    projs = {}
    for t, tgt in enumerate(POPULATIONS):
        for s, src in enumerate(POPULATIONS):
            k_in = indegree(t, s)
            if k_in == 0:  # p = 0
                continue
            exc = src.endswith("E")
            w = w_e * (2.0 if (src, tgt) == ("L4E", "L23E") else 1.0) * (1.0 if exc else -g)
            d = 1.5 if exc else 0.75
            conn = cx.fixed_indegree(int(n[s]), int(n[t]), k_in, seed=seed, proj_id=t * 8 + s,
                                 weight=cx.WeightLaw("normal", w, 0.1 * w, lo=0.0),
                                 delay=cx.DelayLaw("normal", d, 0.5 * d, max_ms=d + 4 * 0.5 * d,
                                                   redraw_below_ms=dt),
                                 exc_fraction=None if exc else 0.0)  # inhibitory: negative currents
            projs[f"{src}->{tgt}"] = nw.Projection(
                src, tgt, propagation.build(conn, impl, dt, 5.0), "ex" if exc else "in")
    net = nw.network(pops, projs, dt=dt, seed=seed)
    key = jax.random.key(seed)
    v0 = {name: V0_MEAN[i] + V0_STD[i] * jax.random.normal(jax.random.fold_in(key, i), (int(n[i]),))
          for i, name in enumerate(POPULATIONS)}
    return net, nw.init_state(net, v0)
