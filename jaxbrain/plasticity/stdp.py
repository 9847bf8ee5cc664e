"""Pair-based STDP (Song, Miller & Abbott 2000; van Rossum et al. 2000; Gutig et al. 2003).

Traces (ms): pre ``x`` (tau_plus), post ``y`` (tau_minus). On a post spike
``dw = +a_plus * x``; on a pre spike ``dw = -a_minus * y``. Weight dependence through
``mu_plus`` / ``mu_minus`` (0: additive with hard bounds, 1: multiplicative soft bounds);
see :mod:`jaxbrain.plasticity.traces` for the step conventions.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from flax import struct
from jaxtyping import Array, Float

from .traces import Factors, PlasticityRule, bump, decay, make_update

__all__ = ["PairSTDPParams", "PairState", "pair_stdp", "additive_stdp", "multiplicative_stdp"]


@struct.dataclass
class PairSTDPParams:
    """Pair STDP parameters.

    Attributes:
        a_plus: potentiation amplitude per pre-before-post pair (weight units).
        a_minus: depression amplitude per post-before-pre pair (weight units).
        tau_plus: pre trace time constant, ms.
        tau_minus: post trace time constant, ms.
        w_min, w_max: weight bounds.
        mu_plus, mu_minus: soft-bound exponents (0 additive, 1 multiplicative).
        nearest: nearest-spike interaction (traces set to 1) instead of all-to-all.
    """
    a_plus: float = 0.005
    a_minus: float = 0.00525
    tau_plus: float = 20.0
    tau_minus: float = 20.0
    w_min: float = 0.0
    w_max: float = 1.0
    mu_plus: float = 0.0
    mu_minus: float = 0.0
    nearest: bool = struct.field(pytree_node=False, default=False)


class PairState(NamedTuple):
    """Pre trace ``x`` (n_pre,) and post trace ``y`` (n_post,)."""
    x: Float[Array, "n_pre"]
    y: Float[Array, "n_post"]


def _init(params: PairSTDPParams, n_pre: int, n_post: int) -> PairState:
    return PairState(jnp.zeros((n_pre,), jnp.float32), jnp.zeros((n_post,), jnp.float32))


def _factors(params: PairSTDPParams, state: PairState, pre, post, dt):
    x = decay(state.x, params.tau_plus, dt)
    y = decay(state.y, params.tau_minus, dt)
    f = Factors(pot_pre=x, pot_post=params.a_plus * post,
                dep_pre=params.a_minus * pre, dep_post=y)
    return f, PairState(bump(x, pre, params.nearest), bump(y, post, params.nearest))


pair_stdp = PlasticityRule(_init, make_update(_factors), _factors)
"""Pair STDP rule (``init``, ``update``, ``factors``); parameters :class:`PairSTDPParams`."""


def additive_stdp(**kw) -> PairSTDPParams:
    """Additive pair STDP with hard bounds (Song et al. 2000)."""
    return PairSTDPParams(**{"mu_plus": 0.0, "mu_minus": 0.0, **kw})


def multiplicative_stdp(**kw) -> PairSTDPParams:
    """Multiplicative (soft-bound) pair STDP: ``dw+ ~ (w_max - w)``, ``dw- ~ (w - w_min)``."""
    return PairSTDPParams(**{"mu_plus": 1.0, "mu_minus": 1.0, **kw})
