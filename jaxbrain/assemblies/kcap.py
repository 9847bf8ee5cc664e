"""k-cap: the k neurons with the largest input fire.

Tie rule (all methods, documented and tested): among equal inputs the **lower neuron index
wins**. Winners are returned as int32[k] sorted ascending.

Methods:

* ``"top_k"``: ``lax.top_k`` (which returns the lower index first among equals), then a sort of
  the k indices. A sort-based kernel: fine for n up to ~1e6.
* ``"threshold"``: a radix selection that reads the input a few times instead of sorting it,
  with no data-dependent branch (no ``lax.cond`` / ``while_loop``: on a GPU a cond costs a
  device-to-host sync, and under ``vmap`` every branch would run):

  1. map each input to an order-preserving uint32 key (``-0.0`` is first made ``+0.0`` so it
     ties with ``0.0`` as in ``top_k``);
  2. find the exact k-th largest key ``v`` ``bits`` bits at a time from the top: each pass
     counts ``key >= prefix | m << shift`` for ``m = 1 .. 2**bits - 1`` in one fused pass and
     keeps the largest ``m`` with count ``>= k`` (8 passes of 15 compares for ``bits = 4``);
  3. winners: every ``key > v``, plus the lowest-index neurons with ``key == v`` up to k (one
     cumsum), gathered in index order by ``nonzero(size=k)``.

  Exact (always the top_k result, tested against a lexsort reference with ties) for any
  float input; cost ``32 / bits`` counting passes + 2 passes, independent of the values.

* ``"blocks"``: an exact two-stage top-k. View x as ``R`` blocks of ``B`` consecutive
  neurons (``B ~ sqrt(n / k)``, padded with ``-inf``); take each block's maximum (one pass
  over x), pick the k blocks with the largest maxima (``lax.top_k`` on R values, ties to the
  lower block), gather those k blocks in index order and ``lax.top_k`` the ``k * B`` values.
  Exact with the tie rule: order neurons by (input desc, index asc) and blocks by their best
  neuron; a neuron in a block ranked below k has k better block-bests above it, so it cannot
  be among the k winners; within one block and among equal block maxima the lower index
  comes first in both stages. Cost: one memory pass plus two top_k of ``~sqrt(n k)``
  elements (instead of one top_k of n), no cumsum, no branch.
* ``"rank"``: each neuron's rank, the number of neurons that beat it (larger input, or equal
  input and lower index), from all n^2 pairs in one fused compare-and-count pass; the k
  neurons of rank < k win, gathered in index order by ``nonzero(size=k)``. No sort and no
  branch: on a GPU two kernels for an n of a few thousand (the lazy supports), where
  ``lax.top_k`` lowers to a sort of ~20 us (H100, n = 2,098). O(n^2) work, so only for small n.
* ``"auto"``: on a GPU ``rank`` for n <= 8192; ``top_k`` for n <= 2**20 or on the CPU backend,
  else ``blocks``. Measured on the
  H100 (docs/assemblies.md, 2026-11-24): at n = 1e6 top_k 0.22 ms vs blocks 0.30 ms per call
  (threshold: 3.3x slower than top_k in the seed workload); at 1e7 blocks 0.32 ms vs top_k
  0.58-0.69 ms; at 1e8 blocks 0.53 ms vs top_k 3.51 ms.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

__all__ = ["k_cap", "k_cap_top_k", "k_cap_threshold", "k_cap_blocks", "k_cap_rank", "METHODS"]

METHODS = ("auto", "top_k", "threshold", "blocks", "rank")


def k_cap_top_k(x: jax.Array, k: int) -> jax.Array:
    """Exact k-cap by ``lax.top_k`` (ties to the lower index); int32[k] sorted ascending."""
    _, idx = jax.lax.top_k(x, k)
    return jnp.sort(idx.astype(jnp.int32))


def k_cap_rank(x: jax.Array, k: int) -> jax.Array:
    """Exact k-cap by pairwise ranks (ties to the lower index); int32[k] sorted ascending.
    ``n^2`` compares in one fused pass: for small n only (see the module docstring)."""
    n = x.shape[-1]
    i = jnp.arange(n)
    xi, xj = x[:, None], x[None, :]
    beats = (xj > xi) | ((xj == xi) & (i[None, :] < i[:, None]))      # j beats i
    rank = jnp.sum(beats, axis=1, dtype=jnp.int32)
    return jnp.nonzero(rank < k, size=k, fill_value=0)[0].astype(jnp.int32)


def _count_ge(x, t, tile: int = 1024):
    """int32[T]: number of x >= t_m (uint32 keys and thresholds), in one fused pass over x.

    x is viewed as [R, tile] so the reduction has R * T rows of ``tile`` elements (a
    [T, n] reduction would give only T rows and leave most of a GPU idle). Padding is key 0,
    which no threshold > 0 counts.
    """
    n = x.shape[0]
    r = -(-n // tile)
    if r * tile != n:
        x = jnp.concatenate([x, jnp.zeros((r * tile - n,), x.dtype)])
    xr = x.reshape(r, 1, tile)
    part = jnp.sum(xr >= t[None, :, None], axis=2, dtype=jnp.int32)   # [R, T]
    return jnp.sum(part, axis=0, dtype=jnp.int32)


def order_key(x: jax.Array) -> jax.Array:
    """uint32 keys with ``key(a) < key(b)`` iff ``a < b`` for float32 ``a, b`` (and equal
    keys for ``-0.0`` and ``0.0``)."""
    x = x.astype(jnp.float32)
    x = jnp.where(x == 0, jnp.float32(0.0), x)          # -0.0 -> +0.0 (x + 0 is simplified away)
    u = jax.lax.bitcast_convert_type(x, jnp.uint32)
    neg = (u >> 31) == 1
    return jnp.where(neg, ~u, u | jnp.uint32(0x80000000))


def k_cap_threshold(x: jax.Array, k: int, bits: int = 4) -> jax.Array:
    """Exact k-cap by branch-free radix selection (module doc); int32[k] sorted ascending."""
    if 32 % bits:
        raise ValueError(f"k_cap_threshold: bits={bits} must divide 32")
    n = x.shape[0]
    key = order_key(x)
    m = jnp.arange(1, 2**bits, dtype=jnp.uint32)
    prefix = jnp.uint32(0)
    for shift in range(32 - bits, -1, -bits):
        t = prefix | (m << shift)
        c = _count_ge(key, t)                       # non-increasing in m
        step = jnp.sum(c >= k, dtype=jnp.uint32)    # largest m with count >= k (0 if none)
        prefix = prefix | (step << shift)
    v = prefix                                      # the k-th largest key
    above = key > v
    tie = key == v
    need = k - jnp.sum(above, dtype=jnp.int32)
    take = tie & (jnp.cumsum(tie, dtype=jnp.int32) <= need)
    return jnp.nonzero(above | take, size=k, fill_value=n)[0].astype(jnp.int32)


def block_size(n: int, k: int) -> int:
    """Block length of :func:`k_cap_blocks`: the power of two nearest ``sqrt(n / k)`` (>= 8)."""
    return 1 << max(3, round(0.5 * math.log2(max(n / k, 1.0))))


def k_cap_blocks(x: jax.Array, k: int, block: int | None = None) -> jax.Array:
    """Exact k-cap by block maxima + two small ``top_k`` (module doc); int32[k] ascending."""
    n = x.shape[0]
    b = block_size(n, k) if block is None else int(block)
    r = -(-n // b)
    if r <= k:                       # too few blocks to prune anything
        return k_cap_top_k(x, k)
    x = x.astype(jnp.float32)
    if r * b != n:
        x = jnp.concatenate([x, jnp.full((r * b - n,), -jnp.inf, jnp.float32)])
    xb = x.reshape(r, b)
    _, blk = jax.lax.top_k(jnp.max(xb, axis=1), k)          # the k best blocks
    blk = jnp.sort(blk.astype(jnp.int32))                   # index order: ties stay low-first
    cand = xb[blk].reshape(-1)                              # [k * b], in global index order
    _, pos = jax.lax.top_k(cand, k)
    ids = blk[pos // b] * b + pos % b
    return jnp.sort(ids.astype(jnp.int32))


def k_cap(x: jax.Array, k: int, method: str = "auto") -> jax.Array:
    """The k winners of input ``x`` (float[n]); int32[k] sorted ascending, ties to lower index."""
    n = x.shape[-1]
    if not 0 < k <= n:
        raise ValueError(f"k_cap: k={k} must be in [1, n={n}]")
    if method == "auto":
        cpu = jax.default_backend() == "cpu"
        method = ("rank" if n <= 8192 and not cpu else
                  "top_k" if n <= 2**20 or cpu else "blocks")
    if method == "rank":
        return k_cap_rank(x, k)
    if method == "top_k":
        return k_cap_top_k(x, k)
    if method == "threshold":
        return k_cap_threshold(x, k)
    if method == "blocks":
        return k_cap_blocks(x, k)
    raise ValueError(f"k_cap: method {method!r} not allowed; allowed: {', '.join(map(repr, METHODS))}")
