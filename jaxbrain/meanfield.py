"""Mean-field (neural mass) models as pure ``init`` / ``step`` pairs.

Two models, both with the parameters of REFERENCE.md 'Mean-field level':

**Reduced Wong-Wang** (Wong & Wang 2006; Deco et al. 2013; The Virtual Brain defaults).
One NMDA gating variable S in [0, 1] per region; time in ms, rates in kHz (spikes/ms),
input currents in nA::

    x     = w J_N S + I_o + I_ext                       (I_ext = J_N G sum_j C_ij S_j + ...)
    H(x)  = (a x - b) / (1 - exp(-d (a x - b)))         kHz
    dS/dt = -S / tau_S + (1 - S) gamma H(x)

with a = 0.270 (per pC, i.e. kHz/nA), b = 0.108 kHz, d = 154 ms, gamma = 0.641,
tau_S = 100 ms, w = 0.6, J_N = 0.2609 nA, I_o = 0.33 nA. Uncoupled fixed point S* ~ 0.098.

**Montbrio-Pazo-Roxin 2015** (exact mean field of all-to-all QIF neurons with Lorentzian
excitabilities, centre eta and half-width Delta)::

    tau dr/dt = Delta / (pi tau) + 2 r v
    tau dv/dt = v^2 + eta + J tau r - (pi tau r)^2 + I

r is the population rate (per unit of the time of tau), v the mean membrane potential
(dimensionless). Defaults Delta = 1, J = 15, eta = -5, tau = 1: bistable at I = 0 (stable
r* = 0.081 and 1.031), a single fixed point r* = 1.373 at I = 3. With ``tau`` in ms, r is in
kHz. :func:`mpr_fixed_points` gives all fixed points and their stability in closed form.

Each model is a :class:`MeanFieldModel` ``(init, step)``:

* ``init(params, n, **initial) -> state`` for ``n`` regions (or a shape);
* ``step(params, state, i_ext, dt) -> (state, rate)`` advances one step of ``dt`` (Heun,
  i.e. second-order Runge-Kutta, TVB's default) with the input ``i_ext`` held over the step;
  ``rate`` is the population rate after the step (kHz when times are in ms).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jaxtyping import Array, Float

__all__ = [
    "MeanFieldModel", "heun",
    "WongWangParams", "WongWangState", "wong_wang", "ww_rate", "ww_vector_field",
    "ww_fixed_point",
    "MPRParams", "MPRState", "montbrio", "mpr_vector_field", "mpr_fixed_points",
    "mpr_jacobian", "newton_fixed_point",
]


class MeanFieldModel(NamedTuple):
    """A mean-field model as a pair of pure functions (Optax style)."""
    init: Callable
    step: Callable


def heun(f: Callable, y, dt: float):
    """One Heun step ``y + dt/2 (f(y) + f(y + dt f(y)))`` over a pytree ``y``."""
    k1 = f(y)
    y1 = jax.tree.map(lambda a, b: a + dt * b, y, k1)
    k2 = f(y1)
    return jax.tree.map(lambda a, b, c: a + 0.5 * dt * (b + c), y, k1, k2)


def _shape(n) -> tuple:
    return (n,) if isinstance(n, (int, np.integer)) else tuple(n)


# ---- reduced Wong-Wang ------------------------------------------------------------------

@struct.dataclass
class WongWangParams:
    """Reduced Wong-Wang parameters (TVB defaults; times in ms, currents in nA, rates kHz).

    Attributes:
        a: gain of the input-output function, kHz per nA (0.270 /pC).
        b: threshold of the input-output function, kHz.
        d: curvature of the input-output function, ms.
        gamma: kinetic parameter of the NMDA gating (dimensionless).
        tau_s: NMDA decay time, ms.
        w: local excitatory recurrence (dimensionless).
        J_N: NMDA coupling current, nA.
        I_o: effective external input, nA.
    """
    a: float = 0.270
    b: float = 0.108
    d: float = 154.0
    gamma: float = 0.641
    tau_s: float = 100.0
    w: float = 0.6
    J_N: float = 0.2609
    I_o: float = 0.33


class WongWangState(NamedTuple):
    """S: NMDA gating variable of each region, in [0, 1]."""
    S: Float[Array, "*n"]


def ww_rate(params: WongWangParams, x: Array) -> Array:
    """The input-output function H(x) in kHz for an input current x in nA.

    At a x - b = 0 the removable singularity is replaced by its limit 1/d."""
    u = params.a * x - params.b
    small = jnp.abs(params.d * u) < 1e-6
    u_safe = jnp.where(small, 1.0, u)
    return jnp.where(small, 1.0 / params.d + 0.5 * u,
                     u_safe / (1.0 - jnp.exp(-params.d * u_safe)))


def ww_vector_field(params: WongWangParams, S: Array, i_ext) -> Array:
    """dS/dt (per ms) for gating S and extra input current ``i_ext`` (nA)."""
    x = params.w * params.J_N * S + params.I_o + i_ext
    return -S / params.tau_s + (1.0 - S) * params.gamma * ww_rate(params, x)


def _ww_init(params: WongWangParams, n, S0=None) -> WongWangState:
    S = jnp.full(_shape(n), 0.0, jnp.float32) if S0 is None else jnp.asarray(S0, jnp.float32)
    return WongWangState(S=S)


def _ww_step(params: WongWangParams, state: WongWangState, i_ext, dt: float):
    """Heun step of the reduced Wong-Wang model; returns the rate H (kHz) after the step.

    Arguments:
        i_ext: input current in nA added to x (for TVB coupling: J_N * G * sum_j C_ij S_j).
        dt: step in ms (TVB uses 0.1).
    """
    S = heun(lambda s: ww_vector_field(params, s, i_ext), state.S, dt)
    S = jnp.clip(S, 0.0, 1.0)
    x = params.w * params.J_N * S + params.I_o + i_ext
    return WongWangState(S=S), ww_rate(params, x)


wong_wang = MeanFieldModel(_ww_init, _ww_step)
"""Reduced Wong-Wang (Deco 2013) with TVB defaults; Heun integration."""


def ww_fixed_point(params: WongWangParams = WongWangParams(), i_ext: float = 0.0) -> list[float]:
    """All fixed points S* in [0, 1] of one uncoupled region, by bracketing + Brent (float64).

    Scans dS/dt on a fine grid for sign changes and refines each with scipy's brentq."""
    from scipy.optimize import brentq

    p = {k: float(getattr(params, k)) for k in ("a", "b", "d", "gamma", "tau_s", "w", "J_N", "I_o")}

    def f(S):
        x = p["w"] * p["J_N"] * S + p["I_o"] + i_ext
        u = p["a"] * x - p["b"]
        H = 1.0 / p["d"] if abs(p["d"] * u) < 1e-12 else u / (1.0 - np.exp(-p["d"] * u))
        return -S / p["tau_s"] + (1.0 - S) * p["gamma"] * H

    grid = np.linspace(0.0, 1.0, 2001)
    vals = np.array([f(s) for s in grid])
    roots = []
    for i in range(len(grid) - 1):
        if vals[i] == 0.0:
            roots.append(float(grid[i]))
        elif vals[i] * vals[i + 1] < 0:
            roots.append(float(brentq(f, grid[i], grid[i + 1], xtol=1e-14)))
    return roots


