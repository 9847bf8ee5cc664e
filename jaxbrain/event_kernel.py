"""Event-driven synaptic delivery as GPU kernels (Pallas on Triton).

The XLA form of event-driven delivery (:mod:`jaxbrain.propagation`) lists the active
sources with a prefix sum, gathers their rows, scatter-adds them, and checks with a
``lax.cond`` whether more sources spiked than its static capacity: several kernels and,
on a GPU, a device-to-host synchronisation every step. Here two kernels do it, with no
capacity and no synchronisation:

* :func:`compact`: one program per block of ``BLOCK`` sources lists the block's active
  sources (a prefix sum in registers; no atomics, deterministic order). Computed once per
  population and step and shared by all its projections.
* :func:`deliver`: ``n_programs`` persistent programs stride over the blocks; for each, the
  listed sources are taken ``rows`` at a time and their ``[rows, slots]`` tile of synapses is
  loaded (explicit :class:`~jaxbrain.connectivity.Ell`; rows longer than a tile are cut in
  ``chunks``, each chunk taken by its own set of programs, so a few spikes with long rows
  still spread over the GPU) or regenerated
  from the counter-based RNG (procedural, :func:`~jaxbrain.connectivity.source_rows`, the
  same synapses bit for bit), then added into the delay ring at slot ``(t + delay) mod L``
  with masked atomics.

Every spike is delivered whatever the activity; cost per step: one read of the spikes plus
the rows of the sources that spiked. Float atomics make the order of the additions, and so
the last bits of a sum, vary between runs, as with XLA's own scatter-add on a GPU; on the
CPU jaxbrain uses the deterministic XLA path. The float atomic adds are *relaxed* (what CUDA's
``atomicAdd`` is): Pallas lowers every atomic with acquire-release semantics, which orders each
one after all earlier memory operations of the thread; for pure accumulation that only costs
time (measured on an H100: the merged COBA step at 4k neurons 14.9 -> 10.3 us, the one-kernel
step 9.2 -> 4.8 us). :func:`relax_float_atomic_adds` (applied on import) makes float adds
relaxed and leaves every other atomic as Pallas lowers it. ``interpret=True`` runs the kernels on the CPU
for tests (the Pallas interpreter's scatter keeps one of several additions to one address
per call, so those tests use spikes and synapses without repeated targets within a call).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plt

from . import connectivity as cx
from .delays import DelayRing

__all__ = ["Active", "compact", "deliver", "supported", "tile_shape", "relax_float_atomic_adds"]


def relax_float_atomic_adds(enable: bool = True) -> bool:
    """Lower Pallas (Triton) float atomic adds with relaxed memory semantics, as CUDA's
    ``atomicAdd``; other atomics (integer, min / max, exchange, compare-and-swap) keep the
    acquire-release semantics Pallas gives them. Patches a private lowering helper of JAX, so
    it checks its signature first and does nothing (returns False) where it differs.
    ``enable=False`` restores Pallas's lowering (for comparisons; call ``jax.clear_caches()``
    after switching, compiled kernels keep the semantics they were lowered with)."""
    try:
        import inspect

        from jax._src.lib.triton import dialect as tt
        from jax._src.pallas.triton import lowering as tl
    except ImportError:  # pragma: no cover
        return False
    original = tl._atomic_rmw
    if getattr(original, "_relaxed_float_adds", False):
        if not enable:
            tl._atomic_rmw = original._original
        return True
    if not enable:
        return True
    if list(inspect.signature(original).parameters) != ["op", "ptr", "val", "mask", "semantic", "sync_scope"]:
        return False  # pragma: no cover

    def atomic_rmw(op, ptr, val, mask=None, semantic=None, sync_scope=tt.MemSyncScope.GPU):
        if semantic is None:
            semantic = tt.MemSemantic.RELAXED if op == tt.RMWOp.FADD else tt.MemSemantic.ACQUIRE_RELEASE
        return original(op, ptr, val, mask=mask, semantic=semantic, sync_scope=sync_scope)

    atomic_rmw._relaxed_float_adds = True
    atomic_rmw._original = original
    tl._atomic_rmw = atomic_rmw
    return True


relax_float_atomic_adds()

MAX_TILE = 2048  # synapses per tile (rows x slots): registers of one program
BLOCK = 1024  # sources listed per program of :func:`compact`
N_PROGRAMS = 1056  # persistent programs: 8 per multiprocessor of an H100
CLEAR_BLOCK = 1024  # ring columns zeroed per store when a call clears the current slot


def supported(syn) -> bool:
    """Whether ``syn`` (a :class:`~jaxbrain.propagation.Synapses`) can use the kernel."""
    if syn.impl == "event":
        return syn.ell is not None
    return syn.impl == "procedural" and syn.conn.kind != "fixed_indegree"


def tile_shape(row_len: int, explicit: bool = False, max_tile: int = MAX_TILE) -> tuple[int, int, int]:
    """(rows, slots, chunks) of one tile: slots = row length rounded up to a power of two
    (for explicit rows at most ``max_tile``: longer rows are read in ``chunks``), rows such
    that the tile has at most ``max_tile`` synapses (at least one row)."""
    slots = 1 << max(0, (row_len - 1).bit_length())
    if explicit:
        slots = min(slots, max_tile)
    return max(1, max_tile // slots), slots, -(-row_len // slots)


class Active(NamedTuple):
    """Sources that spiked, listed per block of ``BLOCK`` sources (:func:`compact`).
    idx: int32 [n_blocks * BLOCK], block ``b``'s active sources first in its segment (the rest
    is undefined); counts: int32 [n_blocks]."""
    idx: jax.Array
    counts: jax.Array


def list_active(idx_ref, cnt_ref, base, cnt_at, src, active):
    """Inside a kernel: the ``src`` of the ``active`` lanes, in lane order, to
    ``idx_ref[base:base + lanes]`` and their number to ``cnt_ref[cnt_at]``. Dead lanes aim
    at the segment's last slot, which a live lane writes only when every lane is live."""
    rank = jnp.cumsum(active.astype(jnp.int32)) - 1
    plt.store(idx_ref.at[base + jnp.where(active, rank, active.shape[0] - 1)], src, mask=active)
    plt.store(cnt_ref.at[pl.ds(cnt_at, 1)], jnp.sum(active.astype(jnp.int32)).reshape(1))


