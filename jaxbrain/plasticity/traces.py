"""Synaptic traces and the machinery shared by every trace-based plasticity rule.

Conventions (all rules in :mod:`jaxbrain.plasticity`):

* Time in ms. A trace ``x`` decays as ``x <- x * exp(-dt / tau)`` each step; on a spike it is
  incremented by 1 (all-to-all interaction) or set to 1 (nearest-spike interaction).
* Within one step, the weight change is computed from the traces *after* their decay over
  the step and *before* this step's spikes are added. Spikes falling in the same step
  therefore do not interact with each other, and a rule's "value just before the spike"
  (``o2_before`` in Pfister & Gerstner 2006) is the trace read here.
* A rule whose change is a sum of pre x post products (every rule here but the reward rule,
  which adds an eligibility trace per synapse) returns :class:`Factors`: the change over one
  step is ``f_plus(w) * outer(pot_pre, pot_post) - f_minus(w) * outer(dep_pre, dep_post)``
  with soft-bound factors ``f_plus = (w_max - w)**mu_plus``, ``f_minus = (w - w_min)**mu_minus``
  (mu = 0: additive with hard bounds; mu = 1: multiplicative, van Rossum et al. 2000; Gutig et
  al. 2003 in between), then ``w + dw`` is clipped to ``[w_min, w_max]``.
* A projection is either dense, ``w`` of shape ``(n_pre, n_post)``, or an explicit synapse
  list, ``w`` of shape ``(n_syn,)`` with ``synapses = (pre_idx, post_idx)`` int arrays of
  shape ``(n_syn,)``. The same factors serve both (:func:`outer`).
* Because factors are separable, the summed change over a window of ``T`` steps is two
  matrix products ``A.T @ B`` of time-stacked factors (:func:`accumulate`): the change an
  online rule would make if the weights were held fixed during the window.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

__all__ = [
    "decay", "bump", "Factors", "Synapses", "outer", "soft_bounds", "bounded_change",
    "PlasticityRule", "make_update", "accumulate", "check_projection",
]

Synapses = tuple  # (pre_idx: Int[Array, "n_syn"], post_idx: Int[Array, "n_syn"])


def decay(x: Array, tau, dt) -> Array:
    """Exact exponential decay of a trace over ``dt`` ms with time constant ``tau`` ms."""
    return x * jnp.exp(-jnp.asarray(dt, jnp.float32) / tau)


def bump(x: Array, spikes: Array, nearest: bool) -> Array:
    """Add this step's spikes (``{0, 1}``) to trace ``x``: ``+1`` (all-to-all) or set to 1 (nearest)."""
    if nearest:
        return jnp.where(spikes > 0, jnp.ones_like(x), x)
    return x + spikes


class Factors(NamedTuple):
    """Separable weight change of one step: ``outer(pot_pre, pot_post) - outer(dep_pre, dep_post)``
    (before soft-bound factors). Shapes ``(n_pre,)`` / ``(n_post,)``, or with leading time
    axes ``(T, n_pre)`` / ``(T, n_post)`` when stacked by :func:`accumulate`."""
    pot_pre: Float[Array, "*t n_pre"]
    pot_post: Float[Array, "*t n_post"]
    dep_pre: Float[Array, "*t n_pre"]
    dep_post: Float[Array, "*t n_post"]


def outer(a: Float[Array, "n_pre"], b: Float[Array, "n_post"],
          synapses: Synapses | None = None) -> Array:
    """``a_i * b_j`` on a projection: dense ``(n_pre, n_post)`` or, with ``synapses``, ``(n_syn,)``."""
    if synapses is None:
        return a[:, None] * b[None, :]
    pre, post = synapses
    return a[pre] * b[post]


def soft_bounds(w: Array, w_min, w_max, mu_plus, mu_minus) -> tuple[Array, Array]:
    """``((w_max - w)**mu_plus, (w - w_min)**mu_minus)``; ``mu = 0`` gives 1 (additive)."""
    up = jnp.power(jnp.maximum(w_max - w, 0.0), mu_plus)
    down = jnp.power(jnp.maximum(w - w_min, 0.0), mu_minus)
    # 0**0 = 1 and inf**0 = 1 in IEEE, so additive rules with infinite bounds work unchanged
    return up, down


