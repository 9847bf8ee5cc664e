"""Reward-modulated (three-factor, dopamine-gated) STDP with eligibility traces
(Izhikevich 2007, Cereb. Cortex 17:2443; Fremaux & Gerstner 2016).

Per synapse an eligibility trace ``c`` (tau_c, ms) collects pair-STDP events
(``+a_plus * x_pre`` on a post spike, ``-a_minus * y_post`` on a pre spike) without
changing the weight. A dopamine trace ``d`` (tau_d, ms) decays and jumps by the reward
delivered in a step. The weight follows ``dw/dt = lr * d * c``, integrated per step as
``dw = lr * dt * d * c`` (after ``c`` and ``d`` are updated), clipped to ``[w_min, w_max]``.
The eligibility trace has the shape of the weights (dense or synapse list).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from flax import struct
from jaxtyping import Array, Float

from .traces import PlasticityRule, bump, decay, outer

__all__ = ["RewardSTDPParams", "RewardState", "reward_stdp"]


@struct.dataclass
class RewardSTDPParams:
    """Three-factor STDP parameters (times in ms).

    Attributes:
        a_plus, a_minus: pair STDP amplitudes written into the eligibility trace.
        tau_plus, tau_minus: pre / post spike traces.
        tau_c: eligibility trace time constant (Izhikevich 2007: 1000 ms).
        tau_d: dopamine trace time constant (Izhikevich 2007: 200 ms).
        lr: learning rate (weight per ms per unit dopamine * eligibility).
        w_min, w_max: hard bounds.
    """
    a_plus: float = 1.0
    a_minus: float = 1.5
    tau_plus: float = 20.0
    tau_minus: float = 20.0
    tau_c: float = 1000.0
    tau_d: float = 200.0
    lr: float = 1.0
    w_min: float = 0.0
    w_max: float = 4.0
    nearest: bool = struct.field(pytree_node=False, default=False)


class RewardState(NamedTuple):
    """Spike traces x (n_pre,), y (n_post,); eligibility c (weight shape); dopamine d (scalar)."""
    x: Float[Array, "n_pre"]
    y: Float[Array, "n_post"]
    c: Array
    d: Float[Array, ""]


def _init(params: RewardSTDPParams, n_pre: int, n_post: int, n_syn: int | None = None) -> RewardState:
    """``n_syn`` given: eligibility per listed synapse; else dense ``(n_pre, n_post)``."""
    c_shape = (n_pre, n_post) if n_syn is None else (n_syn,)
    return RewardState(jnp.zeros((n_pre,), jnp.float32), jnp.zeros((n_post,), jnp.float32),
                       jnp.zeros(c_shape, jnp.float32), jnp.zeros((), jnp.float32))


def _update(p: RewardSTDPParams, s: RewardState, pre, post, w, dt, synapses=None, reward=0.0):
    """One step; ``reward`` (scalar, delivered this step) is added to the dopamine trace."""
    x, y = decay(s.x, p.tau_plus, dt), decay(s.y, p.tau_minus, dt)
    stdp = outer(x, p.a_plus * post, synapses) - outer(p.a_minus * pre, y, synapses)
    c = decay(s.c, p.tau_c, dt) + stdp
    d = decay(s.d, p.tau_d, dt) + reward
    new_w = jnp.clip(w + p.lr * jnp.asarray(dt, jnp.float32) * d * c, p.w_min, p.w_max)
    n = p.nearest
    return new_w - w, RewardState(bump(x, pre, n), bump(y, post, n), c, d)


reward_stdp = PlasticityRule(_init, _update, None)
"""Dopamine-gated STDP; ``update(params, state, pre, post, w, dt, synapses=None, reward=0.)``."""
