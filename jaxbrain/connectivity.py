"""Connectivity descriptions, generated procedurally from counters or materialised.

A :class:`Connectivity` is a *description*: kind, sizes, probability or degree, weight law,
Dale signs, delay law and a seed. From it, :func:`source_rows` generates the out-synapses
(targets, weights, delays) of any set of source neurons on the fly from the counter-based
RNG, keyed by ``(seed, proj_id, stream, source, slot)`` so the matrix never has to exist in
memory, and the same seed gives the same synapses whatever batch, shard or implementation
asks. :func:`materialize` evaluates the same generator for every source and returns a padded
row table (``Ell``) or COO / CSR / dense forms of it, so explicit and procedural
propagation see identical synapses.

Kinds (``pre``-major "push" form, a row of at most ``max_out`` slots per source):

* ``fixed_prob``: each pair connected independently with probability ``p`` (exact
  Bernoulli): per source, geometric gaps ``floor(log U / log(1 - p)) + 1`` are drawn and
  summed, so targets come out sorted; the row has ``max_out = mean + 6 sd`` slots and
  :func:`overflow` counts rows that would need more (checked, never silently dropped).
* ``fixed_outdegree``: ``k`` targets per source, uniform with replacement (NEST's default
  ``allow_multapses=True``).
* ``fixed_indegree``: ``k`` sources per target, uniform with replacement. Generated
  target-major ("pull") by :func:`target_rows`; materialised, it is converted to rows.
* ``small_world``: Watts-Strogatz on a ring: each source projects to its ``k`` nearest
  neighbours (``k/2`` each side), each edge rewired with probability ``beta`` to a uniform
  random target other than the source.
* ``gaussian``: neurons on a ``side x side`` grid of the unit torus, pair probability
  ``p * exp(-d^2 / (2 sigma^2))``, exact by thinning ``fixed_prob(p)`` candidates.
* ``all_to_all`` and ``one_to_one``.

``allow_autapses=False`` (for a population onto itself) removes i -> i exactly: targets are
drawn among the other ``n_post - 1`` neurons and shifted past the source.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jaxtyping import Array, Bool, Float, Int

from . import rng

__all__ = [
    "WeightLaw", "DelayLaw", "Connectivity", "Rows", "Ell", "source_rows", "target_rows",
    "materialize", "to_coo", "to_csr", "to_dense", "overflow", "randint",
    "fixed_prob", "fixed_indegree", "fixed_outdegree", "small_world", "gaussian",
    "all_to_all", "one_to_one", "from_coo", "KINDS",
]

KINDS = ("fixed_prob", "fixed_indegree", "fixed_outdegree", "small_world", "gaussian",
         "all_to_all", "one_to_one", "explicit")

# RNG streams: independent counters for each quantity drawn per synapse.
_TARGET, _WEIGHT, _DELAY, _REWIRE, _ACCEPT = 0, 1, 2, 3, 4


def randint(h: Array, n) -> Array:
    """Map uint32 hashes to integers in [0, n) by a 32x32 -> high-32 multiply (Lemire).

    Unlike ``h % n`` this has no modular structure, and its bias is below n / 2**32.
    Computed in 16-bit limbs so it needs no 64-bit integers.
    """
    h = h.astype(jnp.uint32)
    n = jnp.asarray(n, jnp.uint32)
    a_lo, a_hi = h & 0xFFFF, h >> 16
    b_lo, b_hi = n & 0xFFFF, n >> 16
    lo_lo = a_lo * b_lo
    mid1 = a_hi * b_lo + (lo_lo >> 16)
    mid2 = a_lo * b_hi + (mid1 & 0xFFFF)
    hi = a_hi * b_hi + (mid1 >> 16) + (mid2 >> 16)
    return hi.astype(jnp.int32)


@dataclasses.dataclass(frozen=True)
class WeightLaw:
    """Distribution of synaptic weights (units of the receiving synapse: nS, pA or mV).

    kind: ``constant`` (``mean``), ``normal`` (``mean``, ``std``), ``lognormal`` (``mean``
    and ``std`` of the weight itself); every kind is then clipped to [``lo``, ``hi``]
    (``clipped`` normal: set ``lo``/``hi``). Weights are magnitudes; signs come from
    ``Connectivity.exc_fraction`` (Dale) or the receptor.
    """
    kind: str = "constant"
    mean: float = 1.0
    std: float = 0.0
    lo: float = -math.inf
    hi: float = math.inf

    def __post_init__(self):
        if self.kind not in ("constant", "normal", "lognormal"):
            raise ValueError(f"WeightLaw.kind {self.kind!r}; allowed: constant, normal, lognormal")
        if self.std < 0:
            raise ValueError(f"WeightLaw.std {self.std!r}; allowed: >= 0")
        if self.kind == "lognormal" and self.mean <= 0:
            raise ValueError(f"WeightLaw.mean {self.mean!r} for lognormal; allowed: > 0")

    def sample(self, u_normal: Array) -> Array:
        """Weights from standard normal draws ``u_normal``."""
        if self.kind == "constant":
            w = jnp.full(u_normal.shape, self.mean, jnp.float32)
        elif self.kind == "normal":
            w = self.mean + self.std * u_normal
        else:
            s2 = math.log1p((self.std / self.mean) ** 2)
            w = jnp.exp(math.log(self.mean) - 0.5 * s2 + math.sqrt(s2) * u_normal)
        return jnp.clip(w, self.lo, self.hi).astype(jnp.float32)


@dataclasses.dataclass(frozen=True)
class DelayLaw:
    """Distribution of synaptic delays in ms: ``mean`` (and ``std`` for ``normal``).

    Delays are rounded to whole steps of ``dt`` and clipped to [1, ``max_steps``] steps
    (one step is the minimum delay, as in NEST). ``max_steps`` sizes the ring buffer.
    ``redraw_below_ms``: for ``normal``, values below it are redrawn instead of clipped, i.e.
    the law is the normal truncated to [redraw_below_ms, inf) (NEST's ``redraw(..., min=)``,
    as the Potjans-Diesmann reference draws its delays); sampled exactly by the inverse CDF
    from the same draw.
    """
    kind: str = "constant"
    mean: float = 0.1
    std: float = 0.0
    max_ms: float | None = None
    redraw_below_ms: float | None = None

    def __post_init__(self):
        if self.kind not in ("constant", "normal"):
            raise ValueError(f"DelayLaw.kind {self.kind!r}; allowed: constant, normal")
        if self.mean <= 0 or self.std < 0:
            raise ValueError(f"DelayLaw mean {self.mean!r} / std {self.std!r}; allowed: mean > 0, std >= 0")

    def max_steps(self, dt: float) -> int:
        hi = self.max_ms if self.max_ms is not None else (
            self.mean if self.kind == "constant" else self.mean + 6 * self.std)
        return max(1, int(round(hi / dt)))

    def sample_steps(self, u_normal: Array, dt: float) -> Array:
        """Delays in whole steps (to nearest; constant delays round half to even as Python)."""
        if not self.heterogeneous:
            steps = min(max(round(self.mean / dt), 1), self.max_steps(dt))
            return jnp.full(jnp.shape(u_normal), steps, jnp.int32)
        if self.redraw_below_ms is not None:
            p_lo = 0.5 * math.erfc((self.mean - self.redraw_below_ms) / (self.std * math.sqrt(2.0)))
            u = jax.scipy.special.ndtr(u_normal)
            u_normal = rng.ndtri(jnp.clip(p_lo + u * (1.0 - p_lo), 1e-7, 1.0 - 6e-8))
        d = self.mean + self.std * u_normal
        return jnp.clip(jnp.floor(d / dt + 0.5), 1, self.max_steps(dt)).astype(jnp.int32)

    @property
    def heterogeneous(self) -> bool:
        return self.kind == "normal" and self.std > 0


@struct.dataclass
class Connectivity:
    """A projection's connectivity, as a description (see module docstring).

    ``seed`` is a pytree leaf (vmap over seeds works); everything else is static.
    """
    seed: Int[Array, ""]
    kind: str = struct.field(pytree_node=False, default="fixed_prob")
    n_pre: int = struct.field(pytree_node=False, default=1)
    n_post: int = struct.field(pytree_node=False, default=1)
    p: float = struct.field(pytree_node=False, default=0.1)
    k: int = struct.field(pytree_node=False, default=0)
    beta: float = struct.field(pytree_node=False, default=0.0)
    sigma: float = struct.field(pytree_node=False, default=0.1)
    proj_id: int = struct.field(pytree_node=False, default=0)
    allow_autapses: bool = struct.field(pytree_node=False, default=True)
    weight: WeightLaw = struct.field(pytree_node=False, default=WeightLaw())
    delay: DelayLaw = struct.field(pytree_node=False, default=DelayLaw())
    exc_fraction: float | None = struct.field(pytree_node=False, default=None)
    g_inh: float = struct.field(pytree_node=False, default=1.0)

    # ---- static shape facts ----
    @property
    def max_out(self) -> int:
        """Slots per source row (static)."""
        n = self.n_post - (0 if self.allow_autapses else 1)
        if self.kind in ("fixed_prob", "gaussian"):
            p = self.p
            if p <= 0:
                return 1
            if p >= 1:
                return n
            mean, sd = n * p, math.sqrt(n * p * (1 - p))
            return int(min(n, math.ceil(mean + 6 * sd + 6)))
        if self.kind in ("fixed_outdegree", "small_world"):
            return self.k
        if self.kind == "all_to_all":
            return n
        if self.kind == "one_to_one":
            return 1
        if self.kind == "explicit":
            return self.k
        if self.kind == "fixed_indegree":
            # out-degree of a fixed in-degree network is Binomial(n_post * k, 1 / n_pre)
            mean = self.n_post * self.k / self.n_pre
            return int(min(self.n_post * self.k, math.ceil(mean + 6 * math.sqrt(mean) + 6)))
        raise ValueError(self.kind)

    @property
    def mean_out(self) -> float:
        """Expected out-degree per source."""
        n = self.n_post - (0 if self.allow_autapses else 1)
        if self.kind == "fixed_prob":
            return n * self.p
        if self.kind in ("fixed_outdegree", "small_world"):
            return float(self.k)
        if self.kind == "fixed_indegree":
            return self.n_post * self.k / self.n_pre
        if self.kind == "all_to_all":
            return float(n)
        if self.kind == "one_to_one":
            return 1.0
        if self.kind == "explicit":
            return self.k / self.n_pre  # k holds the number of synapses
        return n * self.p * 2 * math.pi * self.sigma ** 2  # gaussian, sigma << 1

    def sign(self, src: Array) -> Array:
        """Dale sign of each source: +1 for the first ``exc_fraction`` of sources, else -g_inh."""
        if self.exc_fraction is None:
            return jnp.ones(jnp.shape(src), jnp.float32)
        n_exc = int(round(self.exc_fraction * self.n_pre))
        return jnp.where(src < n_exc, 1.0, -self.g_inh).astype(jnp.float32)


def _check(kind, n_pre, n_post, p=None, k=None):
    if kind not in KINDS:
        raise ValueError(f"connectivity kind {kind!r}; allowed: {list(KINDS)}")
    if n_pre < 1 or n_post < 1:
        raise ValueError(f"n_pre={n_pre}, n_post={n_post}; allowed: >= 1")
    if n_pre >= 2**31 or n_post >= 2**31:
        raise ValueError("populations are indexed by int32; allowed: n < 2**31")
    if p is not None and not 0.0 <= p <= 1.0:
        raise ValueError(f"connection probability p={p!r}; allowed: [0, 1]")
    if k is not None and k < 0:
        raise ValueError(f"degree k={k!r}; allowed: >= 0")


def fixed_prob(n_pre, n_post, p, seed=0, **kw) -> Connectivity:
    """Each pair connected independently with probability ``p``."""
    _check("fixed_prob", n_pre, n_post, p=p)
    return Connectivity(jnp.asarray(seed, jnp.int32), "fixed_prob", n_pre, n_post, p=p, **kw)


def fixed_indegree(n_pre, n_post, k, seed=0, **kw) -> Connectivity:
    """``k`` sources per target, uniform with replacement."""
    _check("fixed_indegree", n_pre, n_post, k=k)
    return Connectivity(jnp.asarray(seed, jnp.int32), "fixed_indegree", n_pre, n_post, k=k, **kw)


def fixed_outdegree(n_pre, n_post, k, seed=0, **kw) -> Connectivity:
    """``k`` targets per source, uniform with replacement."""
    _check("fixed_outdegree", n_pre, n_post, k=k)
    return Connectivity(jnp.asarray(seed, jnp.int32), "fixed_outdegree", n_pre, n_post, k=k, **kw)


def small_world(n, k, beta, seed=0, **kw) -> Connectivity:
    """Watts-Strogatz ring of ``n`` neurons, ``k`` (even) neighbours, rewiring ``beta``."""
    _check("small_world", n, n, p=beta, k=k)
    if k % 2 or k >= n:
        raise ValueError(f"small-world k={k}; allowed: even and < n={n}")
    return Connectivity(jnp.asarray(seed, jnp.int32), "small_world", n, n, k=k, beta=beta,
                        allow_autapses=False, **kw)


def gaussian(n_pre, n_post, p, sigma, seed=0, **kw) -> Connectivity:
    """Distance-dependent: probability ``p exp(-d^2/(2 sigma^2))`` on the unit torus."""
    _check("gaussian", n_pre, n_post, p=p)
    if sigma <= 0:
        raise ValueError(f"gaussian sigma={sigma!r}; allowed: > 0 (fraction of the sheet)")
    return Connectivity(jnp.asarray(seed, jnp.int32), "gaussian", n_pre, n_post, p=p,
                        sigma=sigma, **kw)


def all_to_all(n_pre, n_post, seed=0, **kw) -> Connectivity:
    _check("all_to_all", n_pre, n_post)
    return Connectivity(jnp.asarray(seed, jnp.int32), "all_to_all", n_pre, n_post, **kw)


def one_to_one(n, seed=0, **kw) -> Connectivity:
    _check("one_to_one", n, n)
    return Connectivity(jnp.asarray(seed, jnp.int32), "one_to_one", n, n, **kw)


# ---- procedural generation -------------------------------------------------------------

class Rows(NamedTuple):
    """Out-synapses of a batch of sources, padded to ``max_out`` slots.

    targets: int32 [..., max_out] (``n_post`` where invalid); weights: float32 (0 where
    invalid, Dale sign applied); delays: int32 steps; valid: bool.
    """
    targets: Int[Array, "... d"]
    weights: Float[Array, "... d"]
    delays: Int[Array, "... d"]
    valid: Bool[Array, "... d"]


def _grid_xy(idx, n):
    side = int(math.ceil(math.sqrt(n)))
    return ((idx % side).astype(jnp.float32) + 0.5) / side, ((idx // side).astype(jnp.float32) + 0.5) / side


def _skip_self(t, src, allow_autapses):
    return t if allow_autapses else t + (t >= src[..., None]).astype(jnp.int32)


def source_rows(conn: Connectivity, src: Int[Array, "*b"], dt: float = 0.1,
                n_slots: int | None = None) -> Rows:
    """Generate the out-synapses of sources ``src`` (any shape) procedurally.

    Arguments:
        conn: the connectivity description.
        src: int32 global source indices, any shape ``*b``.
        dt: time step in ms (to turn delays into steps).
        n_slots: slots per row (default ``conn.max_out``); slots from ``max_out`` on are
            empty (a GPU kernel pads rows to a power of two).
    Returns:
        :class:`Rows` of shape ``(*b, n_slots)``.
    """
    src = jnp.asarray(src, jnp.int32)
    d = n_slots or conn.max_out
    s = src[..., None]
    slot = jnp.arange(d, dtype=jnp.int32).reshape((1,) * src.ndim + (d,))
    seed, pid = conn.seed, conn.proj_id
    n_eff = conn.n_post - (0 if conn.allow_autapses else 1)
    kind = conn.kind
    if kind == "fixed_indegree":
        raise ValueError("fixed_indegree is target-major: use target_rows, or materialize()")
    if kind in ("fixed_prob", "gaussian"):
        if conn.p <= 0:
            t = jnp.full(s.shape[:-1] + (d,), n_eff, jnp.int32)
        else:
            u = rng.uniform(seed, pid, _TARGET, s, slot)
            if conn.p >= 1:
                gaps = jnp.ones_like(u, dtype=jnp.int32)
            else:
                gaps = jnp.floor(jnp.log(u) / math.log1p(-conn.p)).astype(jnp.int32) + 1
                gaps = jnp.minimum(gaps, n_eff + 1)  # no int overflow in the cumsum
            t = jnp.cumsum(gaps, axis=-1) - 1
        valid = t < n_eff
        t = _skip_self(jnp.where(valid, t, 0), src, conn.allow_autapses)
        if kind == "gaussian":
            xs, ys = _grid_xy(s, conn.n_pre)
            xt, yt = _grid_xy(t, conn.n_post)
            dx = jnp.abs(xs - xt); dx = jnp.minimum(dx, 1 - dx)
            dy = jnp.abs(ys - yt); dy = jnp.minimum(dy, 1 - dy)
            accept = rng.uniform(seed, pid, _ACCEPT, s, slot) < jnp.exp(-(dx * dx + dy * dy) / (2 * conn.sigma ** 2))
            valid = valid & accept
    elif kind == "fixed_outdegree":
        t = _skip_self(randint(rng.hash_u32(seed, pid, _TARGET, s, slot), n_eff), src, conn.allow_autapses)
        valid = jnp.ones(t.shape, bool)
    elif kind == "small_world":
        half = conn.k // 2
        offset = jnp.where(slot < half, slot + 1, -(slot - half + 1))
        ring_t = (s + offset) % conn.n_post
        rewired = rng.uniform(seed, pid, _REWIRE, s, slot) < conn.beta
        rand_t = _skip_self(randint(rng.hash_u32(seed, pid, _TARGET, s, slot), conn.n_post - 1), src, False)
        t = jnp.where(rewired, rand_t, ring_t)
        valid = jnp.ones(t.shape, bool)
    elif kind == "all_to_all":
        t = _skip_self(jnp.broadcast_to(slot, src.shape + (d,)), src, conn.allow_autapses)
        valid = jnp.ones(t.shape, bool)
    elif kind == "one_to_one":
        t = s + 0 * slot
        valid = jnp.ones(t.shape, bool)
    else:
        raise ValueError(f"connectivity kind {kind!r}; allowed: {list(KINDS)}")
    w = conn.weight.sample(rng.normal(seed, pid, _WEIGHT, s, slot)) if conn.weight.kind != "constant" \
        else jnp.full(t.shape, conn.weight.mean, jnp.float32)
    w = w * conn.sign(s)
    z = rng.normal(seed, pid, _DELAY, s, slot) if conn.delay.heterogeneous else jnp.zeros(t.shape)
    delays = conn.delay.sample_steps(z, dt)
    if d > conn.max_out:
        valid = valid & (slot < conn.max_out)
    t = jnp.where(valid, t, conn.n_post).astype(jnp.int32)
    return Rows(t, jnp.where(valid, w, 0.0), delays, valid)


def target_rows(conn: Connectivity, tgt: Int[Array, "*b"], dt: float = 0.1) -> Rows:
    """For ``fixed_indegree``: the ``k`` in-synapses of targets ``tgt``; ``targets`` holds
    the *sources* (pull form). Weights and delays follow the same laws as ``source_rows``."""
    if conn.kind != "fixed_indegree":
        raise ValueError(f"target_rows is for fixed_indegree, not {conn.kind!r}")
    tgt = jnp.asarray(tgt, jnp.int32)
    t = tgt[..., None]
    slot = jnp.arange(conn.k, dtype=jnp.int32).reshape((1,) * tgt.ndim + (conn.k,))
    n_eff = conn.n_pre - (0 if conn.allow_autapses else 1)
    srcs = _skip_self(randint(rng.hash_u32(conn.seed, conn.proj_id, _TARGET, t, slot), n_eff), tgt,
                      conn.allow_autapses)
    w = conn.weight.sample(rng.normal(conn.seed, conn.proj_id, _WEIGHT, t, slot)) * conn.sign(srcs)
    z = rng.normal(conn.seed, conn.proj_id, _DELAY, t, slot) if conn.delay.heterogeneous \
        else jnp.zeros(srcs.shape)
    delays = conn.delay.sample_steps(z, dt)
    return Rows(srcs, w, delays, jnp.ones(srcs.shape, bool))


# ---- materialisation ----------------------------------------------------------------------

@struct.dataclass
class Ell:
    """Explicit synapses as source-major padded rows ("ELLPACK"): the materialised form of
    :class:`Rows` for every source. targets == n_post marks an empty slot."""
    targets: Int[Array, "n_pre d"]
    weights: Float[Array, "n_pre d"]
    delays: Int[Array, "n_pre d"]
    n_post: int = struct.field(pytree_node=False)

    @property
    def n_synapses(self) -> int:
        return int((self.targets < self.n_post).sum())


@jax.jit
def _rows_overflowing(conn: Connectivity, src: Int[Array, "m"]) -> Int[Array, ""]:
    n_eff = conn.n_post - (0 if conn.allow_autapses else 1)
    u = rng.uniform(conn.seed, conn.proj_id, _TARGET, src[:, None], jnp.arange(conn.max_out)[None, :])
    gaps = jnp.minimum(jnp.floor(jnp.log(u) / math.log1p(-conn.p)).astype(jnp.int32) + 1, n_eff + 1)
    return ((gaps.sum(-1) - 1 < n_eff) & (src < conn.n_pre)).sum()


def overflow(conn: Connectivity, chunk: int = 65536) -> int:
    """Number of source rows whose synapses would not fit in ``max_out`` slots (fixed_prob /
    gaussian): their last slot is still a valid target. Expected ~1e-9 per row."""
    if conn.kind not in ("fixed_prob", "gaussian") or conn.p >= 1 or conn.p <= 0:
        return 0
    chunk = min(chunk, conn.n_pre)
    return sum(int(_rows_overflowing(conn, jnp.arange(start, start + chunk, dtype=jnp.int32)))
               for start in range(0, conn.n_pre, chunk))


_source_rows_jit = jax.jit(source_rows, static_argnums=2)
_target_rows_jit = jax.jit(target_rows, static_argnums=2)


def materialize(conn: Connectivity, dt: float = 0.1) -> Ell:
    """All synapses of ``conn`` as an :class:`Ell` table (identical to the procedural ones)."""
    if conn.kind == "fixed_indegree":
        rows = _target_rows_jit(conn, jnp.arange(conn.n_post, dtype=jnp.int32), dt)
        pre = np.asarray(rows.targets).ravel()
        post = np.repeat(np.arange(conn.n_post, dtype=np.int32), conn.k)
        return _ell_from_coo(pre, post, np.asarray(rows.weights).ravel(),
                             np.asarray(rows.delays).ravel(), conn.n_pre, conn.n_post)
    n_over = overflow(conn)
    if n_over:
        raise ValueError(f"{n_over} source rows exceed max_out={conn.max_out} slots; "
                         "this should be ~1e-9 per row: check p and n_post")
    rows = _source_rows_jit(conn, jnp.arange(conn.n_pre, dtype=jnp.int32), dt)
    width = max(1, int(rows.valid.sum(-1).max()))  # valid slots come first in every row
    if conn.kind == "gaussian":  # thinning leaves gaps: compact each row
        order = jnp.argsort(~rows.valid, axis=-1, stable=True)
        rows = Rows(*(jnp.take_along_axis(a, order, axis=-1) for a in rows))
    return Ell(rows.targets[:, :width], rows.weights[:, :width], rows.delays[:, :width], conn.n_post)


def _ell_from_coo(pre, post, w, d, n_pre, n_post) -> Ell:
    """Source-major rows from COO entries whose ``post`` is non-decreasing (target-major)."""
    order = np.argsort(pre, kind="stable")
    return _ell_from_sorted(pre[order], post[order], w[order], d[order], n_pre, n_post)


def _ell_from_sorted(pre, post, w, d, n_pre, n_post) -> Ell:
    """Source-major rows from COO entries sorted by ``pre``."""
    counts = np.bincount(pre, minlength=n_pre)
    width = max(1, int(counts.max()) if counts.size else 1)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(pre.size) - start[pre]
    T = np.full((n_pre, width), n_post, np.int32); W = np.zeros((n_pre, width), np.float32)
    D = np.ones((n_pre, width), np.int32)
    T[pre, slot], W[pre, slot], D[pre, slot] = post, w, d
    # device_put, not jnp.asarray: the latter compiles a program per array shape
    return Ell(*jax.device_put((T, W, D)), n_post)


def from_coo(pre, post, weights, delays_steps, n_pre: int, n_post: int) -> tuple[Connectivity, Ell]:
    """Explicit synapses given as arrays (e.g. from another simulator or a connectome):
    a ``Connectivity`` of kind ``explicit`` (it cannot be generated procedurally) and its
    :class:`Ell` rows. ``delays_steps``: int delays in steps (>= 1), scalar or per synapse."""
    pre, post = np.asarray(pre, np.int32), np.asarray(post, np.int32)
    if pre.shape != post.shape:
        raise ValueError(f"pre {pre.shape} and post {post.shape} must have the same shape")
    if pre.size and (pre.min() < 0 or pre.max() >= n_pre or post.min() < 0 or post.max() >= n_post):
        raise ValueError(f"synapse indices out of range: pre in [0, {n_pre}), post in [0, {n_post})")
    w = np.broadcast_to(np.asarray(weights, np.float32), pre.shape)
    d = np.broadcast_to(np.asarray(delays_steps, np.int32), pre.shape)
    if d.size and d.min() < 1:
        raise ValueError("delays_steps must be >= 1 (one step is the minimum delay)")
    order = np.lexsort((post, pre))
    ell = _ell_from_sorted(pre[order], post[order], w[order], d[order], n_pre, n_post)
    max_d = int(d.max()) if d.size else 1
    delay = DelayLaw("constant", float(max_d), max_ms=float(max_d)) if d.size == 0 or d.min() == max_d \
        else DelayLaw("normal", float(d.mean()), float(d.std()) + 1e-6, max_ms=float(max_d))
    conn = Connectivity(jnp.asarray(0, jnp.int32), "explicit", n_pre, n_post, k=int(pre.size), delay=delay)
    return conn, ell


def to_coo(ell: Ell):
    """(pre, post, weight, delay) numpy arrays of the valid synapses, source-major."""
    T, W, D = (np.asarray(a) for a in (ell.targets, ell.weights, ell.delays))
    pre, slot = np.nonzero(T < ell.n_post)
    return pre.astype(np.int32), T[pre, slot], W[pre, slot], D[pre, slot]


def to_csr(ell: Ell):
    """(indptr, indices, data) numpy CSR of the weight matrix, rows = sources."""
    pre, post, w, _ = to_coo(ell)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(pre, minlength=ell.targets.shape[0]))])
    return indptr, post, w


def to_dense(ell: Ell) -> Float[Array, "n_pre n_post"]:
    """Dense [n_pre, n_post] weight matrix (multapses summed)."""
    n_pre, d = ell.targets.shape
    rows = jnp.broadcast_to(jnp.arange(n_pre)[:, None], (n_pre, d))
    return jnp.zeros((n_pre, ell.n_post + 1), jnp.float32).at[rows, ell.targets].add(ell.weights)[:, :-1]
