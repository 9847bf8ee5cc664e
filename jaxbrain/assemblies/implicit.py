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

**Block law** (``block_*``, an alternative area -> area law; the hash law above is kept):
targets are cut into blocks of ``B = 2**BLOCK_BITS`` consecutive neurons (block
``b = j >> BLOCK_BITS``, position ``r = j & (B - 1)``). Per (source ``i``, block ``b``):

    c_ib   = Binomial(B, p) by inverse CDF from rng.hash_u32(seed, fibre_id, i, b)
    key_ib = rng.hash_u32(seed, fibre_id, i, b, 1)
    i -> j exists  iff  rank_ib(r) < c_ib,   rank_ib a keyed bijection of [0, B)

i.e. each source connects to a uniformly placed subset of ``c_ib`` neurons of each block:
given the counts this is exactly i.i.d. Bernoulli(p) per pair (a Binomial number of
positions, then a uniform subset), up to the permutation's quality (tested: in-degree
Binomial(k, p), pairwise overlaps ~p^2 n, two targets of one block co-connected with
probability p^2) and the 2**-32 resolution of the inverse CDF (counts whose tail mass is
below 2**-33 are never drawn, as for the stimulus counts). Like the hash law it depends only
on (seed, fibre, i, j), not on n. Its point: a projection can *generate* each firing
source's ~p n targets (``rank^-1(m)`` for ``m < c_ib``) and scatter-add them, ``k p n``
operations instead of ``k n`` pair hashes (:func:`block_area_input`).
"""

from __future__ import annotations

import math
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from .. import rng

__all__ = ["p_threshold", "source_keys", "pair_hash", "connected", "area_input",
           "binomial_thresholds", "stim_counts", "stim_counts_at", "BLOCK_BITS", "LAWS", "block_rank",
           "block_position", "block_cells", "block_connected", "block_area_input",
           "law_connected", "law_area_input"]

LAWS = ("hash", "block")
BLOCK_BITS = 12              # block law: 4096 targets per (source, block) cell
_PERM_MULTS = (0x2C1B3C6D, 0x297A2D39, 0x6B43A9B5)

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
               dtype=jnp.float32, method: str = "auto", dst_offset=0) -> jax.Array:
    """Number of synapses from the firing sources onto every target neuron.

    Arguments:
        seed, fibre_id: static ints identifying the fibre's random graph.
        p: connection probability (static).
        src_ids: int[k] firing source neuron ids.
        src_valid: bool[k] which entries of ``src_ids`` fire.
        n_dst: number of target neurons (static).
        dst_offset: id of the first target (int, may be traced): the targets are
            ``dst_offset .. dst_offset + n_dst - 1`` (one device's slice of an area).
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
    offset = jnp.asarray(dst_offset).astype(jnp.uint32)
    if method == "loop":
        j = offset + jnp.arange(n_dst, dtype=jnp.uint32)

        def body(i, acc):
            return acc + ((pair_hash(a[i], j) < t) & valid[i]).astype(jnp.int32)

        return jax.lax.fori_loop(0, a.shape[0], body,
                                 jnp.zeros((n_dst,), jnp.int32)).astype(dtype)
    if method != "fused":
        raise ValueError(f"area_input: method {method!r}; allowed: 'auto', 'loop', 'fused'")
    j = offset + jax.lax.broadcasted_iota(jnp.uint32, (1, n_dst), 1)
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
    return stim_counts_at(seed, fibre_id, k_stim, p, jax.lax.broadcasted_iota(jnp.uint32, (n_dst,), 0), dtype)


def stim_counts_at(seed: int, fibre_id: int, k_stim: int, p: float, dst_ids,
                   dtype=jnp.float32) -> jax.Array:
    """:func:`stim_counts` at the target ids ``dst_ids`` only (``dtype[len(ids)]``, O(len))."""
    t = jnp.asarray(binomial_thresholds(int(k_stim), float(p)))
    h = rng.hash_u32(seed, fibre_id, jnp.asarray(dst_ids).astype(jnp.uint32))
    return jnp.sum(h[:, None] >= t[None, :], axis=1, dtype=jnp.int32).astype(dtype)


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


# ---- block law ----------------------------------------------------------------------------

def _perm_consts(bits: int):
    mask = (1 << bits) - 1
    mults = tuple(m & mask | 1 for m in _PERM_MULTS)
    return mask, (bits + 1) // 2, mults, tuple(pow(m, -1, 1 << bits) for m in mults)


def _perm_keys(key):
    k = jnp.asarray(key).astype(jnp.uint32)
    return k, rng.fmix32(k ^ jnp.uint32(0x68E31DA4)), rng.fmix32(k + jnp.uint32(0x1B56C4E9))


def block_rank(key, r, bits: int = BLOCK_BITS) -> jax.Array:
    """``rank_key(r)``: a keyed bijection of ``[0, 2**bits)`` (uint32 in and out).

    Three rounds of (xor/add a key word, multiply by an odd constant, xorshift by
    ``ceil(bits / 2)``), all modulo ``2**bits``; each step is invertible
    (:func:`block_position` is the inverse).
    """
    mask, h, mults, _ = _perm_consts(bits)
    ka, kb, kc = _perm_keys(key)
    m = jnp.uint32(mask)
    x = (jnp.asarray(r).astype(jnp.uint32) ^ ka) & m
    for mult, kw in zip(mults, (kb, kc, None)):
        x = (x * jnp.uint32(mult)) & m
        x = x ^ (x >> h)
        if kw is not None:
            x = (x + kw) & m
    return x


def block_position(key, rank, bits: int = BLOCK_BITS) -> jax.Array:
    """Inverse of :func:`block_rank`: the position ``r`` with ``block_rank(key, r) == rank``."""
    mask, h, _, inv = _perm_consts(bits)
    ka, kb, kc = _perm_keys(key)
    m = jnp.uint32(mask)
    x = jnp.asarray(rank).astype(jnp.uint32) & m
    for minv, kw in zip(inv[::-1], (None, kc, kb)):
        if kw is not None:
            x = (x - kw) & m
        x = x ^ (x >> h)                 # an involution since 2 h >= bits
        x = (x * jnp.uint32(minv)) & m
    return (x ^ ka) & m


def block_cells(seed: int, fibre_id: int, p: float, src_ids, blocks, bits: int = BLOCK_BITS):
    """``(c, key)`` of the cells (source, block), uint32, broadcast over ``src_ids, blocks``."""
    t = jnp.asarray(binomial_thresholds(1 << bits, float(p)))
    i = jnp.asarray(src_ids).astype(jnp.uint32)
    b = jnp.asarray(blocks).astype(jnp.uint32)
    h = rng.hash_u32(seed, fibre_id, i, b)
    c = jnp.searchsorted(t, h, side="right").astype(jnp.uint32)    # #{m : h >= T_m}
    return c, rng.hash_u32(seed, fibre_id, i, b, 1)


def block_connected(seed, fibre_id, p, src_ids, dst_ids, bits: int = BLOCK_BITS) -> jax.Array:
    """bool: synapse ``src -> dst`` exists under the block law (arrays broadcast)."""
    j = jnp.asarray(dst_ids).astype(jnp.uint32)
    c, key = block_cells(seed, fibre_id, p, src_ids, j >> bits, bits)
    return block_rank(key, j & jnp.uint32((1 << bits) - 1), bits) < c


def block_max_count(p: float, bits: int = BLOCK_BITS) -> int:
    """Largest count a cell can draw (the inverse CDF's table length)."""
    return int(len(binomial_thresholds(1 << bits, float(p))))


def block_area_input(seed: int, fibre_id: int, p: float, src_ids, src_valid, n_dst: int,
                     dtype=jnp.float32, method: str = "scatter", bits: int = BLOCK_BITS) -> jax.Array:
    """Synapse counts from the firing sources onto every target, under the block law.

    ``method="scatter"``: generate every firing source's targets (``block_position(key, m)``
    for ``m < c`` in each block; ``k * ceil(n / B) * block_max_count`` slots, the unused ones
    dropped) and scatter-add them. ``"gather"``: evaluate ``block_connected`` for every
    (source, target) pair (the definition; ``k n`` pair evaluations, for tests). Equal bit
    for bit (integers).
    """
    bsz = 1 << bits
    r = -(-n_dst // bsz)
    src = jnp.asarray(src_ids)
    valid = jnp.asarray(src_valid, bool)
    blocks = jnp.arange(r, dtype=jnp.uint32)
    c, key = block_cells(seed, fibre_id, p, src[:, None], blocks[None, :], bits)      # [k, R]
    if method == "gather":
        j = jnp.arange(n_dst, dtype=jnp.uint32)
        pos = j & jnp.uint32(bsz - 1)
        bj = j >> bits

        def body(s, acc):
            hit = block_rank(key[s][bj], pos, bits) < c[s][bj]
            return acc + (hit & valid[s]).astype(jnp.int32)

        return jax.lax.fori_loop(0, src.shape[0], body,
                                 jnp.zeros((n_dst,), jnp.int32)).astype(dtype)
    if method != "scatter":
        raise ValueError(f"block_area_input: method {method!r}; allowed: 'scatter', 'gather'")
    mmax = block_max_count(p, bits)
    m = jnp.arange(mmax, dtype=jnp.uint32)
    tgt = (blocks[None, :, None] << bits) + block_position(key[:, :, None], m[None, None, :], bits)
    ok = (m[None, None, :] < c[:, :, None]) & valid[:, None, None] & (tgt < n_dst)
    idx = jnp.where(ok, tgt, jnp.uint32(n_dst)).astype(jnp.int32).reshape(-1)
    out = jnp.zeros((n_dst,), jnp.int32).at[idx].add(1, mode="drop")
    return out.astype(dtype)


def law_connected(law: str, seed, fibre_id, p, src_ids, dst_ids) -> jax.Array:
    """``connected`` under ``law`` ('hash': the pair hash, 'block': the block law)."""
    if law == "hash":
        return connected(seed, fibre_id, p, src_ids, dst_ids)
    if law == "block":
        return block_connected(seed, fibre_id, p, src_ids, dst_ids)
    raise ValueError(f"law {law!r}; allowed: {LAWS}")


def law_area_input(law: str, seed, fibre_id, p, src_ids, src_valid, n_dst, dtype=jnp.float32):
    """``area_input`` under ``law`` (hash: :func:`area_input`; block: scatter form)."""
    if law == "hash":
        return area_input(seed, fibre_id, p, src_ids, src_valid, n_dst, dtype)
    if law == "block":
        return block_area_input(seed, fibre_id, p, src_ids, src_valid, n_dst, dtype)
    raise ValueError(f"law {law!r}; allowed: {LAWS}")
