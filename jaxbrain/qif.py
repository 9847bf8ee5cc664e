"""A network of quadratic integrate-and-fire (QIF) neurons whose mean field is MPR 2015.

N all-to-all coupled QIF neurons (Montbrio, Pazo & Roxin 2015, Phys. Rev. X 5, 021028)::

    tau dv_j/dt = v_j^2 + eta_j + J tau s(t) + I(t),      j = 1..N

with excitabilities eta_j Lorentzian (centre ``eta``, half-width ``delta``), chosen
deterministically as the quantiles eta_j = eta + delta tan(pi/2 (2j - N - 1)/(N + 1)) (as in
the paper), so a network is a function of N alone. A neuron whose v reaches ``v_peak`` is
reset to ``-v_peak`` and held there (refractory) for 2 tau / v_peak, the time the exact QIF
spends going from v_peak to +inf and from -inf to -v_peak; its spike is emitted at the
midpoint, tau / v_peak after the crossing, when v would blow up. s(t) is the population
rate r(t) = (spikes in the step) / (N dt) filtered by an exponential of ``tau_s`` (default
1e-3 tau: with dt = 1e-3 the filter is a single step; a filter of 1e-2 tau, the paper's
averaging window, delays the feedback enough to damp the oscillations after a step in I
about twice as fast as the mean field: measured, see tests/test_qif.py). Within a step the input is held and v follows the exact
QIF flow (a tangent), not forward Euler: Euler at |v| ~ v_peak with dt = 1e-3 tau moves v by
~10 per step and biases the mean potential upwards (we measured +0.2 in the high state).

Observables returned each step: the population rate r (1/time of tau) and the mean v over the
neurons not in their refractory period (the MPR v is the Cauchy centre of the potentials).

With ``tau`` in ms, rates are in kHz. Compare to :data:`jaxbrain.meanfield.montbrio`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jaxtyping import Array, Float

from .meanfield import MPRParams

__all__ = ["QIFParams", "QIFState", "lorentzian_quantiles", "qif_params", "qif_init",
           "qif_step", "qif_simulate"]


def lorentzian_quantiles(center: float, half_width: float, n: int) -> np.ndarray:
    """n deterministic samples of a Lorentzian: center + hw tan(pi/2 (2j - n - 1)/(n + 1))."""
    if n < 1:
        raise ValueError(f"n = {n!r}: the number of QIF neurons must be >= 1")
    j = np.arange(1, n + 1, dtype=np.float64)
    return (center + half_width * np.tan(0.5 * np.pi * (2 * j - n - 1) / (n + 1))).astype(np.float32)


@struct.dataclass
class QIFParams:
    """QIF network parameters.

    Attributes:
        eta_j: excitability of each neuron, shape (n,).
        tau: membrane time constant (1 = dimensionless time; or ms).
        J: all-to-all synaptic weight (J tau s enters the v equation).
        v_peak: peak / reset magnitude (spike at v >= v_peak, reset to -v_peak).
        tau_s: time constant of the exponential filter of the population rate, units of tau.
    """
    eta_j: Float[Array, "n"]
    tau: float = 1.0
    J: float = 15.0
    v_peak: float = 100.0
    tau_s: float = 1e-3


class QIFState(NamedTuple):
    """v: potentials (n,); refractory: time left in the refractory period (n,), units of
    tau's time; s: filtered population rate (scalar, 1/time of tau)."""
    v: Float[Array, "n"]
    refractory: Float[Array, "n"]
    s: Float[Array, ""]


def qif_params(n: int, mf: MPRParams = MPRParams(), v_peak: float = 100.0,
               tau_s: float = 1e-3) -> QIFParams:
    """A QIF network of n neurons with the parameters of the MPR model ``mf``."""
    return QIFParams(eta_j=jnp.asarray(lorentzian_quantiles(float(mf.eta), float(mf.delta), n)),
                     tau=mf.tau, J=mf.J, v_peak=v_peak, tau_s=tau_s)


def qif_init(params: QIFParams, v0=None, r0: float = 0.0) -> QIFState:
    """State with all potentials at ``v0`` (scalar or (n,); default -2, near the low state).

    To start the network near an MPR state (r, v), pass ``v0 = v + pi tau r tan(...)`` (see
    :func:`lorentzian_quantiles`), i.e. potentials Lorentzian with centre v and width pi tau r.
    """
    n = params.eta_j.shape[0]
    v = jnp.full((n,), -2.0, jnp.float32) if v0 is None else jnp.broadcast_to(
        jnp.asarray(v0, jnp.float32), (n,))
    return QIFState(v=v, refractory=jnp.zeros((n,), jnp.float32), s=jnp.asarray(r0, jnp.float32))


def _series_or_exact(x, series, exact):
    """``series(x)`` where every |x| < 0.1 (no transcendental per neuron), else ``exact(x)``."""
    return jax.lax.cond(jnp.all(jnp.abs(x) < 0.1), series, exact, x)


def _tan_ratio(x):
    """tan(sqrt(x))/sqrt(x) for x > 0, tanh(sqrt(-x))/sqrt(-x) for x < 0, 1 at 0."""
    def series(x):
        return 1.0 + x * (1 / 3 + x * (2 / 15 + x * (17 / 315 + x * (62 / 2835 + x * 1382 / 155925))))

    def exact(x):
        rx = jnp.sqrt(jnp.abs(x))
        rs = jnp.where(rx > 1e-3, rx, 1.0)
        return jnp.where(rx > 1e-3, jnp.where(x > 0, jnp.tan(rs), jnp.tanh(rs)) / rs, series(x))
    return _series_or_exact(x, series, exact)