def _compact_kernel(spk_ref, idx_ref, cnt_ref, *, n):
    b = pl.program_id(0)
    src = b * BLOCK + jnp.arange(BLOCK, dtype=jnp.int32)
    active = plt.load(spk_ref.at[pl.ds(b * BLOCK, BLOCK)], mask=src < n, other=0.0) != 0
    list_active(idx_ref, cnt_ref, b * BLOCK, b, src, active)


@functools.partial(jax.jit, static_argnames=("interpret",))
def compact(spikes, *, interpret: bool = False) -> Active:
    """List the non-zero entries of ``spikes`` [n] per block of ``BLOCK`` (one parallel pass,
    no atomics, deterministic order). Shared by all projections of one source population."""
    n = spikes.shape[0]
    n_blocks = -(-n // BLOCK)
    idx, counts = pl.pallas_call(
        functools.partial(_compact_kernel, n=n), grid=(n_blocks,), interpret=interpret,
        out_shape=(jax.ShapeDtypeStruct((n_blocks * BLOCK,), jnp.int32), jax.ShapeDtypeStruct((n_blocks,), jnp.int32)),
        compiler_params=plt.CompilerParams(num_warps=4, num_stages=1))(spikes.astype(jnp.float32))
    return Active(idx, counts)


def _clear_slot(buf, slot, pid, n_programs: int, n_cols: int):
    """Zero row ``slot`` of the ring: program ``pid`` stores zeros over its contiguous share
    of the columns, ``CLEAR_BLOCK`` at a time (coalesced)."""
    share = -(-n_cols // n_programs)
    lanes = jnp.arange(CLEAR_BLOCK, dtype=jnp.int32)
    rows = jnp.full((CLEAR_BLOCK,), slot, jnp.int32)
    end = jnp.minimum((pid + 1) * share, n_cols)

    def body(i, carry):
        c = pid * share + i * CLEAR_BLOCK + lanes
        # masked lanes point at the last column: in the interpreter (no masked stores) that is
        # the spare column, which is dropped
        plt.store(buf.at[rows, jnp.where(c < end, c, n_cols - 1)], jnp.zeros((CLEAR_BLOCK,), jnp.float32),
                  mask=c < end)
        return carry

    jax.lax.fori_loop(0, -(-share // CLEAR_BLOCK), body, 0)


def _kernel(t_ref, seed_ref, spk_ref, idx_ref, cnt_ref, *refs, syn, rows, slots, chunks, n_workers, n_blocks,
            ring_len, scale, clear_now, n_cols, interpret):
    *ell_refs, _buf_in, buf = refs
    conn = syn.conn
    n_pre, n_post = conn.n_pre, conn.n_post
    pid = pl.program_id(0)
    t = t_ref[0]
    col = jnp.arange(slots, dtype=jnp.int32)
    if clear_now:  # delays are 1 .. L-1 steps, so no spike of this call lands in this slot
        _clear_slot(buf, t % ring_len, pid, n_workers * chunks, n_cols)
    # program pid takes chunk pid % chunks of the rows of the sources in blocks
    # pid // chunks, pid // chunks + n_workers, ...
    my_chunk, worker = pid % chunks, pid // chunks

    def tile(src, s, c):
        """Ring slots, targets, values and mask of the synapses of sources ``src`` (chunk
        ``c`` of their rows)."""
        if syn.impl == "event":
            d = syn.ell.targets.shape[1]
            cc = c * slots + col
            live = (s != 0)[:, None] & (cc < d)[None, :]
            flat = src[:, None] * d + cc[None, :]
            tg = plt.load(ell_refs[0].at[flat], mask=live, other=n_post)
            w = plt.load(ell_refs[1].at[flat], mask=live, other=0.0)
            delay = plt.load(ell_refs[2].at[flat], mask=live, other=1) if len(ell_refs) > 2 \
                else jnp.full(tg.shape, syn.max_delay, jnp.int32)
        else:
            r = cx.source_rows(conn.replace(seed=seed_ref[0]), src, syn.dt, n_slots=slots)
            live = (s != 0)[:, None] & r.valid
            tg, w, delay = r.targets, r.weights, r.delays
        live = live & (tg < n_post)
        return (t + delay) % ring_len, jnp.where(live, tg, 0), w * (s * scale)[:, None], live

    def block(j, carry):
        b = j * n_workers + worker
        count = cnt_ref[b]

        def group(g, carry):
            k = g * rows + jnp.arange(rows, dtype=jnp.int32)
            src = plt.load(idx_ref.at[b * BLOCK + k], mask=k < count, other=0)
            s = plt.load(spk_ref.at[src], mask=k < count, other=0.0)

            slot, tg, val, live = tile(src, s, my_chunk)
            if interpret:  # the interpreter has no masked atomics: send dead lanes to a spare column
                plt.atomic_add(buf, (slot, jnp.where(live, tg, n_post)), jnp.where(live, val, 0.0))
            else:
                plt.atomic_add(buf, (slot, tg), val, mask=live)
            return carry

        jax.lax.fori_loop(0, (count + rows - 1) // rows, group, 0)
        return carry

    trips = (n_blocks - worker + n_workers - 1) // n_workers
    jax.lax.fori_loop(0, trips, block, 0)


@functools.partial(jax.jit, static_argnames=("scale", "clear_now", "n_programs", "interpret"))
def deliver(syn, spikes, ring: DelayRing, t, scale: float = 1.0, active: Active | None = None, *,
            clear_now: bool = False, n_programs: int | None = None, interpret: bool = False) -> DelayRing:
    """Add the input caused by ``spikes`` (emitted at step ``t``) to ``ring`` (as
    :func:`jaxbrain.propagation.deliver`).

    Arguments:
        syn: :class:`~jaxbrain.propagation.Synapses` with impl ``event`` or ``procedural``.
        spikes: float32 [n_pre] spikes (or graded amplitudes).
        ring: the target's delay ring, [L, n_post].
        t: current step (int32 scalar).
        scale: factor on every delivered value.
        active: ``compact(spikes)``, to share it between projections (computed if None).
        clear_now: also zero the ring's slot of step ``t`` (already read this step), in the
            same kernel: the ring is then updated in place, with no copy around the call.
        n_programs: persistent programs per row chunk (default ``N_PROGRAMS``; at most one
            per block of sources).
        interpret: run the Pallas interpreter (CPU tests).
    """
    if not supported(syn):
        raise ValueError(f"event kernel supports explicit 'event' or procedural push synapses, "
                         f"not impl {syn.impl!r} / kind {syn.conn.kind!r}")
    conn = syn.conn
    active = compact(spikes, interpret=interpret) if active is None else active
    row_len = syn.ell.targets.shape[1] if syn.impl == "event" else conn.max_out
    rows, slots, chunks = tile_shape(row_len, explicit=syn.impl == "event")
    n_blocks = active.counts.shape[0]
    n_workers = max(1, min(n_programs or N_PROGRAMS, n_blocks))
    ring_len, n_post = ring.buf.shape
    ell = []
    if syn.impl == "event":
        ell = [syn.ell.targets.reshape(-1), syn.ell.weights.reshape(-1)]
        if conn.delay.heterogeneous:
            ell.append(syn.ell.delays.reshape(-1))
    buf = ring.buf
    if interpret:
        buf = jnp.concatenate([buf, jnp.zeros((ring_len, 1), buf.dtype)], axis=1)
    kernel = functools.partial(_kernel, syn=syn, rows=rows, slots=slots, chunks=chunks, n_workers=n_workers,
                               n_blocks=n_blocks, ring_len=ring_len, scale=scale, clear_now=clear_now,
                               n_cols=buf.shape[1], interpret=interpret)
    args = [jnp.reshape(jnp.asarray(t, jnp.int32), (1,)), jnp.reshape(jnp.asarray(conn.seed, jnp.int32), (1,)),
            spikes.astype(jnp.float32), active.idx, active.counts, *ell, buf]
    out = pl.pallas_call(kernel, out_shape=jax.ShapeDtypeStruct(buf.shape, buf.dtype), grid=(n_workers * chunks,),
                         input_output_aliases={len(args) - 1: 0}, interpret=interpret,
                         compiler_params=plt.CompilerParams(num_warps=4, num_stages=1))(*args)
    return DelayRing(out[:, :n_post] if interpret else out)