# ---- Montbrio-Pazo-Roxin -----------------------------------------------------------------

@struct.dataclass
class MPRParams:
    """Montbrio-Pazo-Roxin 2015 parameters (REFERENCE.md defaults).

    Attributes:
        tau: membrane time constant (1 = time in units of tau; or ms, then r in kHz).
        delta: half-width of the Lorentzian distribution of excitabilities eta.
        eta: centre of that distribution.
        J: synaptic weight of the all-to-all recurrent coupling.
    """
    tau: float = 1.0
    delta: float = 1.0
    eta: float = -5.0
    J: float = 15.0


class MPRState(NamedTuple):
    """r: population rate (1/time of tau), v: mean membrane potential (dimensionless)."""
    r: Float[Array, "*n"]
    v: Float[Array, "*n"]


def mpr_vector_field(params: MPRParams, state: MPRState, I) -> MPRState:
    """(dr/dt, dv/dt) of the MPR equations for input current I (same units as eta)."""
    p = params
    r, v = state
    dr = (p.delta / (jnp.pi * p.tau) + 2.0 * r * v) / p.tau
    dv = (v * v + p.eta + p.J * p.tau * r - (jnp.pi * p.tau * r) ** 2 + I) / p.tau
    return MPRState(dr, dv)


def _mpr_init(params: MPRParams, n, r0=None, v0=None) -> MPRState:
    shape = _shape(n)
    r = jnp.full(shape, 0.0, jnp.float32) if r0 is None else jnp.broadcast_to(
        jnp.asarray(r0, jnp.float32), shape)
    v = jnp.full(shape, -2.0, jnp.float32) if v0 is None else jnp.broadcast_to(
        jnp.asarray(v0, jnp.float32), shape)
    return MPRState(r=r, v=v)


