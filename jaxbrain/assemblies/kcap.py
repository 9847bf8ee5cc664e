"""k-cap: the k neurons with the largest input fire.

Tie rule (all methods, documented and tested): among equal inputs the **lower neuron index
wins**. Winners are returned as int32[k] sorted ascending.

Methods:

* ``"top_k"``: ``lax.top_k`` (which returns the lower index first among equals), then a sort of
  the k indices. A sort-based kernel: fine for n up to ~1e6.
* ``"threshold"``: a selection that reads the input a few times instead of sorting it, made
  for NEMO inputs, which are mostly small integers (synapse counts) plus a few learned
  increments:

  1. ``lo, hi = min(x), max(x)``; the bracket ``[a, b) = [lo, nextafter(hi))`` holds the k-th
     largest value ``v_k`` (``count(x >= a) >= k > count(x >= b)``).
  2. ``passes`` times: count ``x >= t`` for ``bins - 1`` evenly spaced thresholds inside the
     bracket in one fused pass, and shrink the bracket to the sub-interval holding ``v_k``.
  3. If ``count(x >= a) <= cap``: gather those candidates (in index order) and take an exact
     ``top_k`` of them; else, if every value in ``[a, b)`` is equal (many neurons tied at the
     k-th input), all ``x >= b`` win plus the lowest-index ones in the bracket; else (values
     closer than the bracket width, rare) fall back to ``top_k``. The result is always
     exactly the top_k result. The common path costs one host sync (``lax.cond``); under
     ``vmap`` the conds become selects and every branch runs (use ``top_k`` there).

* ``"auto"``: ``top_k`` for n <= 2**17, else ``threshold``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["k_cap", "k_cap_top_k", "k_cap_threshold"]


def k_cap_top_k(x: jax.Array, k: int) -> jax.Array:
    """Exact k-cap by ``lax.top_k`` (ties to the lower index); int32[k] sorted ascending."""
    _, idx = jax.lax.top_k(x, k)
    return jnp.sort(idx.astype(jnp.int32))


def _count_ge(x, t, tile: int = 1024):
    """int32[T]: number of x >= t_m, in one fused pass over x.

    x is viewed as [R, tile] so the reduction has R * T rows of ``tile`` elements (a
    [T, n] reduction would give only T rows and leave most of a GPU idle).
    """
    n = x.shape[0]
    r = -(-n // tile)
    if r * tile != n:
        x = jnp.concatenate([x, jnp.full((r * tile - n,), -jnp.inf, x.dtype)])
    xr = x.reshape(r, 1, tile)
    part = jnp.sum(xr >= t[None, :, None], axis=2, dtype=jnp.int32)   # [R, T]
    return jnp.sum(part, axis=0, dtype=jnp.int32)


def k_cap_threshold(x: jax.Array, k: int, bins: int = 32, passes: int = 3,
                    cap: int | None = None) -> jax.Array:
    """Exact k-cap by threshold search (see module doc); int32[k] sorted ascending."""
    n = x.shape[0]
    x = x.astype(jnp.float32)
    cap = min(n, max(4 * k, 4096) if cap is None else cap)
    frac = jnp.arange(1, bins, dtype=jnp.float32) / bins

    def refine(a, b, ca, cb):
        t = jnp.clip(a + (b - a) * frac, a, b)
        c = _count_ge(x, t)
        m = jnp.sum(c >= k, dtype=jnp.int32)   # c is non-increasing: t[:m] keep >= k
        lo, hi = jnp.maximum(m - 1, 0), jnp.minimum(m, bins - 2)
        return (jnp.where(m > 0, t[lo], a), jnp.where(m < bins - 1, t[hi], b),
                jnp.where(m > 0, c[lo], ca), jnp.where(m < bins - 1, c[hi], cb))

    def uniform(a, b):
        s = (x >= a) & (x < b)
        return jnp.min(jnp.where(s, x, jnp.inf)) == jnp.max(jnp.where(s, x, -jnp.inf))

    a, b = jnp.min(x), jnp.nextafter(jnp.max(x), jnp.float32(jnp.inf))
    ca, cb = jnp.int32(n), jnp.int32(0)
    for _ in range(passes):
        a, b, ca, cb = refine(a, b, ca, cb)

    def gathered(_):
        idx = jnp.nonzero(x >= a, size=cap, fill_value=n)[0]
        vals = jnp.where(idx < n, x[jnp.minimum(idx, n - 1)], -jnp.inf)
        _, pos = jax.lax.top_k(vals, k)
        return jnp.sort(idx[pos].astype(jnp.int32))

    def ties(_):
        # every value in [a, b) is equal: all x >= b win, then the lowest indices in [a, b)
        s = (x >= a) & (x < b)
        take = s & (jnp.cumsum(s, dtype=jnp.int32) <= k - cb)
        return jnp.nonzero((x >= b) | take, size=k, fill_value=n)[0].astype(jnp.int32)

    def crowded(_):
        return jax.lax.cond(uniform(a, b), ties, lambda _: k_cap_top_k(x, k), None)

    return jax.lax.cond(ca <= cap, gathered, crowded, None)


def k_cap(x: jax.Array, k: int, method: str = "auto") -> jax.Array:
    """The k winners of input ``x`` (float[n]); int32[k] sorted ascending, ties to lower index."""
    n = x.shape[-1]
    if not 0 < k <= n:
        raise ValueError(f"k_cap: k={k} must be in [1, n={n}]")
    if method == "auto":
        method = "top_k" if n <= 2**17 else "threshold"
    if method == "top_k":
        return k_cap_top_k(x, k)
    if method == "threshold":
        return k_cap_threshold(x, k)
    raise ValueError(f"k_cap: method {method!r} not allowed; allowed: 'auto', 'top_k', 'threshold'")
