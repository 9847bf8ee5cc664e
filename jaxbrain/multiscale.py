"""A multiscale brain: detailed spiking regions, region groups and mean-field regions in one
simulation, coupled through a connectome with delays.

Levels (the "hierarchical 3-level abstraction", TVB-multiscale style):

* **detailed** regions: E/I networks of LIF neurons (:data:`jaxbrain.neurons.lif_current`)
  with random recurrent synapses (:func:`jaxbrain.connectivity.fixed_prob`) and a Poisson
  drive;
* **region groups**: several connectome nodes simulated as one mean-field unit (their inputs
  are averaged, their output is shared), e.g. a lobe that is not of interest;
* **mean-field** regions: one reduced Wong-Wang or Montbrio-Pazo-Roxin unit per node
  (:mod:`jaxbrain.meanfield`).

A *node* is a row of the connectome (weights ``C[i, j]`` from node j to node i, delays
``D[i, j]`` in ms); a *unit* is what is simulated (a spiking region or a mean-field unit). Each
node belongs to one unit; a group is a unit with several nodes.

Coupling (one exchange every ``t_ex`` ms, ``t_ex`` at most the shortest inter-region delay so
that nothing sent in an interval is needed within it):

* every unit exports, per exchange interval, its **rate** (Hz; spiking regions: excitatory
  spike count / (n_exc t_ex)) and an NMDA-like **gating** S (Wong-Wang units: their S; other
  units: the Wong-Wang synapse dS/dt = -S/tau_S + (1 - S) gamma r driven by their rate);
* node i receives ``rate_in_i = sum_j C_ij rate_j(k - d_ij)`` and ``S_in_i = sum_j C_ij
  S_j(k - d_ij)`` with lags ``d_ij = round(D_ij / t_ex) >= 1`` exchange intervals (a signal
  sent in interval m arrives in interval m + d_ij); a unit's input is the mean over its nodes;
* rate -> spikes: each neuron of a detailed region gets Poisson input from ``k_ext`` background
  sources at ``nu_bg`` and ``k_conn`` connectome sources at ``rate_in`` (plus a stimulus);
* Wong-Wang units: ``I_ext = J_N G_ww S_in``; MPR units: ``I = G_mpr J tau rate_in`` (rate in
  kHz, tau in ms), like their own recurrent input.

Within an interval every unit advances ``t_ex / dt`` steps of ``dt`` ms with its inputs held.
:func:`simulate` runs everything inside one ``lax.scan``; :func:`simulate_streamed` keeps the
detailed regions' states in host memory and pages them through a device cache
(:mod:`jaxbrain.streaming`) with identical results.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jaxtyping import Array, Float, Int

from . import connectivity as cx
from . import propagation
from .delays import DelayRing, ring_init, ring_read
from .inputs import poisson_counts
from .meanfield import MPRParams, WongWangParams, montbrio, wong_wang
from .neurons import LIFParams, LIFState, lif_current

__all__ = [
    "SpikingRegionParams", "SpikingState", "Brain", "BrainState", "Record", "build_brain",
    "init_state", "exchange", "simulate", "simulate_streamed", "lags_from_delays",
    "synthetic_connectome", "spiking_region_substeps", "make_pager", "unit_inputs", "LEVELS",
]

LEVELS = ("spiking", "wong_wang", "montbrio")
_POISSON_STREAM = 7919  # counter stream of the Poisson drive of detailed regions


# ---- detailed spiking region ------------------------------------------------------------

@struct.dataclass
class SpikingRegionParams:
    """An E/I LIF region (current-based, exponential PSCs) with Poisson drive.

    Attributes:
        lif: neuron parameters (mV, ms, pF, pA).
        j_ex: excitatory PSC amplitude, pA; inhibitory ones are -g j_ex.
        g: relative inhibitory strength.
        nu_bg: rate of each background Poisson source, Hz.
        w_ext: PSC amplitude of external (background and connectome) inputs, pA.
        n_exc, n_inh: population sizes (static).
        p_conn: recurrent connection probability (static).
        delay_ms: recurrent synaptic delay, ms (static).
        k_ext: background Poisson sources per neuron (static).
        k_conn: connectome Poisson sources per neuron, each at the incoming rate (static).
        impl: recurrent propagation, 'dense' or one of :data:`jaxbrain.propagation.IMPLS`
            ('event' for large sparse regions).
    """
    lif: LIFParams = LIFParams()
    j_ex: float = 30.0
    g: float = 5.0
    nu_bg: float = 8.0
    w_ext: float = 6.5
    n_exc: int = struct.field(pytree_node=False, default=800)
    n_inh: int = struct.field(pytree_node=False, default=200)
    p_conn: float = struct.field(pytree_node=False, default=0.1)
    delay_ms: float = struct.field(pytree_node=False, default=1.5)
    k_ext: int = struct.field(pytree_node=False, default=800)
    k_conn: int = struct.field(pytree_node=False, default=100)
    impl: str = struct.field(pytree_node=False, default="dense")

    @property
    def n(self) -> int:
        return self.n_exc + self.n_inh


class SpikingState(NamedTuple):
    """State of one detailed region (leading axis: region, when stacked)."""
    neurons: LIFState
    ring_ex: DelayRing
    ring_in: DelayRing
    S: Float[Array, ""]


_source_rows = jax.jit(cx.source_rows, static_argnums=2)


def region_synapses(p: SpikingRegionParams, seed: int, dt: float):
    # connectivity.source_rows broadcasts (n, 1) against (d,): allow it under strict rank
    # promotion (reported to the owner of connectivity.py)
    with jax.numpy_rank_promotion("allow"):
        return _region_synapses(p, seed, dt)


def _region_synapses(p: SpikingRegionParams, seed: int, dt: float):
    """The recurrent synapses of one region as two projections, (E -> all, I -> all), from
    procedural ``fixed_prob`` descriptions (weights in pA: j_ex for E sources, g j_ex for I
    sources; delay ``delay_ms``), prepared for the propagation implementation ``p.impl``."""
    delay = cx.DelayLaw("constant", p.delay_ms)
    ce = cx.fixed_prob(p.n_exc, p.n, p.p_conn, seed=seed, proj_id=0,
                       weight=cx.WeightLaw("constant", p.j_ex), delay=delay)
    ci = cx.fixed_prob(p.n_inh, p.n, p.p_conn, seed=seed, proj_id=1,
                       weight=cx.WeightLaw("constant", p.g * p.j_ex), delay=delay)
    if p.impl == "dense":   # small regions: the same synapses, densified without a compile
        out = []
        for c in (ce, ci):
            rows = _source_rows(c, jnp.arange(c.n_pre, dtype=jnp.int32), dt)
            t, wt = np.asarray(rows.targets), np.asarray(rows.weights)
            dense = np.zeros((c.n_pre, c.n_post + 1), np.float32)
            np.add.at(dense, (np.arange(c.n_pre)[:, None].repeat(t.shape[1], 1), t), wt)
            out.append(propagation.Synapses(conn=c, w_dense=jnp.asarray(dense[:, :-1]),
                                            impl="dense", dt=dt))
        return tuple(out)
    return (propagation.build(ce, p.impl, dt=dt, rate_hz=20.0),
            propagation.build(ci, p.impl, dt=dt, rate_hz=20.0))


def _stack_synapses(syns: list):
    """Stack the synapses of several regions (explicit rows padded to a common width)."""
    if syns[0].ell is not None:
        width = max(s.ell.targets.shape[1] for s in syns)

        def pad(s):
            e = s.ell
            extra = width - e.targets.shape[1]
            p = lambda a, fill: jnp.pad(a, ((0, 0), (0, extra)), constant_values=fill)
            return s.replace(ell=e.replace(targets=p(e.targets, e.n_post), weights=p(e.weights, 0.0),
                                           delays=p(e.delays, 1)))
        syns = [pad(s) for s in syns]
    return jax.tree.map(lambda *x: jnp.stack(x), *syns)


def _spiking_init(p: SpikingRegionParams, dt: float, v0) -> SpikingState:
    d = max(1, int(round(p.delay_ms / dt)))
    return SpikingState(lif_current.init(p.lif, p.n, v0=v0), ring_init(p.n, d), ring_init(p.n, d),
                        jnp.zeros((), jnp.float32))


def spiking_region_substeps(p: SpikingRegionParams, syn, state: SpikingState,
                            rate_in_hz, unit, step0, seed, dt: float, n_sub: int,
                            k_max: int, ww: WongWangParams, n_raster: int = 0):
    """Advance one detailed region by ``n_sub`` steps with its connectome input held.

    Arguments:
        syn: (E -> all, I -> all) synapses from :func:`region_synapses`.
        rate_in_hz: rate of each connectome Poisson source (Hz) = sum_j C_ij r_j + stimulus.
        unit: the region's global unit index (a counter of its Poisson drive).
        step0: global index of the first step (a counter of its Poisson drive).
    Returns:
        (state, (excitatory spike count over the interval, raster [n_sub, n_raster] bool,
        inhibitory spike count)).
    """
    syn_e, syn_i = syn
    lam = (p.k_ext * p.nu_bg + p.k_conn * jnp.maximum(rate_in_hz, 0.0)) * (dt * 1e-3)
    idx = jnp.arange(p.n, dtype=jnp.uint32)

    def body(st: SpikingState, i):
        t = step0 + i
        ex_now, ring_ex = ring_read(st.ring_ex, t)
        in_now, ring_in = ring_read(st.ring_in, t)
        ext = poisson_counts(lam, seed, _POISSON_STREAM, unit, t, idx, k_max=k_max) * p.w_ext
        neurons, spikes = lif_current.step(p.lif, st.neurons, ex_now + ext, -in_now, 0.0, dt)
        ring_ex = propagation.deliver(syn_e, spikes[:p.n_exc], ring_ex, t)
        ring_in = propagation.deliver(syn_i, spikes[p.n_exc:], ring_in, t)
        n_e = jnp.sum(spikes[:p.n_exc])
        rate_khz = n_e / (p.n_exc * dt)
        S = st.S + dt * (-st.S / ww.tau_s + (1.0 - st.S) * ww.gamma * rate_khz)
        return SpikingState(neurons, ring_ex, ring_in, S), (n_e, spikes[:n_raster] > 0,
                                                            jnp.sum(spikes[p.n_exc:]))

    state, (counts, raster, inh) = jax.lax.scan(body, state, jnp.arange(n_sub))
    return state, (counts.sum(), raster, inh.sum())


# ---- the brain ----------------------------------------------------------------------------

@struct.dataclass
class Brain:
    """Structure and parameters of a multiscale brain (a pytree; sizes static).

    Units are ordered [detailed regions..., Wong-Wang units..., MPR units...].

    Attributes:
        weights: connectome C [n_nodes, n_nodes], C[i, j] from node j to node i.
        lags: delays in exchange intervals [n_nodes, n_nodes], >= 1 where C != 0.
        node_unit: unit of each node [n_nodes].
        unit_mean: [n_units, n_nodes] averaging matrix (row u: 1/|nodes of u| on its nodes).
        spk_syn: recurrent synapses of the detailed regions, (E -> all, I -> all)
            :class:`jaxbrain.propagation.Synapses` stacked over regions.
        spk: detailed region parameters (shared by all detailed regions).
        ww, mpr: mean-field parameters. g_ww, g_mpr: global couplings.
        dt, t_ex: step and exchange interval, ms (static). seed: Poisson seed.
    """
    weights: Float[Array, "nodes nodes"]
    lags: Int[Array, "nodes nodes"]
    node_unit: Int[Array, "nodes"]
    unit_mean: Float[Array, "units nodes"]
    spk_syn: tuple
    spk: SpikingRegionParams
    ww: WongWangParams
    mpr: MPRParams
    g_ww: float
    g_mpr: float
    seed: int
    n_spk: int = struct.field(pytree_node=False)
    n_ww: int = struct.field(pytree_node=False)
    n_mpr: int = struct.field(pytree_node=False)
    max_lag: int = struct.field(pytree_node=False)
    dt: float = struct.field(pytree_node=False)
    t_ex: float = struct.field(pytree_node=False)
    k_max: int = struct.field(pytree_node=False)
    n_raster: int = struct.field(pytree_node=False, default=0)

    @property
    def n_units(self) -> int:
        return self.n_spk + self.n_ww + self.n_mpr

    @property
    def n_sub(self) -> int:
        return int(round(self.t_ex / self.dt))


class BrainState(NamedTuple):
    """spk: stacked detailed-region states; ww: Wong-Wang S [n_ww]; mpr: MPR (r, v) [n_mpr];
    mpr_S: gating of MPR units [n_mpr]; history: exported (rate Hz, S) per exchange
    [max_lag + 1, n_units, 2]; k: exchange counter."""
    spk: SpikingState
    ww: Float[Array, "ww"]
    mpr: tuple
    mpr_S: Float[Array, "mpr"]
    history: Float[Array, "lag units 2"]
    k: Int[Array, ""]


class Record(NamedTuple):
    """Per exchange interval: rate (Hz) and gating S of every unit [n_ex, n_units];
    excitatory and inhibitory spike counts of the detailed regions [n_ex, n_spk]; a raster
    of the first ``n_raster`` neurons of each detailed region [n_ex, n_spk, n_sub, n_raster]."""
    rate_hz: Float[Array, "ex units"]
    S: Float[Array, "ex units"]
    spike_counts: Float[Array, "ex spk"]
    raster: Array
    inh_counts: Float[Array, "ex spk"]


def lags_from_delays(delays_ms: np.ndarray, weights: np.ndarray, t_ex: float) -> np.ndarray:
    """Delays in exchange intervals, ``round(D / t_ex)``; checks ``t_ex <= min delay``."""
    delays_ms, weights = np.asarray(delays_ms, np.float64), np.asarray(weights, np.float64)
    if delays_ms.shape != weights.shape or delays_ms.ndim != 2 or delays_ms.shape[0] != delays_ms.shape[1]:
        raise ValueError(f"delays {delays_ms.shape} and weights {weights.shape} must be the same "
                         "square [n_nodes, n_nodes] shape")
    coupled = (weights != 0) & ~np.eye(len(weights), dtype=bool)
    if not coupled.any():
        return np.ones(weights.shape, np.int32)
    d_min = float(delays_ms[coupled].min())
    if not t_ex <= d_min + 1e-9:
        raise ValueError(f"exchange interval t_ex = {t_ex} ms exceeds the shortest inter-region "
                         f"delay {d_min} ms; allowed: t_ex <= {d_min}")
    lags = np.where(coupled, np.maximum(np.round(delays_ms / t_ex), 1), 1).astype(np.int32)
    return lags


def synthetic_connectome(n_nodes: int, seed: int = 0, density: float = 0.5,
                         velocity_mm_per_ms: float = 3.0, radius_mm: float = 60.0):
    """A random connectome: nodes uniform in a ball, log-normal weights decaying with distance
    (normalised so each row sums to at most 1), delays = distance / velocity (ms).

    Returns (weights [n, n], delays_ms [n, n], positions [n, 3])."""
    r = np.random.default_rng(seed)
    pos = r.normal(size=(n_nodes, 3))
    pos = radius_mm * pos / np.linalg.norm(pos, axis=1, keepdims=True) * r.uniform(0.3, 1, (n_nodes, 1))
    dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    w = r.lognormal(0.0, 1.0, (n_nodes, n_nodes)) * np.exp(-dist / radius_mm)
    w *= r.uniform(size=w.shape) < density
    np.fill_diagonal(w, 0.0)
    w /= max(w.sum(1).max(), 1e-12)
    delays = np.maximum(dist / velocity_mm_per_ms, 1e-3)
    np.fill_diagonal(delays, 0.0)
    return w.astype(np.float32), delays.astype(np.float32), pos


def build_brain(weights, delays_ms, levels, groups=None, *, spk: SpikingRegionParams = SpikingRegionParams(),
                ww: WongWangParams = WongWangParams(), mpr: MPRParams = MPRParams(tau=10.0),
                g_ww: float = 0.5, g_mpr: float = 1.0, dt: float = 0.1, t_ex: float = 1.0,
                seed: int = 0, max_rate_hz: float = 200.0, n_raster: int = 0) -> Brain:
    """Assemble a :class:`Brain` (outside jit; validates everything first).

    Arguments:
        weights, delays_ms: connectome [n_nodes, n_nodes] (C[i, j]: from j to i; ms).
        levels: per node, one of ``LEVELS`` ('spiking', 'wong_wang', 'montbrio').
        groups: list of lists of node indices simulated as one unit each (a region group);
            all nodes of a group must have the same mean-field level. Other nodes are units
            of their own.
        t_ex: exchange interval, ms; a multiple of dt and <= the shortest delay.
        max_rate_hz: bound of the connectome rate, sizes the exact Poisson sampler.
    """
    weights = np.asarray(weights, np.float32)
    n = weights.shape[0]
    levels = list(levels)
    if len(levels) != n:
        raise ValueError(f"levels has {len(levels)} entries; expected one per node ({n})")
    for i, lv in enumerate(levels):
        if lv not in LEVELS:
            raise ValueError(f"levels[{i}] = {lv!r}; allowed: {list(LEVELS)}")
    if dt <= 0 or t_ex <= 0 or abs(t_ex / dt - round(t_ex / dt)) > 1e-6:
        raise ValueError(f"t_ex = {t_ex} ms must be a positive multiple of dt = {dt} ms")
    lags = lags_from_delays(delays_ms, weights, t_ex)
    groups = [list(g) for g in (groups or [])]
    seen = set()
    for g in groups:
        if not g:
            raise ValueError("a region group must have at least one node")
        for i in g:
            if not 0 <= i < n or i in seen:
                raise ValueError(f"group node {i!r}: must be a node index in [0, {n}) in one group only")
            seen.add(i)
        kinds = {levels[i] for i in g}
        if len(kinds) != 1 or "spiking" in kinds:
            raise ValueError(f"group {g}: all nodes must share one mean-field level "
                             f"(wong_wang or montbrio), got {sorted(kinds)}")
    units = []   # (level, [nodes])
    for lv in LEVELS:
        for i in range(n):
            if levels[i] == lv and i not in seen:
                units.append((lv, [i]))
        for g in groups:
            if levels[g[0]] == lv:
                units.append((lv, g))
    node_unit = np.zeros(n, np.int32)
    unit_mean = np.zeros((len(units), n), np.float32)
    for u, (_, nodes) in enumerate(units):
        node_unit[nodes] = u
        unit_mean[u, nodes] = 1.0 / len(nodes)
    n_spk = sum(lv == "spiking" for lv, _ in units)
    n_ww = sum(lv == "wong_wang" for lv, _ in units)
    n_mpr = sum(lv == "montbrio" for lv, _ in units)
    if n_spk == 0:
        raise ValueError("levels: at least one node must be 'spiking' (a detailed region)")
    syns = [region_synapses(spk, seed * 1000 + u, dt) for u in range(n_spk)]
    spk_syn = tuple(_stack_synapses([s[i] for s in syns]) for i in range(2))
    lam_max = (spk.k_ext * spk.nu_bg + spk.k_conn * max_rate_hz) * dt * 1e-3
    k_max = int(math.ceil(lam_max + 10 * math.sqrt(lam_max) + 10))
    return Brain(weights=jnp.asarray(weights), lags=jnp.asarray(lags), node_unit=jnp.asarray(node_unit),
                 unit_mean=jnp.asarray(unit_mean), spk_syn=spk_syn, spk=spk, ww=ww, mpr=mpr,
                 g_ww=g_ww, g_mpr=g_mpr, seed=seed, n_spk=n_spk, n_ww=n_ww, n_mpr=n_mpr,
                 max_lag=int(lags.max()), dt=dt, t_ex=t_ex, k_max=k_max, n_raster=n_raster)


def init_state(brain: Brain, key=None, ww_S0=0.1, mpr_r0=None, mpr_v0=None) -> BrainState:
    """Initial state: detailed regions with potentials uniform in [v_reset, v_th) from
    ``key`` (or at rest), mean-field units at the given values (MPR: its low state)."""
    p = brain.spk
    if key is not None:
        v0 = jax.random.uniform(key, (max(brain.n_spk, 1), p.n), minval=p.lif.v_reset, maxval=p.lif.v_th)
    else:
        v0 = jnp.full((max(brain.n_spk, 1), p.n), p.lif.v_rest)
    spk = jax.vmap(lambda v: _spiking_init(p, brain.dt, v))(v0[:brain.n_spk])
    tau = brain.mpr.tau
    mpr = montbrio.init(brain.mpr, brain.n_mpr,
                        r0=0.0811 / tau if mpr_r0 is None else mpr_r0,
                        v0=-1.96 if mpr_v0 is None else mpr_v0)
    return BrainState(spk=spk, ww=wong_wang.init(brain.ww, brain.n_ww, S0=jnp.full((brain.n_ww,), ww_S0)).S,
                      mpr=tuple(mpr), mpr_S=jnp.zeros((brain.n_mpr,), jnp.float32),
                      history=jnp.zeros((brain.max_lag + 1, brain.n_units, 2), jnp.float32),
                      k=jnp.zeros((), jnp.int32))


# ---- one exchange interval ---------------------------------------------------------------

def unit_inputs(brain: Brain, history: Float[Array, "lag units 2"], k) -> Float[Array, "units 2"]:
    """Connectome input of each unit at exchange k: (rate_in Hz, S_in), means over its nodes.

    Node j's signal is its unit's export of interval k - lag[i, j]."""
    L = history.shape[0]
    slots = (k - brain.lags) % L                                 # [i, j]
    sig = history[slots, brain.node_unit[None, :]]               # [i, j, 2]
    node_in = jnp.einsum("ij,ijc->ic", brain.weights, sig)       # [nodes, 2]
    return brain.unit_mean @ node_in


def _mean_field_interval(brain: Brain, state: BrainState, ww_in, mpr_in):
    """Advance the Wong-Wang and MPR units by n_sub steps; mean rate (kHz) and final S."""
    ww_p, mpr_p, dt = brain.ww, brain.mpr, brain.dt

    def body(c, _):
        S_ww, mpr_s, S_mpr = c
        S_ww, r_ww = wong_wang.step(ww_p, wong_wang.init(ww_p, brain.n_ww, S0=S_ww), ww_in, dt)
        mpr_s, r_mpr = montbrio.step(mpr_p, montbrio.init(mpr_p, brain.n_mpr, *mpr_s), mpr_in, dt)
        S_mpr = S_mpr + dt * (-S_mpr / ww_p.tau_s + (1.0 - S_mpr) * ww_p.gamma * r_mpr)
        return (S_ww.S, tuple(mpr_s), S_mpr), (r_ww, r_mpr)

    (S_ww, mpr_s, S_mpr), (r_ww, r_mpr) = jax.lax.scan(
        body, (state.ww, state.mpr, state.mpr_S), None, length=brain.n_sub)
    return S_ww, mpr_s, S_mpr, r_ww.mean(0), r_mpr.mean(0)


def _mf_inputs(brain: Brain, u_in, stim):
    """Inputs of the mean-field units from the unit inputs [n_units, 2] and stimulus."""
    a, b = brain.n_spk, brain.n_spk + brain.n_ww
    ww_in = brain.ww.J_N * brain.g_ww * u_in[a:b, 1] + stim[a:b]
    mpr_in = brain.g_mpr * brain.mpr.J * brain.mpr.tau * u_in[b:, 0] * 1e-3 + stim[b:]
    return ww_in, mpr_in


def _spk_interval(brain: Brain, spk_state, syn, rate_in, units, step0):
    """Advance (vmapped) detailed regions; returns (state, counts, raster)."""
    def one(st, syn_u, r_in, u):
        return spiking_region_substeps(brain.spk, syn_u, st, r_in, u, step0, brain.seed, brain.dt,
                                       brain.n_sub, brain.k_max, brain.ww, brain.n_raster)
    st, (counts, raster, inh) = jax.vmap(one)(spk_state, syn, rate_in, units)
    return st, counts, raster, inh


def _export(brain: Brain, state: BrainState, counts, spk_S, r_ww, r_mpr, S_ww, S_mpr, k):
    rate_spk = counts / (brain.spk.n_exc * brain.t_ex) * 1e3        # Hz
    rate = jnp.concatenate([rate_spk, r_ww * 1e3, r_mpr * 1e3])
    S = jnp.concatenate([spk_S, S_ww, S_mpr])
    sig = jnp.stack([rate, S], axis=-1)
    history = state.history.at[k % state.history.shape[0]].set(sig)
    return history, rate, S


def exchange(brain: Brain, state: BrainState, stim: Float[Array, "units"]):
    """One exchange interval: read delayed inputs, advance every unit, export its signals.

    ``stim``: per unit, extra Poisson rate (Hz per connectome source) for detailed regions,
    extra input current for mean-field units (nA for Wong-Wang, units of eta for MPR).
    Returns (state, Record of this interval)."""
    k = state.k
    u_in = unit_inputs(brain, state.history, k)
    rate_in = u_in[:brain.n_spk, 0] + stim[:brain.n_spk]
    step0 = k * brain.n_sub
    spk, counts, raster, inh = _spk_interval(brain, state.spk, brain.spk_syn, rate_in,
                                        jnp.arange(brain.n_spk), step0)
    ww_in, mpr_in = _mf_inputs(brain, u_in, stim)
    S_ww, mpr_s, S_mpr, r_ww, r_mpr = _mean_field_interval(brain, state, ww_in, mpr_in)
    history, rate, S = _export(brain, state, counts, spk.S, r_ww, r_mpr, S_ww, S_mpr, k)
    new = BrainState(spk, S_ww, mpr_s, S_mpr, history, k + 1)
    return new, Record(rate, S, counts, raster, inh)


def _check_stim(brain: Brain, stim, n_ex):
    if stim is None:
        return jnp.zeros((n_ex, brain.n_units), jnp.float32)
    stim = jnp.asarray(stim, jnp.float32)
    if stim.shape != (n_ex, brain.n_units):
        raise ValueError(f"stimulus shape {stim.shape}; expected (n_exchanges, n_units) = "
                         f"({n_ex}, {brain.n_units})")
    return stim


def simulate(brain: Brain, state: BrainState, n_exchanges: int, stim=None):
    """Run ``n_exchanges`` exchange intervals in one jitted ``lax.scan``.

    Returns (final state, :class:`Record` with a leading axis of n_exchanges)."""
    stim = _check_stim(brain, stim, n_exchanges)
    return _simulate_jit(brain, state, stim)


@jax.jit
def _simulate_jit(brain, state, stim):
    return jax.lax.scan(lambda s, x: exchange(brain, s, x), state, stim)


# ---- streamed: detailed regions paged from host memory ------------------------------------

def make_pager(brain: Brain, state: BrainState, capacity: int, **kw):
    """A :class:`jaxbrain.streaming.RegionPager` of the detailed regions: one item per region,
    (its :class:`SpikingState`, its recurrent synapses), taken from ``state`` and ``brain``."""
    from .streaming import RegionPager
    items = [jax.tree.map(lambda x: np.asarray(x[u]), (state.spk, brain.spk_syn))
             for u in range(brain.n_spk)]
    return RegionPager(items, capacity, **kw)


def simulate_streamed(brain: Brain, state: BrainState, n_exchanges: int, pager, stim=None):
    """As :func:`simulate`, with the detailed regions (state and recurrent weights) held by
    ``pager`` (from :func:`make_pager`) in host memory or on disk instead of on the device:
    each interval pages every region in (LRU), advances it and hands it back to the pager.
    Mean-field units stay on the device. The numbers equal :func:`simulate`'s.

    Regions are swept in alternating order (forwards, then backwards), so with ``capacity``
    slots each exchange after the first pages ``n_spk - capacity`` regions instead of all.
    ``brain.spk_syn`` is not read (the pager holds the synapses).
    Returns (final state with ``spk`` gathered from the pager, Record)."""
    stim = _check_stim(brain, stim, n_exchanges)
    recs = []
    rate_in = _rate_in(brain, state.history, state.k, stim[0])
    for i in range(n_exchanges):
        step0 = state.k * brain.n_sub
        counts, spk_S, rasters, inh = ([None] * brain.n_spk for _ in range(4))
        # sweep the regions forwards, then backwards: the regions resident at the end of one
        # sweep are the first of the next (a cyclic sweep would make LRU miss every time)
        order = range(brain.n_spk) if i % 2 == 0 else range(brain.n_spk - 1, -1, -1)
        for u in order:
            st, syn = pager.get(u)
            st, c, ras, ci = _region_interval(brain, st, syn, rate_in[u], jnp.int32(u), step0)
            pager.put(u, (st, syn))
            counts[u], spk_S[u], rasters[u], inh[u] = c, st.S, ras, ci
        nxt = stim[min(i + 1, n_exchanges - 1)]
        state, rec, rate_in = _mean_field_and_export(brain, state, stim[i], jnp.stack(counts),
                                                     jnp.stack(spk_S), jnp.stack(rasters),
                                                     jnp.stack(inh), nxt)
        recs.append(rec)
    rec = jax.tree.map(lambda *x: jnp.stack(x), *recs)
    spk = jax.tree.map(lambda *x: jnp.stack(x), *[pager.host(u)[0] for u in range(brain.n_spk)])
    return state._replace(spk=spk), rec


@jax.jit
def _rate_in(brain, history, k, stim):
    return unit_inputs(brain, history, k)[:brain.n_spk, 0] + stim[:brain.n_spk]


@jax.jit
def _region_interval(brain, st, syn, rate_in, unit, step0):
    st, (counts, raster, inh) = spiking_region_substeps(
        brain.spk, syn, st, rate_in, unit, step0, brain.seed, brain.dt, brain.n_sub, brain.k_max,
        brain.ww, brain.n_raster)
    return st, counts, raster, inh


@jax.jit
def _mean_field_and_export(brain, state, stim, counts, spk_S, raster, inh, next_stim):
    """Everything of an exchange but the detailed regions (already advanced), and the
    detailed regions' input for the next exchange."""
    u_in = unit_inputs(brain, state.history, state.k)
    ww_in, mpr_in = _mf_inputs(brain, u_in, stim)
    S_ww, mpr_s, S_mpr, r_ww, r_mpr = _mean_field_interval(brain, state, ww_in, mpr_in)
    history, rate, S = _export(brain, state, counts, spk_S, r_ww, r_mpr, S_ww, S_mpr, state.k)
    state = state._replace(ww=S_ww, mpr=mpr_s, mpr_S=S_mpr, history=history, k=state.k + 1)
    rate_in = unit_inputs(brain, history, state.k)[:brain.n_spk, 0] + next_stim[:brain.n_spk]
    return state, Record(rate, S, counts, raster, inh), rate_in


