"""The Diehl & Cook (2015) STDP rule (Front. Comput. Neurosci. 9:99, and its Brian code).

Pre trace ``x_pre`` (tau_pre), post traces ``post1`` (tau_post1) and ``post2`` (tau_post2),
nearest-spike (each set to 1 on a spike):

* pre spike:  ``w -= nu_pre * post1``
* post spike: ``w += nu_post * x_pre * post2_before``

then ``w`` is clipped to ``[w_min, w_max]``. This is what some projects call "triplet" STDP;
it is a two-factor rule with a slow post trace, not Pfister & Gerstner's
(:mod:`.triplet`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from flax import struct
from jaxtyping import Array, Float

from .traces import Factors, PlasticityRule, bump, decay, make_update

__all__ = ["DiehlCookParams", "DiehlCookState", "diehl_cook_stdp"]


@struct.dataclass
class DiehlCookParams:
    """Diehl & Cook rule parameters (times in ms; defaults from the paper's code).

    Attributes:
        nu_pre: depression rate per pre spike (times post1).
        nu_post: potentiation rate per post spike (times x_pre * post2_before).
        tau_pre, tau_post1, tau_post2: trace time constants, ms.
        w_min, w_max, mu_plus, mu_minus: bounds and soft-bound exponents (additive default).
        nearest: traces set to 1 on a spike (the paper) rather than incremented.
    """
    nu_pre: float = 1e-4
    nu_post: float = 1e-2
    tau_pre: float = 20.0
    tau_post1: float = 20.0
    tau_post2: float = 40.0
    w_min: float = 0.0
    w_max: float = 1.0
    mu_plus: float = 0.0
    mu_minus: float = 0.0
    nearest: bool = struct.field(pytree_node=False, default=True)


class DiehlCookState(NamedTuple):
    """Pre trace (n_pre,), post traces post1, post2 (n_post,)."""
    x_pre: Float[Array, "n_pre"]
    post1: Float[Array, "n_post"]
    post2: Float[Array, "n_post"]


def _init(params: DiehlCookParams, n_pre: int, n_post: int) -> DiehlCookState:
    zq = jnp.zeros((n_post,), jnp.float32)
    return DiehlCookState(jnp.zeros((n_pre,), jnp.float32), zq, zq)


def _factors(p: DiehlCookParams, s: DiehlCookState, pre, post, dt):
    x = decay(s.x_pre, p.tau_pre, dt)
    o1, o2 = decay(s.post1, p.tau_post1, dt), decay(s.post2, p.tau_post2, dt)
    f = Factors(pot_pre=x, pot_post=p.nu_post * post * o2, dep_pre=p.nu_pre * pre, dep_post=o1)
    n = p.nearest
    return f, DiehlCookState(bump(x, pre, n), bump(o1, post, n), bump(o2, post, n))


diehl_cook_stdp = PlasticityRule(_init, make_update(_factors), _factors)
"""The Diehl & Cook rule (``init``, ``update``, ``factors``); parameters :class:`DiehlCookParams`."""
