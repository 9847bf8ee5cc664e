"""Implicit NEMO connectivity: every synapse regenerated from a hash, never stored.

Two kinds of fibre, both exact Bernoulli(p) random graphs up to 2**-32 resolution of p:

* **area -> area** (``src`` area of ``n_src`` neurons into ``dst`` of ``n_dst``): synapse
  ``i -> j`` exists iff ``h(i, j) < floor(p * 2**32)`` with

      a_i    = rng.hash_u32(seed, fibre_id, i)                (per source neuron)
      h(i,j) = fmix32(a_i ^ (j * 0x9E3779B1 + 0x632BE5AB))     (one finaliser per pair)

  ``j -> j * odd`` is a bijection on uint32 and ``fmix32`` is a bijective avalanche mixer,
  so for a fixed source the 2**32 possible targets get distinct hashes: there is no period
  below 2**32 (the earlier NEMO hash kept 24 bits and repeated every 2**24 targets).
  The input to every target is a fused ``[k, n]`` compare-and-sum that XLA never
  materialises.

* **stimulus -> area**: a stimulus is ``k_s`` neurons that always fire together, so (as in
  the reference brain.py, which stores one count per target) only the number of synapses
  from the stimulus onto each target matters: ``c_j ~ Binomial(k_s, p)``, drawn by inverse
  CDF from one hash per target, ``c_j = #{m : hash(seed, fibre_id, j) >= T_m}`` with
  ``T_m = round(F(m) * 2**32)`` (``F`` the Binomial CDF). Cost O(n), not O(n k_s).

Learned weights live in a :mod:`jaxbrain.sparse_delta` store per fibre; see brain.py.
"""

from __future__ import annotations

import math
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from .. import rng

__all__ = ["p_threshold", "source_keys", "pair_hash", "connected", "area_input",
           "binomial_thresholds", "stim_counts"]

_JMUL = np.uint32(0x9E3779B1)
_JADD = np.uint32(0x632BE5AB)


