"""Propagation: spikes of a source population -> synaptic input of its targets.

Interchangeable implementations over the same synapses (the same :class:`Connectivity`):

* ``dense``: ``spikes @ W`` with the materialised [n_pre, n_post] matrix; the only one that
  uses matmul units, best for small dense projections and large batches.
* ``segment_sum``: every explicit synapse contributes ``w * s[pre]``, summed per target;
  cost proportional to the number of synapses, independent of activity.
* ``event``: only the rows of the sources that spiked are gathered from the explicit
  source-major table (:class:`~jaxbrain.connectivity.Ell`) and scatter-added; cost
  proportional to the number of spikes.
* ``procedural``: as ``event``, but the rows are regenerated from the counter-based RNG
  instead of read, so no synapse is ever stored.
* ``pull``: for ``fixed_indegree``, each target regenerates its ``k`` sources and gathers
  their spikes (procedural, no storage, cost n_post * k per step).
* ``switch``: explicit synapses kept in both forms; every step counts the active sources and
  runs ``event`` when at most ``SWITCH_FRACTION`` of them spiked, ``segment_sum`` otherwise
  (the crossover measured by ``jaxbrain run bench_event_vs_dense``).

Event-driven implementations use static shapes: ``jnp.nonzero(size=...)`` lists the active
sources; the first ``cap`` are processed unconditionally and any beyond ``cap`` in further
chunks of a ``while_loop``, so no spike is ever dropped whatever the activity. On a GPU,
``event`` and ``procedural`` run instead as one fused kernel with no capacity and no
host synchronisation (:mod:`jaxbrain.event_kernel`; ``EVENT_KERNEL`` selects).

All implementations deliver into a :class:`~jaxbrain.delays.DelayRing`, which handles both a
single delay per projection and heterogeneous per-synapse delays. :func:`choose_impl` picks
one by size, density, expected activity and batch (the ``auto`` default).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from jaxtyping import Array, Float

from . import connectivity as cx
from . import event_kernel
from .delays import DelayRing, ring_add, ring_add_dense, ring_clear, ring_init

__all__ = ["IMPLS", "Synapses", "build", "from_ell", "choose_impl", "deliver", "propagate", "event_cap",
           "active_sources", "uses_kernel", "compaction", "compact"]

IMPLS = ("dense", "segment_sum", "event", "procedural", "pull", "switch")
SWITCH_FRACTION = 0.15  # active-source fraction above which segment_sum beats event (CPU bench)


@struct.dataclass
class Synapses:
    """One projection's synapses in the form its implementation needs.

    conn: the description (always kept: it is the ground truth). ell / coo / w_dense: the
    materialised data (or None for procedural / pull). impl, cap (active sources in the
    event path's first chunk), switch_at (``switch``: most active sources sent to the event
    path), dt: static.
    """
    conn: cx.Connectivity
    ell: cx.Ell | None = None
    coo: Any = None
    w_dense: Float[Array, "n_pre n_post"] | None = None
    impl: str = struct.field(pytree_node=False, default="event")
    cap: int = struct.field(pytree_node=False, default=64)
    switch_at: int = struct.field(pytree_node=False, default=0)
    dt: float = struct.field(pytree_node=False, default=0.1)

    @property
    def max_delay(self) -> int:
        return self.conn.delay.max_steps(self.dt)


def event_cap(n_pre: int, rate_hz: float, dt: float) -> int:
    """Active sources processed per step in the first (unconditional) chunk: mean + 4 sd + 4.
    More spikes than that are still delivered, by further chunks."""
    mean = n_pre * rate_hz * dt * 1e-3
    return int(min(n_pre, math.ceil(mean + 4 * math.sqrt(mean) + 4)))


def choose_impl(conn: cx.Connectivity, batch: int = 1, rate_hz: float = 10.0, dt: float = 0.1,
                memory_budget_bytes: float = 4e9) -> str:
    """Pick the cheapest implementation by a simple cost model (element operations per step).

    * dense: n_pre * n_post multiply-adds, ~20x cheaper per element than a random scatter
      (contiguous, vectorised), and the matrix read is shared by the batch;
    * event: active sources * mean out-degree random scatters of padded rows (+ a pass over
      the spikes), ~6x the cost per synapse of segment_sum's sorted pass;
    * segment_sum: all synapses, each a gather and a scatter;
    * procedural / pull: when the explicit synapses (12 bytes each) exceed the memory budget.

    The per-element weights are calibrated on the CPU (``jaxbrain run bench_event_vs_dense``:
    n = 4,000, p = 0.02, event-driven beats segment_sum below ~15 % of sources active per step
    and dense never wins for one unbatched network); accelerators differ.
    """
    n_syn = conn.n_pre * conn.mean_out
    if n_syn * 12 > memory_budget_bytes:
        return "pull" if conn.kind == "fixed_indegree" else "procedural"
    active = conn.n_pre * rate_hz * dt * 1e-3
    cost = {
        "event": batch * (conn.n_pre / 8 + 6 * active * conn.mean_out),
        "segment_sum": batch * n_syn,
    }
    if conn.n_pre * conn.n_post * 4 <= min(memory_budget_bytes, 2e9) and not conn.delay.heterogeneous:
        cost["dense"] = conn.n_pre * conn.n_post * batch / 20 / min(batch, 16)
    return min(cost, key=cost.get)


def build(conn: cx.Connectivity, impl: str = "auto", dt: float = 0.1, rate_hz: float = 10.0,
          batch: int = 1, cap: int | None = None) -> Synapses:
    """Prepare a projection's synapses for ``impl`` (materialising them if it is explicit)."""
    if impl == "auto":
        impl = choose_impl(conn, batch, rate_hz, dt)
    if impl not in IMPLS:
        raise ValueError(f"propagation impl {impl!r}; allowed: {list(IMPLS) + ['auto']}")
    if impl == "pull" and conn.kind != "fixed_indegree":
        raise ValueError(f"impl 'pull' needs fixed_indegree connectivity, not {conn.kind!r}")
    if impl == "procedural" and conn.kind == "fixed_indegree":
        raise ValueError("fixed_indegree is generated target-major: use impl 'pull' (procedural) "
                         "or an explicit impl")
    if impl in ("dense", "pull") and conn.delay.heterogeneous:
        raise ValueError(f"impl {impl!r} supports one delay per projection; heterogeneous delays "
                         "need 'event', 'segment_sum' or 'procedural'")
    if impl in ("event", "segment_sum", "dense", "switch"):
        return from_ell(conn, cx.materialize(conn, dt), impl, dt, rate_hz, cap)
    return Synapses(conn=conn, impl=impl, cap=cap or event_cap(conn.n_pre, rate_hz, dt), dt=dt)


