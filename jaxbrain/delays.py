"""Synaptic delays: ring buffers of future synaptic input.

A :class:`DelayRing` holds ``L = max_delay + 1`` slots of post-synaptic input. At step ``t``
the slot ``t mod L`` holds everything due now; :func:`ring_read` returns it and clears it
(or :func:`ring_now` reads it and a later ``deliver(..., clear_now=True)`` clears it, which lets
the GPU kernel do the clearing in place).
A spike emitted at step ``t`` through a synapse of delay ``d`` steps (``1 <= d <= max_delay``)
is added to slot ``(t + d) mod L`` and so acts at step ``t + d``, exactly (NEST semantics: the
minimum delay is one step).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, Float, Int

__all__ = ["DelayRing", "ring_init", "ring_now", "ring_clear", "ring_read", "ring_add", "ring_add_dense"]


class DelayRing(NamedTuple):
    """buf: float32 [L, n_post] pending input (units of the synapse: nS, pA or mV)."""
    buf: Float[Array, "L n"]


def ring_init(n_post: int, max_delay_steps: int) -> DelayRing:
    if max_delay_steps < 1:
        raise ValueError(f"max_delay_steps={max_delay_steps}; allowed: >= 1 (one step minimum)")
    return DelayRing(jnp.zeros((max_delay_steps + 1, n_post), jnp.float32))


def ring_now(ring: DelayRing, t: Int[Array, ""]) -> Float[Array, "n"]:
    """Input due at step ``t`` (the slot is left as it is)."""
    return ring.buf[t % ring.buf.shape[0]]


def ring_clear(ring: DelayRing, t: Int[Array, ""]) -> DelayRing:
    """The ring with the slot of step ``t`` zeroed (after it has been read)."""
    return DelayRing(ring.buf.at[t % ring.buf.shape[0]].set(0.0))


def ring_read(ring: DelayRing, t: Int[Array, ""]) -> tuple[Float[Array, "n"], DelayRing]:
    """Input due at step ``t``, and the ring with that slot cleared."""
    return ring_now(ring, t), ring_clear(ring, t)


def ring_add(ring: DelayRing, t, delays: Int[Array, "*s"], targets: Int[Array, "*s"],
             values: Float[Array, "*s"]) -> DelayRing:
    """Scatter-add ``values`` to ``targets`` due at step ``t + delays`` (per synapse).

    Targets equal to ``n_post`` (padding) are dropped.
    """
    L, n = ring.buf.shape
    slot = (t + delays) % L
    flat = jnp.where(targets < n, slot * n + targets, L * n).reshape(-1)
    buf = ring.buf.reshape(-1).at[flat].add(values.reshape(-1), mode="drop")
    return DelayRing(buf.reshape(L, n))


def ring_add_dense(ring: DelayRing, t, delay: int, values: Float[Array, "n"]) -> DelayRing:
    """Add a whole input vector due at step ``t + delay`` (one delay for the projection)."""
    slot = (t + delay) % ring.buf.shape[0]
    return DelayRing(ring.buf.at[slot].add(values))