def p_threshold(p: float) -> np.uint32:
    """uint32 threshold T with P(hash < T) = T / 2**32 ~ p (p in [0, 1))."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"connection probability p={p!r} must be in [0, 1)")
    return np.uint32(min(int(round(p * 2.0**32)), 2**32 - 1))


def source_keys(seed: int, fibre_id: int, src_ids) -> jax.Array:
    """Per-source-neuron keys ``a_i`` (uint32, shape of ``src_ids``)."""
    return rng.hash_u32(seed, fibre_id, jnp.asarray(src_ids).astype(jnp.uint32))


def pair_hash(a, dst_ids) -> jax.Array:
    """``h(i, j)`` from source keys ``a`` and target ids (broadcast elementwise)."""
    j = jnp.asarray(dst_ids).astype(jnp.uint32)
    return rng.fmix32(a ^ (j * _JMUL + _JADD))


def connected(seed, fibre_id, p, src_ids, dst_ids) -> jax.Array:
    """bool: synapse ``src -> dst`` exists (arrays broadcast elementwise)."""
    a = source_keys(seed, fibre_id, src_ids)
    return pair_hash(a, dst_ids) < p_threshold(p)


def area_input(seed: int, fibre_id: int, p: float, src_ids, src_valid, n_dst: int,
               dtype=jnp.float32, method: str = "auto") -> jax.Array:
    """Number of synapses from the firing sources onto every target neuron.

    Arguments:
        seed, fibre_id: static ints identifying the fibre's random graph.
        p: connection probability (static).
        src_ids: int[k] firing source neuron ids.
        src_valid: bool[k] which entries of ``src_ids`` fire.
        n_dst: number of target neurons (static).
        method: ``"fused"`` (one ``[k, n]`` compare-and-sum that XLA fuses: GPU),
            ``"loop"`` (``fori_loop`` over the k sources, each an n-vector hash: 4-7x
            faster on the CPU backend, where the fused reduction does not vectorise) or
            ``"auto"`` (loop on CPU, fused elsewhere). Same result bit for bit.
    Returns:
        ``dtype[n_dst]`` synapse counts (integers).
    """
    if method == "auto":
        method = "loop" if jax.default_backend() == "cpu" else "fused"
    # materialise the k source keys (else XLA recomputes them for every pair)
    a = jax.lax.optimization_barrier(source_keys(seed, fibre_id, src_ids))
    valid = jnp.asarray(src_valid, bool)
    t = p_threshold(p)
    if method == "loop":
        j = jnp.arange(n_dst, dtype=jnp.uint32)

        def body(i, acc):
            return acc + ((pair_hash(a[i], j) < t) & valid[i]).astype(jnp.int32)

        return jax.lax.fori_loop(0, a.shape[0], body,
                                 jnp.zeros((n_dst,), jnp.int32)).astype(dtype)
    if method != "fused":
        raise ValueError(f"area_input: method {method!r}; allowed: 'auto', 'loop', 'fused'")
    j = jax.lax.broadcasted_iota(jnp.uint32, (1, n_dst), 1)
    hit = (pair_hash(a[:, None], j) < t) & valid[:, None]
    return jnp.sum(hit, axis=0, dtype=jnp.int32).astype(dtype)


def binomial_pmf(k: int, p: float) -> np.ndarray:
    """Binomial(k, p) pmf over 0..k in float64 (log-gamma; no scipy needed)."""
    m = np.arange(k + 1)
    lg = np.array([math.lgamma(k + 1) - math.lgamma(i + 1) - math.lgamma(k - i + 1) for i in m])
    return np.exp(lg + m * math.log(p) + (k - m) * math.log1p(-p))


@lru_cache(maxsize=None)
def binomial_thresholds(k: int, p: float) -> np.ndarray:
    """uint32 thresholds ``T_m = round(F(m) 2**32)`` for m = 0.. until the tail is < 2**-33."""
    pmf = binomial_pmf(k, p)
    cdf = np.minimum(np.cumsum(pmf), 1.0)
    sf = np.maximum(pmf[::-1].cumsum()[::-1] - pmf, 0.0)   # P(X > m)
    small = np.nonzero(sf < 2.0**-33)[0]
    last = int(small[0]) if small.size else k
    t = np.minimum(np.round(cdf[:max(last, 1)] * 2.0**32), 2.0**32 - 1)
    return t.astype(np.uint64).astype(np.uint32)


def stim_counts(seed: int, fibre_id: int, k_stim: int, p: float, n_dst: int,
                dtype=jnp.float32) -> jax.Array:
    """``c_j ~ Binomial(k_stim, p)`` synapses from a stimulus onto every target (``dtype[n]``)."""
    t = jnp.asarray(binomial_thresholds(int(k_stim), float(p)))
    j = jax.lax.broadcasted_iota(jnp.uint32, (n_dst, 1), 0)
    h = rng.hash_u32(seed, fibre_id, j)
    return jnp.sum(h >= t[None, :], axis=1, dtype=jnp.int32).astype(dtype)


def binomial_tail_ppf(q: float, k: int, p: float) -> float:
    """Smallest x with P(Binomial(k, p) <= x) >= q (scipy's binom.ppf), for tests/docs."""
    from scipy.stats import binom
    return float(binom.ppf(q, k, p))


def expected_ties(n: int, k_in: int, p: float, k_cap: int) -> float:
    """Expected number of neurons whose Binomial(k_in, p) input equals the k-th largest.

    The k-th largest of n iid draws sits near the (1 - k/n) quantile; this is n P(X = that
    value), the tie count an ideal hash gives (used to test the hash's quality).
    """
    from scipy.stats import binom
    v = binom.isf(k_cap / n, k_in, p)
    return float(n * binom.pmf(math.ceil(v), k_in, p))
