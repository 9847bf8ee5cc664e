"""External inputs: Poisson spike trains, Poisson spike counts, DC currents.

All draws are counter-based (``seed``, stream, step, neuron index), so an input is the same
whatever the batch or shard that computes it.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float

from . import rng

__all__ = ["poisson_spikes", "poisson_counts", "dc"]


def poisson_spikes(rate_hz: Float[Array, "*n"], dt: float, seed, *counters) -> Float[Array, "*n"]:
    """Spikes (0/1 float32) of Poisson neurons firing at ``rate_hz`` (Hz) over one step of
    ``dt`` ms: Bernoulli(rate * dt / 1000) per step, independent across the counters."""
    p = jnp.asarray(rate_hz, jnp.float32) * (dt * 1e-3)
    return (rng.uniform(seed, *counters) < p).astype(jnp.float32)


def poisson_counts(lam: Float[Array, "*n"], seed, *counters, k_max: int | None = None) -> Float[Array, "*n"]:
    """Poisson(lam) counts by inverting the CDF of a counter-based uniform.

    Exact up to ``k_max`` (default ``lam_max + 10 sqrt(lam_max) + 10`` from the static upper
    bound of ``lam`` when concrete, else 40); for use with the per-step means of external
    drives (typically 0.1-20). ``lam`` broadcasts against the counters.
    """
    lam = jnp.asarray(lam, jnp.float32)
    if k_max is None:
        try:
            lmax = float(jnp.max(lam))
            k_max = int(lmax + 10 * lmax ** 0.5 + 10)
        except Exception:  # traced: use a bound good for lam <= ~15
            k_max = 60
    u = rng.uniform(seed, *counters)
    shape = jnp.broadcast_shapes(jnp.shape(u), jnp.shape(lam))
    pmf = jnp.broadcast_to(jnp.exp(-lam), shape)
    cdf = pmf
    count = jnp.zeros(shape, jnp.float32)
    for k in range(1, k_max + 1):
        count = count + (u > cdf)
        pmf = pmf * lam / k
        cdf = cdf + pmf
    return count


def dc(amplitude_pa: float, n: int) -> Float[Array, "n"]:
    """A constant current of ``amplitude_pa`` pA into each of ``n`` neurons."""
    return jnp.full((n,), amplitude_pa, jnp.float32)