def _atan_ratio(y):
    """arctan(sqrt(y))/sqrt(y) for y > 0, arctanh(sqrt(-y))/sqrt(-y) for y < 0, 1 at 0."""
    def series(y):
        return 1.0 + y * (-1 / 3 + y * (1 / 5 + y * (-1 / 7 + y * (1 / 9 - y / 11))))

    def exact(y):
        ry = jnp.sqrt(jnp.abs(y))
        rs = jnp.where(ry > 1e-3, ry, 1.0)
        return jnp.where(ry > 1e-3, jnp.where(
            y > 0, jnp.arctan(rs), jnp.arctanh(jnp.minimum(rs, 0.999999))) / rs, series(y))
    return _series_or_exact(y, series, exact)


def _qif_flow(v, c, h):
    """Exact flow of dv/dt = v^2 + c over time h (c held constant): v -> (v + c q)/(1 - v q)
    with q = tan(sqrt(c) h)/sqrt(c) (tanh for c < 0, h for c = 0). Returns (v(h), blew_up),
    blew_up where v reaches +inf within h (pole of the tangent or 1 - v q <= 0)."""
    x = c * h * h
    q = h * _tan_ratio(x)
    denom = 1.0 - v * q
    blew_up = (denom <= 0.0) | (x >= (0.5 * jnp.pi) ** 2)
    return (v + c * q) / jnp.where(blew_up, 1.0, denom), blew_up


def _qif_time_to(v0, v1, c, where):
    """Time (units of tau) for dv/dt = v^2 + c to go from v0 up to v1 (inverse of the flow),
    computed where ``where`` (0 elsewhere)."""
    den = c + v0 * v1
    q = jnp.where(where, (v1 - v0) / jnp.where(where, den, 1.0), 0.0)
    return q * _atan_ratio(c * q * q)


def qif_step(params: QIFParams, state: QIFState, i_ext, dt: float):
    """One step of dt (units of tau), exact QIF flow; returns (state, (r, v_mean)).

    Crossing times of v_peak are computed exactly within the step, and the refractory
    period (2 tau / v_peak at -v_peak, spike at its midpoint) is timed in continuous time,
    so no bias of order dt enters the rate or the mean potential.

    Arguments:
        i_ext: common input current I (scalar, units of eta).
        dt: time step, must be < 2 tau / v_peak (the refractory period); 1e-3 tau with
            v_peak = 100 as in the paper.
    Returns:
        r: population rate in this step, spikes / (n dt); v_mean: mean v of the neurons
        not in their refractory period at the end of the step.
    """
    p = params
    n = p.eta_j.shape[0]
    t_mid = p.tau / p.v_peak                       # spike time after the crossing
    h = dt / p.tau
    t_left = state.refractory                      # time left at -v_peak (units of dt)
    held = t_left >= dt
    releasing = (t_left > 0) & ~held
    # neurons released this step flow from -v_peak for the rest of the step
    v0 = jnp.where(releasing, -p.v_peak, state.v)
    h_eff = jnp.where(releasing, (dt - t_left) / p.tau, h)
    drive = p.eta_j + p.J * p.tau * state.s + i_ext
    v, blew_up = _qif_flow(v0, drive, h_eff)
    crossed = ((v >= p.v_peak) | blew_up) & ~held
    t_cross = jnp.where(releasing, t_left, 0.0) + p.tau * jnp.clip(
        _qif_time_to(v0, jnp.asarray(p.v_peak, v0.dtype), drive, crossed), 0.0, h_eff)
    left_before = jnp.where(crossed, 2 * t_mid + t_cross, t_left)   # measured from step start
    left_after = jnp.maximum(left_before - dt, 0.0)
    spikes = (left_before >= t_mid) & (left_before - dt < t_mid)
    v = jnp.where(crossed | held, -p.v_peak, v)
    r = jnp.sum(spikes.astype(jnp.float32)) / (n * dt)
    s = state.s + jnp.minimum(dt / p.tau_s, 1.0) * (r - state.s)
    active = left_after <= 0.0
    v_mean = jnp.sum(jnp.where(active, v, 0.0)) / jnp.maximum(jnp.sum(active), 1)
    return QIFState(v=v, refractory=left_after, s=s), (r, v_mean)


def qif_simulate(params: QIFParams, state: QIFState, i_ext: Float[Array, "t"], dt: float):
    """Run ``qif_step`` over the input trace ``i_ext`` (one value per step) with lax.scan.

    Returns (final state, (r, v_mean)) with r and v_mean of shape (t,)."""
    i_ext = jnp.asarray(i_ext, jnp.float32)
    if i_ext.ndim != 1:
        raise ValueError(f"i_ext has shape {i_ext.shape}; expected one value per step, (t,)")
    if not dt < 2.0 * float(params.tau) / float(params.v_peak):
        raise ValueError(f"dt = {dt!r} must be < 2 tau / v_peak = "
                         f"{2.0 * float(params.tau) / float(params.v_peak)!r} (the refractory time)")

    def body(s, i):
        return qif_step(params, s, i, dt)

    return jax.lax.scan(body, state, i_ext)
