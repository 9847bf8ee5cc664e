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

import math

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["fmix32", "hash_u32", "uniform", "ndtri", "normal", "bernoulli", "key"]

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


_ONE_BELOW = float(np.nextafter(np.float32(1.0), np.float32(0.0)))


def uniform(seed, *counters) -> jax.Array:
    """Uniform float32 in the open interval (0, 1) from ``hash_u32`` (24 bits of resolution).

    ``(2**24 - 1) + 0.5`` is not representable in float32 and would round to exactly 1.0
    (once in 2**24 draws: ndtri(1) = inf gave infinite weights in 1e8-synapse networks), so
    the top value is clamped to the largest float32 below 1.
    """
    h = hash_u32(seed, *counters)
    u = ((h >> 8).astype(jnp.float32) + 0.5) * jnp.float32(2.0**-24)
    return jnp.minimum(u, jnp.float32(_ONE_BELOW))


# Cephes' piecewise rational approximation of the inverse normal CDF (the one
# jax.scipy.special.ndtri uses), with the coefficients as Python floats so that it also
# traces inside GPU kernels (which cannot capture array constants).
_P0 = (-5.99633501014107895267e1, 9.80010754185999661536e1, -5.66762857469070293439e1,
       1.39312609387279679503e1, -1.23916583867381258016e0)
_Q0 = (1.0, 1.95448858338141759834e0, 4.67627912898881538453e0, 8.63602421390890590575e1,
       -2.25462687854119370527e2, 2.00260212380060660359e2, -8.20372256168333339912e1,
       1.59056225126211695515e1, -1.18331621121330003142e0)
_P1 = (4.05544892305962419923e0, 3.15251094599893866154e1, 5.71628192246421288162e1,
       4.40805073893200834700e1, 1.46849561928858024014e1, 2.18663306850790267539e0,
       -1.40256079171354495875e-1, -3.50424626827848203418e-2, -8.57456785154685413611e-4)
_Q1 = (1.0, 1.57799883256466749731e1, 4.53907635128879210584e1, 4.13172038254672030440e1,
       1.50425385692907503408e1, 2.50464946208309415979e0, -1.42182922854787788574e-1,
       -3.80806407691578277194e-2, -9.33259480895457427372e-4)
_P2 = (3.23774891776946035970e0, 6.91522889068984211695e0, 3.93881025292474443415e0,
       1.33303460815807542389e0, 2.01485389549179081538e-1, 1.23716634817820021358e-2,
       3.01581553508235416007e-4, 2.65806974686737550832e-6, 6.23974539184983293730e-9)
_Q2 = (1.0, 6.02427039364742014255e0, 3.67983563856160859403e0, 1.37702099489081330271e0,
       2.16236993594496635890e-1, 1.34204006088543189037e-2, 3.28014464682127739104e-4,
       2.89247864745380683936e-6, 6.79019408009981274425e-9)


def _horner(coeffs, x):
    y = jnp.zeros_like(x)
    for c in coeffs:
        y = y * x + c
    return y


def ndtri(u: jax.Array) -> jax.Array:
    """Inverse standard normal CDF of float32 ``u`` in the open interval (0, 1)."""
    u = jnp.asarray(u, jnp.float32)
    q = jnp.where(u > 1.0 - math.exp(-2.0), 1.0 - u, u)  # the smaller tail
    w = q - 0.5
    ww = w * w
    x_centre = -(w + w * ww * (_horner(_P0, ww) / _horner(_Q0, ww))) * math.sqrt(2.0 * math.pi)
    z = jnp.sqrt(-2.0 * jnp.log(q))
    iz = 1.0 / z
    x_tail = z - jnp.log(z) / z - jnp.where(z >= 8.0, _horner(_P2, iz) / _horner(_Q2, iz),
                                           _horner(_P1, iz) / _horner(_Q1, iz)) / z
    x = jnp.where(q > math.exp(-2.0), x_centre, x_tail)
    return jnp.where(u > 1.0 - math.exp(-2.0), x, -x)


def normal(seed, *counters) -> jax.Array:
    """Standard normal float32 by the inverse CDF of ``uniform``."""
    return ndtri(uniform(seed, *counters))


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
