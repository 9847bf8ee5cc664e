"""A step of a merged network as one GPU kernel (update, spike selection and delivery fused), or two.

Even in merged form (:mod:`jaxbrain.fused`) a step is several kernels (drive and neuron
update, compaction, delivery, bookkeeping), and inside XLA's step loop each launch costs
microseconds whatever the work, so small networks are launch-bound. Here a step is one
Pallas (Triton) kernel; program ``(b, c)`` takes block ``b`` of ``block`` neurons and chunk
``c`` of their synapse rows (rows longer than a tile of ``tile`` synapses are cut in chunks
as :func:`jaxbrain.event_kernel.tile_shape`, so a few spikes with long rows still spread over
the GPU). Each program

1. reads its neurons' ring slot of step ``t``, adds the Poisson drive and advances the neuron
   model (the model's own ``step`` function, traced into the kernel); all chunk programs of a
   block compute the same update and the ``c = 0`` one writes it, with spike counts;
2. picks the block's spiking neurons ``rows`` at a time in registers (a prefix sum, ascending
   order) and adds chunk ``c`` of their rows into the ring slots ``(t + delay) mod L`` with
   (relaxed) atomics.

No program waits for another. Every delay is at least one step, so deliveries land in slots
that nobody reads during this step, and the end of the kernel is the barrier before the next
step reads them. The neuron state is double-buffered (read half ``t % 2``, write the other),
so a chunk program never reads a state its writer has already advanced; and the ring has one
slot more than delays need, its slot ``t - 1`` cleared during step ``t`` (no program reads or
delivers to it then). Cost per step: one launch, the state read and written once, one ring
slot read and one cleared, and the rows of the neurons that spiked.

**Direct form** (``run(..., direct=True)``; the default from ``DIRECT_MIN`` neurons), for
networks whose delays are all one step and whose model adds the arrived increments to state
fields after the update (``NeuronModel.syn_leaves``: exponential synapses): no ring. A step
is two launches: the update (in place, no chunk programs, so no double buffer; it lists each
block's spiking neurons), then the delivery of the previous step's spikes straight into the
new state's ``g_ex`` / ``g_in``: adding them after the update of step ``t`` is adding them
to the increments of step ``t``, which is what a delay of one step means. Per neuron and
step it moves 28 bytes instead of 44, at the price of a second launch (slower below ~1M
neurons). In both forms the LIF family's refractory counter is held as int16.

Same arithmetic as ``fused.step`` (the same drive numbers, the same model code); only the
order of the float additions into the ring differs (atomics), as with the event kernel. In
the Pallas interpreter (``interpret=True``, CPU tests) the programs run in turn and the
scatter is an exact array update (the interpreter's atomics drop repeated addresses).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plt

from . import event_kernel as ek
from . import fused, inputs
from . import network as nw
from .simulate import Recording

__all__ = ["KernelNetwork", "prepare", "run", "simulate", "direct_ok", "default_block", "default_direct"]

TILE = 512  # synapses per delivery tile of a program (fastest measured on an H100, 4k-4M neurons)
PAD = 4096  # per-neuron arrays are padded to a multiple of this (so any block up to PAD divides)
DIRECT_MIN = 1_000_000  # neurons from which the direct form is the default (faster from 1M on an H100)
LANES = 32  # addresses per population and step that the programs' spike totals are spread over


@struct.dataclass
class KernelNetwork:
    """A :class:`~jaxbrain.fused.FusedNetwork` laid out for the step kernel: per-neuron arrays
    padded to ``n_pad`` (a multiple of ``PAD``); ring columns ``[0, n_pad)`` excitatory and
    ``[n_pad, 2 n_pad)`` inhibitory plus one spare column; the synapse table's targets
    renumbered to that layout. Padded neurons never count as spiking and have no synapses.

    Per-neuron quantities (the neuron parameters, then the DC current, then the drive's
    Poisson mean and weights) that are constant within each population are kept as static
    per-population values (``by_pop``; the kernel selects them by neuron index, reading no
    memory); the others as padded arrays (``arrays``, in order)."""
    fnet: fused.FusedNetwork
    n_pad: int = struct.field(pytree_node=False)
    by_pop: tuple = struct.field(pytree_node=False)  # per quantity: tuple of floats per population, or None
    arrays: tuple
    targets: jax.Array
    weights: jax.Array
    delays: jax.Array | None
    narrow: bool = struct.field(pytree_node=False, default=False)  # refractory counters held as int16


def _quantities(fnet) -> list:
    """The per-neuron quantities the kernel reads: parameter leaves, i_ext, drive (if any)."""
    q = list(jax.tree.leaves(fnet.params)) + [fnet.i_ext]
    if fnet.has_drive:
        q += [fnet.drive_lam, fnet.drive_weight_ex, fnet.drive_weight_in]
    return q


def prepare(fnet: fused.FusedNetwork) -> KernelNetwork:
    """Pad and renumber ``fnet`` for :func:`run` (once per network: touches every synapse)."""
    if fnet.synapses.ell is None:
        raise ValueError("step_kernel.prepare needs the explicit synapse table of fused.fuse")
    n = fnet.n
    n_pad = -(-n // PAD) * PAD
    by_pop, arrays = [], []
    for x in _quantities(fnet):
        x = np.asarray(jnp.broadcast_to(x, (n,)))
        segments = [x[o:o + fnet.populations[k].n] for k, o in fnet.offsets.items()]
        if all((seg == seg[0]).all() for seg in segments):
            by_pop.append(tuple(float(seg[0]) for seg in segments))
        else:
            by_pop.append(None)
            arrays.append(jnp.concatenate([jnp.asarray(x), jnp.full((n_pad - n,), x[-1], x.dtype)]))
    tg = fnet.synapses.ell.targets
    tg = jnp.where(tg >= 2 * n, 2 * n_pad, jnp.where(tg >= n, tg + (n_pad - n), tg)).reshape(-1)
    delays = fnet.synapses.ell.delays.reshape(-1) if fnet.synapses.conn.delay.heterogeneous else None
    t_ref = getattr(fnet.params, "t_ref", None)  # LIF family: refractory counters never exceed t_ref / dt + 1
    narrow = t_ref is not None and float(np.max(np.asarray(t_ref))) / fnet.dt + 1 < 2 ** 15
    return KernelNetwork(fnet, n_pad, tuple(by_pop), tuple(arrays), tg, fnet.synapses.ell.weights.reshape(-1), delays,
                         narrow)


def _narrowed(knet, state) -> int | None:
    """Index of the state leaf held as int16 in the kernel layout (the LIF family's
    refractory counter, 2 bytes less per neuron read and written), or None."""
    fields = getattr(state, "_fields", ())
    if len(fields) != len(jax.tree.leaves(state)):  # not one array per field: leave as is
        return None
    if knet.narrow and "refractory" in fields and getattr(state, "refractory").dtype == jnp.int32:
        return fields.index("refractory")
    return None


def _load_state(refs, at, treedef, narrow, policy=None):
    return jax.tree.unflatten(treedef, [plt.load(r.at[at], eviction_policy=policy).astype(jnp.int32) if i == narrow
                                        else plt.load(r.at[at], eviction_policy=policy) for i, r in enumerate(refs)])


def _store_state(refs, at, state, narrow, policy=lambda i: None):
    for i, (r, x) in enumerate(zip(refs, jax.tree.leaves(state))):
        plt.store(r.at[at], x.astype(jnp.int16) if i == narrow else x, eviction_policy=policy(i))


def _select(idx, starts, values, dtype=jnp.float32):
    """Per lane, the value of the population containing neuron ``idx`` (populations start at
    ``starts``; padded neurons get the last one's)."""
    out = jnp.full(idx.shape, values[0], dtype)
    for start, v in zip(starts[1:], values[1:]):
        if v != values[0] or dtype != jnp.float32:
            out = jnp.where(idx >= start, jnp.asarray(v, dtype), out)
    return out


def _scatter_add(buf, idx, val, live, interpret):
    """``buf[idx] += val`` where ``live`` (dead lanes must hold a valid index; they add nothing)."""
    if interpret:  # programs run in turn: an exact array update (the interpreter's atomics drop repeats)
        buf[...] = buf[...].at[idx.reshape(-1)].add(jnp.where(live, val, 0.0).reshape(-1))
    else:
        plt.atomic_add(buf, idx, val, mask=live)


def _advance(knet, arr_refs, idx, t, seed, syn_ex, syn_in, state):
    """Neurons ``idx`` from step ``t`` to ``t + 1``: the Poisson drive added to the arrived
    increments, the model stepped. Returns (new state, spiking lanes)."""
    fnet = knet.fnet
    starts = tuple(fnet.offsets.values())
    arr_iter = iter(arr_refs)
    q = [plt.load(next(arr_iter).at[idx]) if v is None else _select(idx, starts, v) for v in knet.by_pop]
    n_par = len(jax.tree.leaves(fnet.params))
    params = jax.tree.unflatten(jax.tree.structure(fnet.params), q[:n_par])
    if fnet.has_drive:
        lam, w_ex, w_in = q[n_par + 1:]
        pop = _select(idx, starts, tuple(nw._pop_index(fnet, k) for k in fnet.offsets), jnp.int32)
        local = idx - _select(idx, starts, starts, jnp.int32)
        k = inputs.poisson_counts(lam, seed, nw.DRIVE_STREAM, pop, t, local, k_max=fnet.drive_k_max)
        syn_ex, syn_in = syn_ex + k * w_ex, syn_in + k * w_in
    state, spikes = fnet.model.step(params, state, syn_ex, syn_in, q[n_par], fnet.dt)
    return state, (spikes != 0) & (idx < fnet.n)


def _record(fnet, b, idx, block, row, active, counts, pop_spikes, raster):
    """Spikes per neuron (only the spiking lanes' counters are read and written), per
    population and step (row ``row``), and raster row ``row``, of block ``b``."""
    plt.store(counts.at[idx], plt.load(counts.at[idx], mask=active, other=0) + 1, mask=active)
    starts = tuple(fnet.offsets.values())
    for p, (start, end) in enumerate(zip(starts, starts[1:] + (fnet.n,))):
        @pl.when((b * block < end) & ((b + 1) * block > start))
        def _():  # float adds (relaxed, exact below 2**24), spread over LANES addresses
            in_pop = active & (idx >= start) & (idx < end)
            plt.atomic_add(pop_spikes, (row * len(starts) + p) * LANES + b % LANES, jnp.sum(in_pop.astype(jnp.float32)))
    if raster:
        plt.store(raster[0].at[row * raster[1] + idx], active.astype(jnp.int8))


def _deliver(knet, ell_refs, count, src_of, rows, slots, scatter):
    """Chunk ``program_id(1)`` of the rows of ``count`` spiking neurons, ``rows`` at a time:
    ``src_of(k)`` gives the k-th ones' indices, ``scatter(targets, delays, weights, live)``
    adds the weights (targets in the ring's column layout)."""
    d = knet.fnet.synapses.ell.targets.shape[1]
    n_cols = 2 * knet.n_pad
    cc = pl.program_id(1) * slots + jnp.arange(slots, dtype=jnp.int32)

    def tile(g, carry):
        k = g * rows + jnp.arange(rows, dtype=jnp.int32)
        live = (k < count)[:, None] & (cc < d)[None, :]
        flat = src_of(k)[:, None] * d + cc[None, :]
        tg = plt.load(ell_refs[0].at[flat], mask=live, other=n_cols)
        w = plt.load(ell_refs[1].at[flat], mask=live, other=0.0)
        delay = plt.load(ell_refs[2].at[flat], mask=live, other=1) if len(ell_refs) > 2 else None
        scatter(tg, delay, w, live & (tg < n_cols))
        return carry

    jax.lax.fori_loop(0, (count + rows - 1) // rows, tile, 0)


def _ring_kernel(t_ref, seed_ref, *refs, knet, n_leaves, treedef, narrow, block, rows, slots, ring_len, record, interpret):
    """One step, ring form: update, then delivery into the ring (see the module docstring)."""
    fnet = knet.fnet
    n_ell = 3 if knet.delays is not None else 2
    n_arr = len(knet.arrays)
    arr_refs, ell_refs = refs[:n_arr], refs[n_arr:n_arr + n_ell]
    outs = refs[n_arr + n_ell + n_leaves + 3 + record:]
    state_refs, (ring, counts, pop_spikes, *raster) = outs[:n_leaves], outs[n_leaves:]
    n_pad = knet.n_pad
    n_cols = 2 * n_pad
    t, b = t_ref[0], pl.program_id(0)
    idx = b * block + jnp.arange(block, dtype=jnp.int32)

    # 1. update: this step's ring slot, drive, neuron model. Programs (b, c) for every chunk
    # c compute the same update; only c = 0 writes it. Slot t - 1 (read last step, and no
    # delivery target this step: the ring has max_delay + 2 slots) is cleared by c = 0.
    now = (t % ring_len) * n_cols + idx
    # the state is double-buffered (read half t % 2, write the other), so that no program
    # of this step reads a neuron's state after its writer has updated it
    here, there = (t % 2) * n_pad + idx, ((t + 1) % 2) * n_pad + idx
    state = _load_state(state_refs, here, treedef, narrow)
    state, active = _advance(knet, arr_refs, idx, t, seed_ref[0], plt.load(ring.at[now]),
                             plt.load(ring.at[now + n_pad]), state)

    @pl.when(pl.program_id(1) == 0)
    def _():
        _store_state(state_refs, there, state, narrow)
        _record(fnet, b, idx, block, t - t_ref[1], active, counts, pop_spikes, (raster[0], n_pad) if record else ())
        before = ((t + ring_len - 1) % ring_len) * n_cols + idx
        plt.store(ring.at[before], jnp.zeros((block,), jnp.float32))
        plt.store(ring.at[before + n_pad], jnp.zeros((block,), jnp.float32))

    # 2. deliver chunk c of the rows of the block's spiking neurons; the r-th spiking neuron
    # of a group is picked from the lanes in registers
    rank = jnp.where(active, jnp.cumsum(active.astype(jnp.int32)) - 1, -1)
    src_of = lambda k: jnp.sum(jnp.where(rank[None, :] == k[:, None], idx[None, :], 0), axis=1)

    def scatter(tg, delay, w, live):
        delay = fnet.synapses.max_delay if delay is None else delay
        _scatter_add(ring, jnp.where(live, ((t + delay) % ring_len) * n_cols + tg, ring_len * n_cols), w, live,
                     interpret)

    _deliver(knet, ell_refs, jnp.sum(active.astype(jnp.int32)), src_of, rows, slots, scatter)


def _update_kernel(t_ref, seed_ref, *refs, knet, n_leaves, treedef, narrow, kept, block, record, with_syn):
    """One step, direct form, part 1: update in place (reading ``syn``, the increments that
    arrived, at the first step only), and list the block's spiking neurons in list ``t % 2``."""
    n_arr, n_pad = len(knet.arrays), knet.n_pad
    arr_refs, syn = refs[:n_arr], refs[n_arr] if with_syn else None
    outs = refs[n_arr + with_syn + n_leaves + 4 + record:]
    state_refs, (spk, nspk, counts, pop_spikes, *raster) = outs[:n_leaves], outs[n_leaves:]
    t, b = t_ref[0], pl.program_id(0)
    idx = b * block + jnp.arange(block, dtype=jnp.int32)
    zero = jnp.zeros((block,), jnp.float32)
    syn_ex, syn_in = (plt.load(syn.at[idx]), plt.load(syn.at[idx + n_pad])) if with_syn else (zero, zero)
    # streamed through L2 (evict first), except the stores of the syn_leaves, which the
    # delivery launch targets next (4M COBA neurons, H100, block 1024: 85 -> 78 us per step)
    state = _load_state(state_refs, idx, treedef, narrow, "evict_first")
    state, active = _advance(knet, arr_refs, idx, t, seed_ref[0], syn_ex, syn_in, state)
    _store_state(state_refs, idx, state, narrow, lambda i: None if i in kept else "evict_first")
    _record(knet.fnet, b, idx, block, t - t_ref[1], active, counts, pop_spikes, (raster[0], n_pad) if record else ())
    ek.list_active(spk, nspk, (t % 2) * n_pad + b * block, (t % 2) * (n_pad // block) + b, idx, active)


def _direct_kernel(t_ref, spk, nspk, *refs, knet, block, rows, slots, into_state, interpret):
    """One step, direct form, part 2: the rows of the neurons listed in list ``t % 2`` added
    straight into the state's ``syn_leaves`` (or, ``into_state=False``, into one buffer in
    the ring's column layout)."""
    n_pad = knet.n_pad
    ell_refs = refs[:2]
    t, b = t_ref[0], pl.program_id(0)
    base = (t % 2) * n_pad + b * block
    src_of = lambda k: plt.load(spk.at[base + jnp.minimum(k, block - 1)])
    if into_state:
        g_ex, g_in = refs[-2:]

        def scatter(tg, delay, w, live):
            ex = tg < n_pad
            _scatter_add(g_ex, jnp.where(live & ex, tg, 0), w, live & ex, interpret)
            _scatter_add(g_in, jnp.where(live & ~ex, tg - n_pad, 0), w, live & ~ex, interpret)
    else:
        buf = refs[-1]
        scatter = lambda tg, delay, w, live: _scatter_add(buf, jnp.where(live, tg, 2 * n_pad), w, live, interpret)
    _deliver(knet, ell_refs, nspk[(t % 2) * (n_pad // block) + b], src_of, rows, slots, scatter)


def default_block(n: int, direct: bool = False) -> int:
    """Neurons per program: the fastest of 256 / 512 / 1024 measured on an H100 (COBA at 4k,
    400k, 1M, 2M and 4M neurons, the microcircuit at 77k; ``docs/engine.md``)."""
    return 512 if direct else 256 if n <= 16_384 else 1024 if n >= 2_000_000 else 512


def default_direct(fnet: fused.FusedNetwork) -> bool:
    """The direct form where :func:`direct_ok` and it was measured faster (``docs/engine.md``)."""
    return direct_ok(fnet) and fnet.n >= DIRECT_MIN


def direct_ok(fnet: fused.FusedNetwork) -> bool:
    """Whether ``fnet`` can be stepped without the input ring (``run(..., direct=True)``):
    every delay one step, and a model that adds the arrived increments to state fields
    (``NeuronModel.syn_leaves``) after the update."""
    return (fnet.model.syn_leaves is not None and fnet.synapses.max_delay == 1
            and not fnet.synapses.conn.delay.heterogeneous)


def _call(kernel, grid, args, n_out, num_warps, interpret):
    """``kernel`` over ``grid``, its last ``n_out`` arguments updated in place."""
    outs = args[len(args) - n_out:]
    return pl.pallas_call(
        kernel, grid=grid, interpret=interpret,
        out_shape=[jax.ShapeDtypeStruct(x.shape, x.dtype) for x in outs],
        input_output_aliases={len(args) - n_out + i: i for i in range(n_out)},
        compiler_params=plt.CompilerParams(num_warps=num_warps, num_stages=1))(*args)


def _ring_step(knet, leaves, ring, counts, pop_spikes, raster, t, t0, *, treedef, narrow, block, tile, num_warps,
               interpret):
    """One launch: the (double-buffered) state advanced from step ``t`` to ``t + 1``."""
    fnet = knet.fnet
    rows, slots, chunks = ek.tile_shape(fnet.synapses.ell.targets.shape[1], explicit=True, max_tile=tile)
    ell = [knet.targets, knet.weights] + ([knet.delays] if knet.delays is not None else [])
    outs = [*leaves, ring, counts, pop_spikes, *raster]
    kernel = functools.partial(_ring_kernel, knet=knet, n_leaves=len(leaves), treedef=treedef, narrow=narrow,
                               block=block, rows=rows, slots=slots, ring_len=ring.shape[0] // (2 * knet.n_pad),
                               record=len(raster), interpret=interpret)
    out = _call(kernel, (knet.n_pad // block, chunks), [jnp.stack([t, t0]), _seed(fnet), *knet.arrays, *ell, *outs],
                len(outs), num_warps, interpret)
    return list(out[:len(leaves)]), *out[len(leaves):len(leaves) + 3], list(out[len(leaves) + 3:])


def _seed(fnet):
    return jnp.reshape(jnp.asarray(fnet.seed, jnp.int32), (1,))


def _update(knet, leaves, spk, nspk, counts, pop_spikes, raster, t, t0, syn, *, treedef, narrow, kept, block,
            num_warps, interpret):
    """Direct form, part 1 (one launch): the state updated in place (leaves ``kept``, the
    syn_leaves, stored with the default L2 policy), spikes listed."""
    outs = [*leaves, spk, nspk, counts, pop_spikes, *raster]
    kernel = functools.partial(_update_kernel, knet=knet, n_leaves=len(leaves), treedef=treedef, narrow=narrow,
                               kept=kept, block=block, record=len(raster), with_syn=syn is not None)
    args = [jnp.stack([t, t0]), _seed(knet.fnet), *knet.arrays, *([] if syn is None else [syn]), *outs]
    out = _call(kernel, (knet.n_pad // block,), args, len(outs), num_warps, interpret)
    return list(out[:len(leaves)]), *out[len(leaves):len(leaves) + 4], list(out[len(leaves) + 4:])


def _direct(knet, spk, nspk, targets, t, *, block, tile, num_warps, interpret):
    """Direct form, part 2 (one launch): step ``t``'s spikes delivered into ``targets``
    (the state's two ``syn_leaves``, or one buffer in the ring's column layout)."""
    rows, slots, chunks = ek.tile_shape(knet.fnet.synapses.ell.targets.shape[1], explicit=True, max_tile=tile)
    kernel = functools.partial(_direct_kernel, knet=knet, block=block, rows=rows, slots=slots,
                               into_state=len(targets) == 2, interpret=interpret)
    return _call(kernel, (knet.n_pad // block, chunks), [jnp.reshape(t, (1,)), spk, nspk, knet.targets, knet.weights,
                                                         *targets], len(targets), num_warps, interpret)


def run(knet: KernelNetwork, state: fused.FusedState, steps: int, *, record: bool = False,
        block: int | None = None, tile: int = TILE, direct: bool | None = None, num_warps: int = 4, unroll: int = 4,
        interpret: bool = False):
    """Advance ``state`` (a :class:`~jaxbrain.fused.FusedState` of ``knet.fnet``) by ``steps``
    steps, one kernel launch per step (two in the direct form).

    Returns ``(state, spike_counts, pop_spikes)``: the new state, int32 [N] spikes per neuron
    over the run and int32 [steps, populations] spikes per population and step (populations in
    ``fnet.offsets`` order); with ``record`` also ``raster``, int8 [steps, N] (1 where a
    neuron spiked; N bytes per step of device memory). Tuning: ``block``, neurons per program
    (a power of two from 128 to ``PAD``; default :func:`default_block`); ``tile``, synapses a
    program delivers per iteration (a power of two from 128 to 8192; longer rows are cut in
    chunks, each with its own programs); ``direct``, the form without the input ring (one
    update launch, then one delivery launch straight into the state; only where
    :func:`direct_ok`; default: where it is faster, :func:`default_direct`); ``num_warps``,
    warps per program; ``unroll``, steps per iteration of the step loop.
    """
    if direct and not direct_ok(knet.fnet):
        raise ValueError("direct=True needs every delay to be one step and a neuron model with syn_leaves "
                         f"(got max_delay {knet.fnet.synapses.max_delay} steps, heterogeneous "
                         f"{knet.fnet.synapses.conn.delay.heterogeneous}, syn_leaves {knet.fnet.model.syn_leaves})")
    direct = default_direct(knet.fnet) if direct is None else direct
    block = default_block(knet.fnet.n, direct) if block is None else block
    if block < 128 or PAD % block or block & (block - 1):
        raise ValueError(f"block must be a power of two from 128 to {PAD}, got {block}")
    if tile < 128 or tile > 8192 or tile & (tile - 1):
        raise ValueError(f"tile must be a power of two from 128 to 8192, got {tile}")
    if not interpret and jax.default_backend() != "gpu":
        raise ValueError(f"step_kernel.run compiles a GPU (Triton) kernel; the backend is "
                         f"{jax.default_backend()!r}: use a GPU, or interpret=True (slow, for tests)")
    return _run(knet, state, steps, record=record, block=block, tile=tile, direct=direct, num_warps=num_warps,
                unroll=unroll, interpret=interpret)


def _pad_ring(knet, buf):
    """[L, 2n] -> [L, 2 n_pad] (each half padded)."""
    n, n_pad = knet.fnet.n, knet.n_pad
    zc = jnp.zeros((buf.shape[0], n_pad - n), buf.dtype)
    return jnp.concatenate([buf[:, :n], zc, buf[:, n:], zc], axis=1)


def _unpad_ring(knet, buf):
    n, n_pad = knet.fnet.n, knet.n_pad
    return jnp.concatenate([buf[:, :n], buf[:, n_pad:n_pad + n]], axis=1)


@functools.partial(jax.jit, static_argnames=("steps", "record", "block", "tile", "direct", "num_warps", "unroll",
                                             "interpret"))
def _run(knet: KernelNetwork, state: fused.FusedState, steps: int, *, record: bool, block: int, tile: int,
         direct: bool, num_warps: int, unroll: int, interpret: bool):
    fnet = knet.fnet
    n, n_pad = fnet.n, knet.n_pad
    leaves, treedef = jax.tree.flatten(state.neurons)
    t0 = state.t.astype(jnp.int32)
    narrow = _narrowed(knet, state.neurons)
    dtypes = [x.dtype for x in leaves]
    leaves = [jnp.concatenate([x, jnp.broadcast_to(x[-1], (n_pad - n,))]).astype(jnp.int16 if i == narrow else x.dtype)
              for i, x in enumerate(leaves)]
    buf = _pad_ring(knet, state.ring.buf)  # [L, 2 n_pad], slot s % L holds the input of step s
    length = buf.shape[0]
    raster = [jnp.zeros((steps * n_pad,), jnp.int8)] if record else []
    n_pops = len(fnet.populations)
    counts, pop_spikes = jnp.zeros((n_pad,), jnp.int32), jnp.zeros((steps * n_pops * LANES,), jnp.float32)
    kw = dict(narrow=narrow, block=block, num_warps=num_warps, interpret=interpret)
    if direct:  # delays are one step: only slot t0 can hold anything
        g = tuple(state.neurons._fields.index(f) for f in fnet.model.syn_leaves)
        spk, nspk = jnp.zeros((2 * n_pad,), jnp.int32), jnp.zeros((2 * n_pad // block,), jnp.int32)
        upd = functools.partial(_update, knet, treedef=treedef, kept=g, **kw)
        dlv = functools.partial(_direct, knet, block=block, tile=tile, num_warps=num_warps, interpret=interpret)
        leaves, spk, nspk, counts, pop_spikes, raster = upd(leaves, spk, nspk, counts, pop_spikes, raster, t0, t0,
                                                            buf[t0 % length])

        def body(c, _):  # step t: update, then step t - 1's spikes into the new state
            leaves, spk, nspk, counts, pop_spikes, raster, t = c
            leaves, spk, nspk, counts, pop_spikes, raster = upd(leaves, spk, nspk, counts, pop_spikes, raster, t, t0,
                                                                None)
            leaves[g[0]], leaves[g[1]] = dlv(spk, nspk, [leaves[g[0]], leaves[g[1]]], t - 1)
            return (leaves, spk, nspk, counts, pop_spikes, raster, t + 1), None

        carry = (leaves, spk, nspk, counts, pop_spikes, raster, t0 + 1)
        (leaves, spk, nspk, counts, pop_spikes, raster, t1), _ = jax.lax.scan(
            body, carry, None, length=steps - 1, unroll=max(1, min(unroll, steps - 1)))
        last, = dlv(spk, nspk, [jnp.zeros((2 * n_pad + 1,), buf.dtype)], t1 - 1)  # input of step t1
        ring = jnp.zeros_like(buf).at[t1 % length].set(last[:-1])
        leaves = [x[:n] for x in leaves]
    else:
        leaves = [jnp.roll(jnp.concatenate([x, x]), (t0 % 2) * n_pad) for x in leaves]  # half t0 % 2 is read first
        # one more slot (see _ring_kernel), so step s's input moves from slot s % L to s % (L + 1)
        pending = (t0 + jnp.arange(length)) % length
        ring = jnp.zeros((length + 1, 2 * n_pad), buf.dtype).at[(t0 + jnp.arange(length)) % (length + 1)].set(
            buf[pending])
        ring = jnp.concatenate([ring.reshape(-1), jnp.zeros((1,), buf.dtype)])  # spare column (dead lanes)
        one = functools.partial(_ring_step, knet, treedef=treedef, tile=tile, **kw)

        def body(c, _):
            leaves, ring, counts, pop_spikes, raster, t = c
            return (*one(leaves, ring, counts, pop_spikes, raster, t, t0), t + 1), None

        carry = (leaves, ring, counts, pop_spikes, raster, t0)
        (leaves, ring, counts, pop_spikes, raster, t1), _ = jax.lax.scan(body, carry, None, length=steps,
                                                                         unroll=min(unroll, steps))
        leaves = [jax.lax.dynamic_slice(x, ((t1 % 2) * n_pad,), (n,)) for x in leaves]
        ring = ring[:-1].reshape(length + 1, 2 * n_pad)[(t1 + jnp.arange(length)) % (length + 1)]  # steps t1 ..
        ring = jnp.zeros_like(buf).at[(t1 + jnp.arange(length)) % length].set(ring)
    neurons = jax.tree.unflatten(treedef, [x.astype(d) for x, d in zip(leaves, dtypes)])
    new = fused.FusedState(neurons, state.ring._replace(buf=_unpad_ring(knet, ring)), state.t + steps)
    out = (new, counts[:n], pop_spikes.reshape(steps, n_pops, LANES).sum(-1).astype(jnp.int32))
    return out + (raster[0].reshape(steps, n_pad)[:, :n],) if record else out


def simulate(knet: KernelNetwork, state: fused.FusedState, steps: int, raster: dict[str, int] | None = None,
             chunk_steps: int = 1000, **kw) -> tuple[fused.FusedState, Recording]:
    """``steps`` steps in chunks of ``chunk_steps`` (one :func:`run` each), returning a
    :class:`~jaxbrain.simulate.Recording` as :func:`jaxbrain.simulate.run` does: spikes per
    population and step, spikes per neuron, and a raster of the first ``raster[pop]`` neurons
    of each population. ``kw``: :func:`run`'s tuning arguments."""
    fnet = knet.fnet
    raster = {k: min(m, fnet.populations[k].n) for k, m in (raster or {}).items()}
    pop_spikes, rasters, counts = [], {k: [] for k in raster}, 0

    def collect(c, p, r):
        nonlocal counts
        counts = counts + np.asarray(c)
        pop_spikes.append(np.asarray(p))
        for k, x in r.items():
            rasters[k].append(np.asarray(x) > 0)

    # pipelined: chunk i's results are copied to the host while the GPU runs chunk i + 1 (its
    # raster slices are queued before chunk i + 1, so the copies need not wait for it)
    done, pending = 0, None
    while done < steps:
        n = min(chunk_steps, steps - done)
        state, c, p, *r = run(knet, state, n, record=bool(raster), **kw)
        r = {k: r[0][:, fnet.offsets[k]:fnet.offsets[k] + m] for k, m in raster.items()}
        if pending is not None:
            collect(*pending)
        pending, done = (c, p, r), done + n
    if pending is not None:
        collect(*pending)
    pop_spikes = np.concatenate(pop_spikes)
    rec = Recording(fnet.dt, {k: pop_spikes[:, i] for i, k in enumerate(fnet.offsets)},
                    {k: counts[o:o + fnet.populations[k].n] for k, o in fnet.offsets.items()},
                    raster={k: np.concatenate(v) for k, v in rasters.items()})
    return state, rec