def bounded_change(w: Array, pot: Array, dep: Array, p) -> Array:
    """Weight change ``clip(w + f_plus*pot - f_minus*dep, w_min, w_max) - w`` for bounds in ``p``."""
    up, down = soft_bounds(w, p.w_min, p.w_max, p.mu_plus, p.mu_minus)
    new = jnp.clip(w + up * pot - down * dep, p.w_min, p.w_max)
    return new - w


class PlasticityRule(NamedTuple):
    """A plasticity rule as pure functions (Optax style).

    * ``init(params, n_pre, n_post) -> state`` (traces; a NamedTuple of arrays)
    * ``update(params, state, pre_spikes, post_spikes, w, dt, synapses=None) -> (dw, state)``:
      one step of ``dt`` ms; spikes float ``{0,1}`` of shape ``(n_pre,)`` / ``(n_post,)``;
      ``dw`` has the shape of ``w`` and already respects the bounds (``w + dw`` is in range).
    * ``factors(params, state, pre_spikes, post_spikes, dt) -> (Factors, state)`` for
      separable rules (``None`` otherwise): what :func:`accumulate` needs.
    """
    init: Callable
    update: Callable
    factors: Callable | None = None


def make_update(factors_fn: Callable) -> Callable:
    """The ``update`` of a separable rule from its ``factors`` function."""
    def update(params, state, pre_spikes, post_spikes, w, dt, synapses=None):
        f, state = factors_fn(params, state, pre_spikes, post_spikes, dt)
        pot = outer(f.pot_pre, f.pot_post, synapses)
        dep = outer(f.dep_pre, f.dep_post, synapses)
        return bounded_change(w, pot, dep, params), state
    return update


def accumulate(rule: PlasticityRule, params, state, pre_seq: Float[Array, "T n_pre"],
               post_seq: Float[Array, "T n_post"], dt, unroll: int = 1):
    """Summed potentiation and depression of a separable rule over a window of ``T`` steps.

    Returns ``(pot, dep, state)`` with ``pot, dep`` of shape ``(n_pre, n_post)`` (two matrix
    products of the time-stacked factors) and the traces at the end of the window. Apply with
    :func:`bounded_change` (soft bounds evaluated at the weights of the window's start).
    """
    if rule.factors is None:
        raise ValueError("accumulate needs a separable rule (one with a factors function)")

    def body(s, spikes):
        f, s = rule.factors(params, s, spikes[0], spikes[1], dt)
        return s, f

    state, f = jax.lax.scan(body, state, (pre_seq, post_seq), unroll=unroll)
    hi = jax.lax.Precision.HIGHEST
    pot = jnp.einsum("ti,tj->ij", f.pot_pre, f.pot_post, precision=hi)
    dep = jnp.einsum("ti,tj->ij", f.dep_pre, f.dep_post, precision=hi)
    return pot, dep, state


def check_projection(w, n_pre: int, n_post: int, synapses: Synapses | None = None) -> None:
    """Raise a clear ``ValueError`` when ``w`` / ``synapses`` do not describe an
    ``n_pre -> n_post`` projection (call outside jit, at the API edge)."""
    if synapses is None:
        if tuple(w.shape) != (n_pre, n_post):
            raise ValueError(f"dense weights must have shape (n_pre, n_post) = ({n_pre}, "
                             f"{n_post}); got {tuple(w.shape)}")
        return
    pre, post = synapses
    if pre.shape != post.shape or w.shape != pre.shape or pre.ndim != 1:
        raise ValueError(f"a synapse list needs 1-D pre_idx, post_idx and w of equal length; got "
                         f"{pre.shape}, {post.shape}, {w.shape}")
    if not jnp.issubdtype(pre.dtype, jnp.integer) or not jnp.issubdtype(post.dtype, jnp.integer):
        raise ValueError(f"synapse indices must be integers; got {pre.dtype}, {post.dtype}")
