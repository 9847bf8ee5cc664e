"""Triplet STDP (Pfister & Gerstner 2006, J. Neurosci. 26:9673).

Pre traces ``r1`` (tau_plus), ``r2`` (tau_x); post traces ``o1`` (tau_minus), ``o2`` (tau_y).

* post spike: ``dw = +r1 * (A2+ + A3+ * o2_before)``
* pre spike:  ``dw = -o1 * (A2- + A3- * r2_before)``

"before" = the trace just before its own increment (see :mod:`.traces` for the step order).
All-to-all: traces jump by 1; nearest-spike: traces are set to 1. The four published
parameter sets (Pfister & Gerstner 2006, Table 4, minimal models) are in
:data:`TRIPLET_SETS`; get one with :func:`triplet_params`. Weights are unbounded by default
(the published fits describe raw weight change); set ``w_min`` / ``w_max`` to bound them.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from flax import struct
from jaxtyping import Array, Float

from .traces import Factors, PlasticityRule, bump, decay, make_update

__all__ = ["TripletParams", "TripletState", "triplet_stdp", "TRIPLET_SETS", "triplet_params"]


@struct.dataclass
class TripletParams:
    """Triplet STDP parameters (times in ms; amplitudes in weight units).

    Attributes:
        tau_plus, tau_minus: pair traces r1 (pre) and o1 (post).
        tau_x, tau_y: triplet traces r2 (pre) and o2 (post).
        a2_plus, a3_plus: pair and triplet potentiation amplitudes.
        a2_minus, a3_minus: pair and triplet depression amplitudes.
        w_min, w_max, mu_plus, mu_minus: bounds / soft-bound exponents (default unbounded, additive).
        nearest: nearest-spike interaction instead of all-to-all.
    """
    tau_plus: float = 16.8
    tau_minus: float = 33.7
    tau_x: float = 101.0
    tau_y: float = 125.0
    a2_plus: float = 5e-10
    a3_plus: float = 6.2e-3
    a2_minus: float = 7e-3
    a3_minus: float = 2.3e-4
    w_min: float = float("-inf")
    w_max: float = float("inf")
    mu_plus: float = 0.0
    mu_minus: float = 0.0
    nearest: bool = struct.field(pytree_node=False, default=False)


#: Pfister & Gerstner 2006, Table 4 (minimal models): tau_x, tau_y, A2+, A3+, A2-, A3-.
TRIPLET_SETS = {
    "visual_all_to_all": dict(tau_x=101.0, tau_y=125.0, a2_plus=5e-10, a3_plus=6.2e-3,
                              a2_minus=7e-3, a3_minus=2.3e-4, nearest=False),
    "visual_nearest": dict(tau_x=714.0, tau_y=40.0, a2_plus=8.8e-11, a3_plus=5.3e-2,
                           a2_minus=6.6e-3, a3_minus=3.1e-3, nearest=True),
    "hippocampal_all_to_all": dict(tau_x=946.0, tau_y=27.0, a2_plus=6.1e-3, a3_plus=6.7e-3,
                                   a2_minus=1.6e-3, a3_minus=1.4e-3, nearest=False),
    "hippocampal_nearest": dict(tau_x=575.0, tau_y=47.0, a2_plus=4.6e-3, a3_plus=9.1e-3,
                                a2_minus=3e-3, a3_minus=7.5e-9, nearest=True),
}


def triplet_params(name: str = "visual_all_to_all", **overrides) -> TripletParams:
    """A published parameter set by name (see :data:`TRIPLET_SETS`), with optional overrides."""
    if name not in TRIPLET_SETS:
        raise ValueError(f"unknown triplet parameter set {name!r}; allowed: {sorted(TRIPLET_SETS)}")
    return TripletParams(**{**TRIPLET_SETS[name], **overrides})


class TripletState(NamedTuple):
    """Pre traces r1, r2 (n_pre,) and post traces o1, o2 (n_post,)."""
    r1: Float[Array, "n_pre"]
    r2: Float[Array, "n_pre"]
    o1: Float[Array, "n_post"]
    o2: Float[Array, "n_post"]


def _init(params: TripletParams, n_pre: int, n_post: int) -> TripletState:
    zp, zq = jnp.zeros((n_pre,), jnp.float32), jnp.zeros((n_post,), jnp.float32)
    return TripletState(zp, zp, zq, zq)


def _factors(p: TripletParams, s: TripletState, pre, post, dt):
    r1, r2 = decay(s.r1, p.tau_plus, dt), decay(s.r2, p.tau_x, dt)
    o1, o2 = decay(s.o1, p.tau_minus, dt), decay(s.o2, p.tau_y, dt)
    f = Factors(pot_pre=r1, pot_post=post * (p.a2_plus + p.a3_plus * o2),
                dep_pre=pre * (p.a2_minus + p.a3_minus * r2), dep_post=o1)
    n = p.nearest
    return f, TripletState(bump(r1, pre, n), bump(r2, pre, n), bump(o1, post, n), bump(o2, post, n))


triplet_stdp = PlasticityRule(_init, make_update(_factors), _factors)
"""Triplet STDP rule (``init``, ``update``, ``factors``); parameters :class:`TripletParams`."""
