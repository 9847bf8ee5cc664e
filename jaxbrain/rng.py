"""Counter-based random numbers: the value at (seed, counters...) is a pure function of them.

Every procedural quantity in jaxbrain (synapse targets, weights, delays, Poisson inputs) is
drawn from a counter, never from a stateful generator, so the same seed gives the same number
whatever the batch size, device count, shard or implementation that asks for it.

The mixer is the MurmurHash3 32-bit finaliser (``fmix32``) applied after each counter is
folded in with a distinct odd multiplier. ``fmix32`` is a bijection on uint32 with full
avalanche, so distinct counter tuples give decorrelated outputs and there is no period in any
counter below 2**32 (the earlier NEMO code used the low 24 bits of a multiplicative hash,
which repeats every 2**24 neurons).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["fmix32", "hash_u32", "uniform", "normal", "bernoulli", "key"]

_GOLDEN = 0x9E3779B9
_MULTS = (0x85EBCA6B, 0xC2B2AE35, 0x27D4EB2F, 0x165667B1, 0xD3A2646C, 0xFD7046C5)


def _u32(x) -> jax.Array:
    x = jnp.asarray(x)
    return x if x.dtype == jnp.uint32 else x.astype(jnp.uint32)


def fmix32(h: jax.Array) -> jax.Array:
    """MurmurHash3 finaliser: a bijective avalanche mix of uint32 values (elementwise)."""
    h = _u32(h)
    h = h ^ (h >> 16)
    h = h * jnp.uint32(0x85EBCA6B)
    h = h ^ (h >> 13)
    h = h * jnp.uint32(0xC2B2AE35)
    h = h ^ (h >> 16)
    return h


def hash_u32(seed, *counters) -> jax.Array:
    """A uint32 hash of ``(seed, *counters)``; arrays broadcast elementwise.

    Arguments:
        seed: integer seed (scalar or array).
        counters: integer counters (e.g. projection id, source index, slot); each must be
            < 2**32. Broadcasting follows numpy rules.
    Returns:
        uint32 array of the broadcast shape.
    """
    args = [jnp.asarray(a) for a in (seed, *counters)]
    shape = jnp.broadcast_shapes(*(a.shape for a in args))  # numpy broadcasting, explicitly
    seed, *counters = (jnp.broadcast_to(a, shape) for a in args)
    h = fmix32(_u32(seed) * jnp.uint32(_GOLDEN) + jnp.uint32(0x7F4A7C15))
    for i, c in enumerate(counters):
        h = fmix32(h ^ (_u32(c) * jnp.uint32(_MULTS[i % len(_MULTS)]) + jnp.uint32(i + 1)))
    return h


_ONE_BELOW = float(jnp.nextafter(jnp.float32(1.0), jnp.float32(0.0)))


def uniform(seed, *counters) -> jax.Array:
    """Uniform float32 in the open interval (0, 1) from ``hash_u32`` (24 bits of resolution).

    ``(2**24 - 1) + 0.5`` is not representable in float32 and would round to exactly 1.0
    (once in 2**24 draws: ndtri(1) = inf gave infinite weights in 1e8-synapse networks), so
    the top value is clamped to the largest float32 below 1.
    """
    h = hash_u32(seed, *counters)
    u = ((h >> 8).astype(jnp.float32) + 0.5) * jnp.float32(2.0**-24)
    return jnp.minimum(u, jnp.float32(_ONE_BELOW))


def normal(seed, *counters) -> jax.Array:
    """Standard normal float32 by the inverse CDF of ``uniform``."""
    return jax.scipy.special.ndtri(uniform(seed, *counters))


def bernoulli(p, seed, *counters) -> jax.Array:
    """Boolean with probability ``p`` (broadcast) of being True."""
    return uniform(seed, *counters) < p


def key(seed, *counters) -> jax.Array:
    """A ``jax.random`` key for ``(seed, *counters)`` (for samplers jax provides, e.g. Poisson).

    Built by folding the counters into ``jax.random.key(seed)``, so it depends only on the
    counter values, never on where in a batch or shard it is asked for.
    """
    k = jax.random.key(seed)
    for c in counters:
        k = jax.random.fold_in(k, c)
    return k