def from_ell(conn: cx.Connectivity, ell: cx.Ell, impl: str = "event", dt: float = 0.1,
             rate_hz: float = 10.0, cap: int | None = None) -> Synapses:
    """Synapses from explicit rows (e.g. :func:`jaxbrain.connectivity.from_coo`)."""
    if impl not in ("event", "segment_sum", "dense", "switch"):
        raise ValueError(f"explicit synapses support impl 'event', 'segment_sum', 'dense' or 'switch', "
                         f"not {impl!r}")
    syn = Synapses(conn=conn, impl=impl, cap=cap or event_cap(conn.n_pre, rate_hz, dt), dt=dt)
    if impl == "event":
        return syn.replace(ell=ell)
    if impl == "dense":
        return syn.replace(w_dense=cx.to_dense(ell))
    syn = syn.replace(coo=tuple(jnp.asarray(a) for a in cx.to_coo(ell)))
    if impl == "switch":
        return syn.replace(ell=ell, switch_at=max(1, int(SWITCH_FRACTION * conn.n_pre)))
    return syn


def _rows_of(syn: Synapses, idx):
    """Rows (targets, weights, delays) of source indices ``idx``; idx == n_pre is padding."""
    if syn.impl == "event":
        take = lambda a, fill: jnp.take(a, idx, axis=0, mode="fill", fill_value=fill)
        return take(syn.ell.targets, syn.conn.n_post), take(syn.ell.weights, 0.0), take(syn.ell.delays, 1)
    rows = cx.source_rows(syn.conn, idx, syn.dt)
    pad = (idx >= syn.conn.n_pre)[:, None]
    return jnp.where(pad, syn.conn.n_post, rows.targets), rows.weights, rows.delays


COMPACTION = {"method": "auto"}  # "auto", "top_k" or "nonzero" (tests force each)
EVENT_KERNEL = {"method": "auto"}  # "auto" (kernel on GPU), "kernel" or "xla" (tests force each)


def uses_kernel(syn: Synapses) -> bool:
    """Whether ``syn`` is delivered by the fused GPU kernel (:mod:`jaxbrain.event_kernel`)."""
    method = EVENT_KERNEL["method"]
    if method not in ("auto", "kernel", "xla"):
        raise ValueError(f"EVENT_KERNEL method {method!r}; allowed: auto, kernel, xla")
    if method == "xla" or not event_kernel.supported(syn):
        return False
    return method == "kernel" or jax.default_backend() == "gpu"


def _interpret() -> bool:
    """Run Pallas kernels in the interpreter (a forced kernel off the GPU: tests)."""
    return jax.default_backend() != "gpu"


def compaction(syn: Synapses):
    """The kind of active-source list ``syn``'s delivery uses (a key for sharing it between
    the projections of one source population), or None if it needs none."""
    if uses_kernel(syn):
        return "kernel"
    if syn.impl in ("event", "procedural") and syn.cap < syn.conn.n_pre:
        return syn.cap
    return None


def compact(syn: Synapses, spikes):
    """The active-source list of kind ``compaction(syn)``, to pass to :func:`deliver`."""
    if uses_kernel(syn):
        return event_kernel.compact(spikes, interpret=_interpret())
    return active_sources(spikes, syn.cap)