# ---- analysis ----------------------------------------------------------------------------

def shortest_lags(brain: Brain, source_unit: int) -> np.ndarray:
    """Fewest exchange intervals for a change in ``source_unit`` to reach each unit, through
    the connectome (unit graph: lag u -> v = min lag over node pairs j in u, i in v with
    C[i, j] != 0; Dijkstra). Unreachable units get -1."""
    C, lags, nu = np.asarray(brain.weights), np.asarray(brain.lags), np.asarray(brain.node_unit)
    n_u = brain.n_units
    edge = np.full((n_u, n_u), np.inf)
    for i, j in zip(*np.nonzero(C)):
        if i != j:
            edge[nu[j], nu[i]] = min(edge[nu[j], nu[i]], lags[i, j])
    dist = np.full(n_u, np.inf)
    dist[source_unit] = 0
    done = np.zeros(n_u, bool)
    for _ in range(n_u):
        u = int(np.argmin(np.where(done, np.inf, dist)))
        if not np.isfinite(dist[u]):
            break
        done[u] = True
        dist = np.minimum(dist, dist[u] + edge[u])
    return np.where(np.isfinite(dist), dist, -1).astype(int)


def synaptic_events(brain: Brain, rec: Record) -> dict:
    """Synaptic events delivered in the detailed regions over a recording: recurrent
    (spikes x expected out-degree) and external Poisson (expected, from the drive)."""
    p = brain.spk
    out_deg = p.p_conn * p.n
    recurrent = float(np.asarray(rec.spike_counts).sum() + np.asarray(rec.inh_counts).sum()) * out_deg
    n_ex = np.asarray(rec.rate_hz).shape[0]
    t_s = n_ex * brain.t_ex * 1e-3
    background = p.k_ext * p.nu_bg * p.n * brain.n_spk * t_s
    return {"recurrent": recurrent, "background_poisson": background, "total": recurrent + background}


def first_divergence(a: Record, b: Record) -> np.ndarray:
    """Per unit, the first exchange at which two runs' exported signals (rate or S) differ;
    -1 if they never do. With the same seed, a perturbation's wave front."""
    diff = (np.asarray(a.rate_hz) != np.asarray(b.rate_hz)) | (np.asarray(a.S) != np.asarray(b.S))
    return np.where(diff.any(0), diff.argmax(0), -1)
