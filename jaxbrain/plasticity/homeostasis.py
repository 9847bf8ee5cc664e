"""Homeostasis: adaptive firing thresholds and synaptic weight normalisation.

* :data:`adaptive_threshold` (Diehl & Cook 2015): ``theta`` (mV, added to the threshold)
  decays with ``tau_theta`` and jumps by ``theta_plus`` at each spike of its neuron.
* :data:`target_rate_threshold`: ``theta`` integrates the rate error,
  ``theta += eta * (spike - target_rate * dt)`` (target_rate in Hz, dt in ms), so a neuron
  firing above target raises its threshold and one below lowers it (Zenke et al. 2013 style).
* :func:`normalize_weights`: rescale each neuron's incoming weights to sum to ``total``
  (Diehl & Cook: 78 per excitatory neuron), dense or on a synapse list.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct
from jaxtyping import Array, Float

__all__ = ["ThresholdParams", "TargetRateParams", "Homeostat", "adaptive_threshold",
           "target_rate_threshold", "normalize_weights"]


class Homeostat(NamedTuple):
    """``init(params, n) -> theta`` and ``update(params, theta, spikes, dt) -> theta``."""
    init: Callable
    update: Callable


@struct.dataclass
class ThresholdParams:
    """Adaptive threshold: ``theta_plus`` (mV per spike), ``tau_theta`` (ms), ``theta0`` (mV)."""
    theta_plus: float = 0.05
    tau_theta: float = 1e7
    theta0: float = 0.0


def _thr_init(params, n: int) -> Float[Array, "n"]:
    return jnp.full((n,), params.theta0, jnp.float32)


def _thr_update(p: ThresholdParams, theta, spikes, dt):
    return theta * jnp.exp(-jnp.asarray(dt, jnp.float32) / p.tau_theta) + p.theta_plus * spikes


adaptive_threshold = Homeostat(_thr_init, _thr_update)


@struct.dataclass
class TargetRateParams:
    """Rate homeostasis: ``eta`` (mV per unit error), ``target_rate`` (Hz), ``theta0`` (mV),
    ``theta_min`` / ``theta_max`` (mV) bounds."""
    eta: float = 0.05
    target_rate: float = 5.0
    theta0: float = 0.0
    theta_min: float = float("-inf")
    theta_max: float = float("inf")


def _rate_update(p: TargetRateParams, theta, spikes, dt):
    err = spikes - p.target_rate * 1e-3 * jnp.asarray(dt, jnp.float32)
    return jnp.clip(theta + p.eta * err, p.theta_min, p.theta_max)


target_rate_threshold = Homeostat(_thr_init, _rate_update)


def normalize_weights(w: Array, total, synapses=None, n_post: int | None = None) -> Array:
    """Scale each post-synaptic neuron's incoming weights so they sum to ``total``.

    Dense ``w`` (n_pre, n_post): columns are normalised. Synapse list ``w`` (n_syn,) with
    ``synapses = (pre_idx, post_idx)`` needs ``n_post``. A neuron with zero input stays zero.
    """
    if synapses is None:
        s = jnp.sum(w, axis=0, keepdims=True)
        return w * jnp.where(s > 0, total / jnp.where(s > 0, s, 1.0), 0.0)
    if n_post is None:
        raise ValueError("normalize_weights on a synapse list needs n_post")
    post = synapses[1]
    s = jax.ops.segment_sum(w, post, num_segments=n_post)
    scale = jnp.where(s > 0, total / jnp.where(s > 0, s, 1.0), 0.0)
    return w * scale[post]