def _mpr_step(params: MPRParams, state: MPRState, i_ext, dt: float):
    """Heun step of the MPR model; returns the rate r after the step.

    Arguments:
        i_ext: input current I (units of eta), e.g. a step protocol or coupling G sum C r.
        dt: step in the units of tau (1e-3 tau is plenty; r stays >= 0 since r' > 0 at 0).
    """
    new = heun(lambda s: mpr_vector_field(params, s, i_ext), state, dt)
    new = MPRState(jnp.maximum(new.r, 0.0), new.v)
    return new, new.r


montbrio = MeanFieldModel(_mpr_init, _mpr_step)
"""Montbrio-Pazo-Roxin 2015 firing-rate equations (exact for QIF networks); Heun."""


def mpr_jacobian(params: MPRParams, r: float, v: float) -> np.ndarray:
    """Jacobian of (dr/dt, dv/dt) at (r, v), float64."""
    tau, J = float(params.tau), float(params.J)
    return np.array([[2.0 * v / tau, 2.0 * r / tau],
                     [(J * tau - 2.0 * np.pi**2 * tau**2 * r) / tau, 2.0 * v / tau]])


def mpr_fixed_points(params: MPRParams = MPRParams(), I: float = 0.0) -> list[dict]:
    """All fixed points of the MPR equations with their stability, in closed form (float64).

    dr/dt = 0 gives v* = -Delta / (2 pi tau r*); substituting in dv/dt = 0 and multiplying by
    r^2 gives the quartic  -pi^2 tau^2 r^4 + J tau r^3 + (eta + I) r^2 + Delta^2/(4 pi^2 tau^2)
    = 0, whose positive real roots are the fixed points. Stability from the Jacobian.

    Returns:
        list of {"r", "v", "stable", "eigenvalues"} sorted by r.
    """
    tau, d, eta, J = (float(params.tau), float(params.delta), float(params.eta), float(params.J))
    coeffs = [-(np.pi * tau) ** 2, J * tau, eta + I, 0.0, d**2 / (4 * np.pi**2 * tau**2)]
    out = []
    for root in np.roots(coeffs):
        if abs(root.imag) > 1e-9 or root.real <= 0:
            continue
        r = float(root.real)
        v = -d / (2 * np.pi * tau * r)
        ev = np.linalg.eigvals(mpr_jacobian(params, r, v))
        out.append({"r": r, "v": v, "stable": bool(np.all(ev.real < 0)), "eigenvalues": ev})
    return sorted(out, key=lambda f: f["r"])


def newton_fixed_point(vector_field: Callable, x0, n_iter: int = 50):
    """Newton's method on ``vector_field(x) = 0`` with the Jacobian from ``jax.jacfwd``.

    Arguments:
        vector_field: maps a 1-D array x to dx/dt of the same shape.
        x0: starting point (1-D).
    Returns:
        (x, residual_norm).
    """
    jac = jax.jacfwd(vector_field)

    def body(x, _):
        return x - jnp.linalg.solve(jac(x), vector_field(x)), None

    x, _ = jax.lax.scan(body, jnp.asarray(x0), None, length=n_iter)
    return x, jnp.linalg.norm(vector_field(x))
