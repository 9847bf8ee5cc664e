"""Point-neuron models as pure ``init`` / ``step`` pairs over NamedTuple states.

Units: membrane potentials in mV, times in ms, capacitances in pF, conductances in nS,
currents in pA (so nS * mV = pA and pA * ms / pF = mV). Each model is a
:class:`NeuronModel` ``(init, step)``:

* ``init(params, n, v0=None) -> state`` gives the state of ``n`` neurons at rest (or ``v0``);
* ``step(params, state, syn_ex, syn_in, i_ext, dt) -> (state, spikes)`` advances one step of
  ``dt`` ms. ``syn_ex`` / ``syn_in`` are the synaptic increments that arrived this step
  (nS for conductance synapses, pA for current synapses, mV for delta synapses); exponential
  synapses add them to the synaptic variables after the membrane update, as NEST and Brian2
  do, so they act from the next step; delta synapses add them to v at once.
  ``i_ext`` is a DC / external current in pA. ``spikes`` is float32 in {0, 1}.

Integration is exact where the equations allow it: the current-based LIF with exponential
synaptic currents uses the exact propagator (Rotter & Diesmann 1999, NEST iaf_psc_exp); the
conductance-based LIF, linear in v for the conductances held over a step, uses the
exponential-Euler step (Brian2's ``exponential_euler``); :data:`lif_conductance_euler` is the
forward-Euler step that Brian picks by default for these equations. The spike nonlinearity is
:func:`spike_fn`, a Heaviside step whose gradient is a surrogate, so every model can also be
trained by BPTT.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct
from jaxtyping import Array, Float, Int

__all__ = [
    "spike_fn", "NeuronModel", "LIFParams", "LIFState", "lif_current", "lif_delta", "lif_conductance",
    "lif_conductance_euler",
    "AdLIFParams", "AdLIFState", "adaptive_lif",
]


# ---- spike nonlinearity with surrogate gradient -----------------------------------------

@jax.custom_jvp
def spike_fn(x: Array, slope: float = 5.0) -> Array:
    """Heaviside ``x >= 0`` as float; its derivative is the fast-sigmoid surrogate
    ``d/dx = 1 / (1 + slope*|x|)**2`` (Zenke & Ganguli 2018). ``x`` is (v - v_th) in mV
    (or any scaled distance to threshold). A ``custom_jvp`` (not vjp), so that the models
    also trace inside GPU kernels (:mod:`jaxbrain.step_kernel`)."""
    return (x >= 0).astype(jnp.result_type(x, jnp.float32))


@spike_fn.defjvp
def _spike_jvp(primals, tangents):
    x, slope = primals
    dx, _ = tangents
    return spike_fn(x, slope), dx / (1.0 + slope * jnp.abs(x)) ** 2


class NeuronModel(NamedTuple):
    """A neuron model as a pair of pure functions (Optax style). ``syn_leaves`` names the
    state fields that ``step`` adds ``syn_ex`` / ``syn_in`` to after the membrane update
    (exponential synapses), so that a simulator may deliver into them directly; None where
    the increments act otherwise (delta synapses)."""
    init: Callable
    step: Callable
    syn_leaves: tuple[str, str] | None = None


# ---- leaky integrate-and-fire --------------------------------------------------------

@struct.dataclass
class LIFParams:
    """Parameters of a leaky integrate-and-fire neuron (defaults: biological values).

    Attributes:
        v_rest: resting (leak reversal) potential E_L, mV.
        v_th: spike threshold, mV.
        v_reset: reset potential, mV.
        tau_m: membrane time constant C_m / g_L, ms.
        c_m: membrane capacitance, pF.
        t_ref: absolute refractory period, ms (membrane clamped at v_reset).
        tau_syn_ex: excitatory synaptic time constant, ms.
        tau_syn_in: inhibitory synaptic time constant, ms.
        e_ex: excitatory reversal potential, mV (conductance synapses only).
        e_in: inhibitory reversal potential, mV (conductance synapses only).
    """
    v_rest: float = -70.0
    v_th: float = -55.0
    v_reset: float = -70.0
    tau_m: float = 20.0
    c_m: float = 250.0
    t_ref: float = 2.0
    tau_syn_ex: float = 5.0
    tau_syn_in: float = 10.0
    e_ex: float = 0.0
    e_in: float = -80.0


class LIFState(NamedTuple):
    """State of n LIF neurons: v (mV), g_ex / g_in (nS or pA), refractory steps left."""
    v: Float[Array, "*n"]
    g_ex: Float[Array, "*n"]
    g_in: Float[Array, "*n"]
    refractory: Int[Array, "*n"]


def _lif_init(params: LIFParams, n, v0=None) -> LIFState:
    shape = (n,) if isinstance(n, int) else tuple(n)
    v = jnp.full(shape, params.v_rest, jnp.float32) if v0 is None else jnp.asarray(v0, jnp.float32)
    z = jnp.zeros(shape, jnp.float32)
    return LIFState(v=v, g_ex=z, g_in=z, refractory=jnp.zeros(shape, jnp.int32))


def _ref_steps(params, dt):
    """t_ref / dt rounded half to even (as jnp.round; spelled out, so it traces in kernels)."""
    x = jnp.asarray(params.t_ref, jnp.float32) / dt
    r = jnp.floor(x + 0.5)
    r = jnp.where((r - x == 0.5) & (r - 2.0 * jnp.floor(r / 2.0) != 0), r - 1.0, r)
    return r.astype(jnp.int32)


def _fire_and_reset(params, v_new, state, dt):
    """Clamp refractory neurons, detect threshold crossings, reset."""
    refr = state.refractory > 0
    v_new = jnp.where(refr, params.v_reset, v_new)
    spikes = spike_fn(v_new - params.v_th) * (~refr)
    v_new = v_new - spikes * (v_new - params.v_reset)
    refractory = jnp.where(spikes > 0, _ref_steps(params, dt), jnp.maximum(state.refractory - 1, 0))
    return v_new, spikes, refractory


def _psc_propagator(tau_m, tau_s, c_m, dt):
    """Exact weight of an exponentially decaying current I0 on v over dt (mV per pA)."""
    # tau_s * tau_m / (C (tau_m - tau_s)) * (exp(-dt/tau_m) - exp(-dt/tau_s)); limit tau_s->tau_m
    d = tau_m - tau_s
    safe = jnp.abs(d) > 1e-6 * tau_m
    d_safe = jnp.where(safe, d, 1.0)
    exact = tau_s * tau_m / (c_m * d_safe) * (jnp.exp(-dt / tau_m) - jnp.exp(-dt / tau_s))
    limit = dt / c_m * jnp.exp(-dt / tau_m)
    return jnp.where(safe, exact, limit)


def _lif_current_step(params: LIFParams, state: LIFState, syn_ex, syn_in, i_ext, dt: float):
    """Current-based LIF, exponential PSCs, exact integration (NEST iaf_psc_exp order)."""
    p = params
    p22 = jnp.exp(-dt / p.tau_m)
    p_dc = p.tau_m / p.c_m * (1.0 - p22)  # mV per pA of constant current
    v = (p.v_rest + (state.v - p.v_rest) * p22 + state.g_ex * _psc_propagator(p.tau_m, p.tau_syn_ex, p.c_m, dt)
         + state.g_in * _psc_propagator(p.tau_m, p.tau_syn_in, p.c_m, dt) + i_ext * p_dc)
    v, spikes, refractory = _fire_and_reset(p, v, state, dt)
    g_ex = state.g_ex * jnp.exp(-dt / p.tau_syn_ex) + syn_ex
    g_in = state.g_in * jnp.exp(-dt / p.tau_syn_in) + syn_in
    return LIFState(v, g_ex, g_in, refractory), spikes


def _lif_conductance_step(params: LIFParams, state: LIFState, syn_ex, syn_in, i_ext, dt: float):
    """Conductance-based LIF, exponential conductances, exponential-Euler membrane step.

    C dv/dt = g_L (E_L - v) + g_ex (E_ex - v) + g_in (E_in - v) + I_ext,  g_L = C / tau_m.
    With the conductances held over the step the equation is linear in v and is solved
    exactly: v -> v_inf + (v - v_inf) exp(-dt g_tot / C).
    """
    p = params
    g_l = p.c_m / p.tau_m
    g_tot = g_l + state.g_ex + state.g_in
    v_inf = (g_l * p.v_rest + state.g_ex * p.e_ex + state.g_in * p.e_in + i_ext) / g_tot
    v = v_inf + (state.v - v_inf) * jnp.exp(-dt * g_tot / p.c_m)
    v, spikes, refractory = _fire_and_reset(p, v, state, dt)
    g_ex = state.g_ex * jnp.exp(-dt / p.tau_syn_ex) + syn_ex
    g_in = state.g_in * jnp.exp(-dt / p.tau_syn_in) + syn_in
    return LIFState(v, g_ex, g_in, refractory), spikes


def _lif_conductance_euler_step(params: LIFParams, state: LIFState, syn_ex, syn_in, i_ext, dt: float):
    """Conductance-based LIF, forward Euler for the membrane and both conductances.

    The equations are not linear in v (g_ex v, g_in v), so Brian (1 and 2) integrates them with
    forward Euler unless told otherwise: Diehl & Cook's network ran this way. Per step
    v += dt / C (g_L (E_L - v) + g_ex (E_ex - v) + g_in (E_in - v) + I_ext) and
    g *= 1 - dt / tau_syn. The charge of one conductance increment w is then
    dt * w * sum (1 - dt / tau)^k = tau w, the continuous value, where the exponential-Euler
    step (:data:`lif_conductance`, conductances held at their start-of-step value) gives
    dt w / (1 - exp(-dt / tau)): 1.27 tau w at dt / tau = 0.5.
    """
    p = params
    g_l = p.c_m / p.tau_m
    i_syn = g_l * (p.v_rest - state.v) + state.g_ex * (p.e_ex - state.v) + state.g_in * (p.e_in - state.v)
    v = state.v + dt / p.c_m * (i_syn + i_ext)
    v, spikes, refractory = _fire_and_reset(p, v, state, dt)
    g_ex = state.g_ex * (1.0 - dt / p.tau_syn_ex) + syn_ex
    g_in = state.g_in * (1.0 - dt / p.tau_syn_in) + syn_in
    return LIFState(v, g_ex, g_in, refractory), spikes


def _lif_delta_step(params: LIFParams, state: LIFState, syn_ex, syn_in, i_ext, dt: float):
    """LIF with delta synapses (NEST iaf_psc_delta): each arriving spike makes the membrane
    jump by its weight (mV) in the step it arrives; jumps during refractoriness are lost."""
    p = params
    p22 = jnp.exp(-dt / p.tau_m)
    v = p.v_rest + (state.v - p.v_rest) * p22 + i_ext * p.tau_m / p.c_m * (1.0 - p22) + syn_ex + syn_in
    v, spikes, refractory = _fire_and_reset(p, v, state, dt)
    return LIFState(v, state.g_ex, state.g_in, refractory), spikes


lif_current = NeuronModel(_lif_init, _lif_current_step, ("g_ex", "g_in"))
"""LIF with exponential post-synaptic currents (pA), exact integration."""

lif_delta = NeuronModel(_lif_init, _lif_delta_step)
"""LIF with delta synapses: weights are voltage jumps (mV), exact integration."""

lif_conductance = NeuronModel(_lif_init, _lif_conductance_step, ("g_ex", "g_in"))
"""LIF with exponential conductances (nS), exponential-Euler membrane step (exact for the
conductances held over the step)."""

lif_conductance_euler = NeuronModel(_lif_init, _lif_conductance_euler_step, ("g_ex", "g_in"))
"""LIF with exponential conductances (nS), forward Euler (Brian's default for these equations)."""


# ---- adaptive LIF ----------------------------------------------------------------------

@struct.dataclass
class AdLIFParams(LIFParams):
    """LIF parameters plus a spike-triggered adaptation current ("LIF-A").

    Attributes:
        tau_w: adaptation time constant, ms.
        a: subthreshold adaptation conductance, nS (0 for purely spike-triggered).
        b: adaptation current increment per spike, pA.
    """
    tau_w: float = 100.0
    a: float = 0.0
    b: float = 20.0


class AdLIFState(NamedTuple):
    """LIF state plus the adaptation current w (pA)."""
    v: Float[Array, "*n"]
    g_ex: Float[Array, "*n"]
    g_in: Float[Array, "*n"]
    refractory: Int[Array, "*n"]
    w: Float[Array, "*n"]


def _adlif_init(params: AdLIFParams, n, v0=None) -> AdLIFState:
    s = _lif_init(params, n, v0)
    return AdLIFState(*s, w=jnp.zeros_like(s.v))


def _adlif_step(params: AdLIFParams, state: AdLIFState, syn_ex, syn_in, i_ext, dt: float):
    """Current-based adaptive LIF: the adaptation current w enters as -w (held over the
    step), decays with tau_w towards a (v - E_L), and jumps by b at each spike."""
    lif_state = LIFState(state.v, state.g_ex, state.g_in, state.refractory)
    new, spikes = _lif_current_step(params, lif_state, syn_ex, syn_in, i_ext - state.w, dt)
    decay = jnp.exp(-dt / params.tau_w)
    w_inf = params.a * (state.v - params.v_rest)
    w = w_inf + (state.w - w_inf) * decay + params.b * spikes
    return AdLIFState(*new, w=w), spikes


adaptive_lif = NeuronModel(_adlif_init, _adlif_step, ("g_ex", "g_in"))
"""Adaptive LIF (spike-triggered adaptation current), exponential PSCs."""