def active_sources(spikes, cap: int):
    """Indices of up to ``cap`` non-zero entries (others padded): ``top_k`` on CPU, where it
    is ~10x cheaper than ``nonzero``; ``nonzero`` (a prefix sum) on accelerators. Computed
    once per population and step and shared by all its event-driven projections."""
    method = COMPACTION["method"]
    if method == "top_k" or (method == "auto" and jax.default_backend() == "cpu"):
        return jax.lax.top_k(jnp.abs(spikes), cap)[1].astype(jnp.int32)
    return jnp.nonzero(spikes, size=cap, fill_value=spikes.shape[0])[0].astype(jnp.int32)


def _deliver_rows(syn: Synapses, idx, spikes, ring: DelayRing, t, scale) -> DelayRing:
    targets, weights, delays = _rows_of(syn, idx)
    s = jnp.take(spikes, idx, mode="fill", fill_value=0).astype(jnp.float32) * scale
    return ring_add(ring, t, delays, targets, weights * s[:, None])


def _deliver_events(syn: Synapses, spikes, ring: DelayRing, t, scale=1.0, active=None) -> DelayRing:
    n_pre, cap = syn.conn.n_pre, syn.cap
    if cap >= n_pre:
        return _deliver_rows(syn, jnp.arange(n_pre, dtype=jnp.int32), spikes, ring, t, scale)
    idx = active if active is not None and active.shape == (cap,) else active_sources(spikes, cap)
    ring = _deliver_rows(syn, idx, spikes, ring, t, scale)
    count = jnp.count_nonzero(spikes).astype(jnp.int32)

    def rest(ring):
        # more than ``cap`` sources spiked: deliver the others in chunks of ``cap``
        residual = spikes.at[idx].set(0)
        active = jnp.nonzero(residual, size=n_pre, fill_value=n_pre)[0].astype(jnp.int32)

        def chunk(carry):
            ring, start = carry
            s0 = jnp.minimum(start, n_pre - cap)  # window shifted back at the end of the list
            i = jax.lax.dynamic_slice(active, (s0,), (cap,))
            i = jnp.where(jnp.arange(cap) + s0 >= start, i, n_pre)
            return _deliver_rows(syn, i, residual, ring, t, scale), start + cap

        n_rest = count - cap
        return jax.lax.while_loop(lambda c: c[1] < n_rest, chunk, (ring, jnp.asarray(0, jnp.int32)))[0]

    return jax.lax.cond(count > cap, rest, lambda r: r, ring)


def deliver(syn: Synapses, spikes: Float[Array, "n_pre"], ring: DelayRing, t,
            scale: float = 1.0, active=None, clear_now: bool = False) -> DelayRing:
    """Add the input caused by ``spikes`` (emitted at step ``t``) to the delay ring.

    ``spikes`` may be graded (counts or amplitudes); each synapse delivers
    ``scale * w * s[pre]``. ``active``: optional ``compact(syn, spikes)``, to share the
    compaction between projections of one source population. ``clear_now``: first zero the
    ring's slot of step ``t`` (read with :func:`~jaxbrain.delays.ring_now` this step); the GPU
    kernel does it in the same call, so the ring is updated in place.
    """
    if spikes.shape != (syn.conn.n_pre,):
        raise ValueError(f"spikes shape {spikes.shape}; expected ({syn.conn.n_pre},) for this projection")
    impl = syn.impl
    if uses_kernel(syn):
        shared = active if isinstance(active, event_kernel.Active) else None
        return event_kernel.deliver(syn, spikes, ring, t, scale, shared, clear_now=clear_now,
                                    interpret=_interpret())
    if clear_now:
        ring = ring_clear(ring, t)
    if impl in ("event", "procedural"):
        return _deliver_events(syn, spikes, ring, t, scale, active)
    if impl == "switch":
        sparse = jnp.count_nonzero(spikes) <= syn.switch_at
        return jax.lax.cond(sparse, lambda r: deliver(syn.replace(impl="event"), spikes, r, t, scale),
                            lambda r: deliver(syn.replace(impl="segment_sum"), spikes, r, t, scale), ring)
    d = syn.max_delay
    s = spikes.astype(jnp.float32) * scale
    if impl == "dense":
        return ring_add_dense(ring, t, d, s @ syn.w_dense)
    if impl == "segment_sum":
        pre, post, w, delays = syn.coo
        vals = w * s[pre]
        if syn.conn.delay.heterogeneous:
            return ring_add(ring, t, delays, post, vals)
        return ring_add_dense(ring, t, d, jax.ops.segment_sum(vals, post, syn.conn.n_post))
    if impl == "pull":
        rows = cx.target_rows(syn.conn, jnp.arange(syn.conn.n_post, dtype=jnp.int32), syn.dt)
        return ring_add_dense(ring, t, d, (rows.weights * s[rows.targets]).sum(-1))
    raise ValueError(f"propagation impl {impl!r}; allowed: {list(IMPLS)}")


def propagate(syn: Synapses, spikes: Float[Array, "n_pre"]) -> Float[Array, "n_post"]:
    """Total synaptic input to each target caused by ``spikes`` (all delays summed)."""
    ring = ring_init(syn.conn.n_post, syn.max_delay)
    return deliver(syn, spikes, ring, jnp.asarray(0, jnp.int32)).buf.sum(0)
