"""A step of a merged network as ONE GPU kernel: update, spike selection and delivery fused.

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

__all__ = ["KernelNetwork", "prepare", "run", "simulate"]

TILE = 512  # synapses per delivery tile of a program (fastest measured on an H100, 4k-4M neurons)
PAD = 4096  # per-neuron arrays are padded to a multiple of this (so any block up to PAD divides)
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
    return KernelNetwork(fnet, n_pad, tuple(by_pop), tuple(arrays), tg, fnet.synapses.ell.weights.reshape(-1), delays)


def _select(idx, starts, values, dtype=jnp.float32):
    """Per lane, the value of the population containing neuron ``idx`` (populations start at
    ``starts``; padded neurons get the last one's)."""
    out = jnp.full(idx.shape, values[0], dtype)
    for start, v in zip(starts[1:], values[1:]):
        if v != values[0] or dtype != jnp.float32:
            out = jnp.where(idx >= start, jnp.asarray(v, dtype), out)
    return out


def _scatter_add(buf, idx, val, live, interpret):
    """``buf[idx] += val`` where ``live`` (dead lanes must point at the spare column)."""
    if interpret:  # programs run in turn: an exact array update (the interpreter's atomics drop repeats)
        buf[...] = buf[...].at[idx.reshape(-1)].add(jnp.where(live, val, 0.0).reshape(-1))
    else:
        plt.atomic_add(buf, idx, val, mask=live)


def _kernel(t_ref, seed_ref, *refs, knet, n_leaves, treedef, block, rows, slots, ring_len, record, interpret):
    fnet = knet.fnet
    n_ell = 3 if knet.delays is not None else 2
    n_arr = len(knet.arrays)
    arr_refs, ell_refs = refs[:n_arr], refs[n_arr:n_arr + n_ell]
    outs = refs[n_arr + n_ell + n_leaves + 3 + record:]
    state_refs, (ring, counts, pop_spikes, *raster) = outs[:n_leaves], outs[n_leaves:]
    n, n_pad = fnet.n, knet.n_pad
    n_cols = 2 * n_pad
    d = fnet.synapses.ell.targets.shape[1]
    t, b = t_ref[0], pl.program_id(0)
    idx = b * block + jnp.arange(block, dtype=jnp.int32)
    ld = lambda r: plt.load(r.at[idx])
    starts = tuple(fnet.offsets.values())
    arr_iter = iter(arr_refs)
    q = [ld(next(arr_iter)) if v is None else _select(idx, starts, v) for v in knet.by_pop]
    n_par = len(jax.tree.leaves(fnet.params))
    params = jax.tree.unflatten(jax.tree.structure(fnet.params), q[:n_par])
    i_ext = q[n_par]

    # 1. update: this step's ring slot, drive, neuron model. Programs (b, c) for every chunk
    # c compute the same update; only c = 0 writes it. Slot t - 1 (read last step, and no
    # delivery target this step: the ring has max_delay + 2 slots) is cleared by c = 0.
    writer = pl.program_id(1) == 0
    now = (t % ring_len) * n_cols + idx
    syn_ex, syn_in = plt.load(ring.at[now]), plt.load(ring.at[now + n_pad])
    if fnet.has_drive:
        lam, w_ex, w_in = q[n_par + 1:]
        pop = _select(idx, starts, tuple(nw._pop_index(fnet, k) for k in fnet.offsets), jnp.int32)
        local = idx - _select(idx, starts, starts, jnp.int32)
        k = inputs.poisson_counts(lam, seed_ref[0], nw.DRIVE_STREAM, pop, t, local, k_max=fnet.drive_k_max)
        syn_ex, syn_in = syn_ex + k * w_ex, syn_in + k * w_in
    # the state is double-buffered (read half t % 2, write the other), so that no program
    # of this step reads a neuron's state after its writer has updated it
    here, there = (t % 2) * n_pad + idx, ((t + 1) % 2) * n_pad + idx
    state = jax.tree.unflatten(treedef, [plt.load(r.at[here]) for r in state_refs])
    state, spikes = fnet.model.step(params, state, syn_ex, syn_in, i_ext, fnet.dt)
    active = (spikes != 0) & (idx < n)

    @pl.when(writer)
    def _():
        for r, x in zip(state_refs, jax.tree.leaves(state)):
            plt.store(r.at[there], x)
        plt.store(counts.at[idx], ld(counts) + active.astype(jnp.int32))
        row = t - t_ref[1]
        ends = starts[1:] + (n,)
        for p, (start, end) in enumerate(zip(starts, ends)):  # spikes per population and step
            @pl.when((b * block < end) & ((b + 1) * block > start))
            def _():  # float adds (relaxed, exact below 2**24), spread over LANES addresses
                in_pop = active & (idx >= start) & (idx < end)
                plt.atomic_add(pop_spikes, (row * len(starts) + p) * LANES + b % LANES,
                               jnp.sum(in_pop.astype(jnp.float32)))
        if record:  # row t - t0 of the raster
            plt.store(raster[0].at[row * n_pad + idx], active.astype(jnp.int8))
        before = ((t + ring_len - 1) % ring_len) * n_cols + idx
        plt.store(ring.at[before], jnp.zeros((block,), jnp.float32))
        plt.store(ring.at[before + n_pad], jnp.zeros((block,), jnp.float32))

    # 2. deliver chunk c of the rows of the block's spiking neurons, ``rows`` neurons at a
    # time; the r-th spiking neuron of a group is picked from the lanes in registers
    rank = jnp.where(active, jnp.cumsum(active.astype(jnp.int32)) - 1, -1)
    count = jnp.sum(active.astype(jnp.int32))
    cc = pl.program_id(1) * slots + jnp.arange(slots, dtype=jnp.int32)

    def tile(g, carry):
        k = g * rows + jnp.arange(rows, dtype=jnp.int32)
        src = jnp.sum(jnp.where(rank[None, :] == k[:, None], idx[None, :], 0), axis=1)
        live = (k < count)[:, None] & (cc < d)[None, :]
        flat = src[:, None] * d + cc[None, :]
        tg = plt.load(ell_refs[0].at[flat], mask=live, other=n_cols)
        w = plt.load(ell_refs[1].at[flat], mask=live, other=0.0)
        delay = plt.load(ell_refs[2].at[flat], mask=live, other=1) if n_ell > 2 \
            else jnp.full(tg.shape, fnet.synapses.max_delay, jnp.int32)
        live = live & (tg < n_cols)
        _scatter_add(ring, jnp.where(live, ((t + delay) % ring_len) * n_cols + tg, ring_len * n_cols), w, live,
                     interpret)
        return carry

    jax.lax.fori_loop(0, (count + rows - 1) // rows, tile, 0)


def default_block(n: int) -> int:
    """Neurons per program: the fastest of 256 / 512 / 1024 measured on an H100 (COBA at 4k,
    400k and 4M neurons, the microcircuit at 77k; ``docs/engine.md``)."""
    return 256 if n <= 16_384 else 1024 if n >= 2_000_000 else 512


def _step(knet, leaves, ring, counts, pop_spikes, raster, t, t0, *, treedef, block, tile, num_warps, interpret):
    """One kernel launch: the padded state advanced from step ``t`` to ``t + 1`` (and, with a
    ``raster``, its row ``t - t0`` written)."""
    fnet = knet.fnet
    rows, slots, chunks = ek.tile_shape(fnet.synapses.ell.targets.shape[1], explicit=True, max_tile=tile)
    ell = [knet.targets, knet.weights] + ([knet.delays] if knet.delays is not None else [])
    outs = [*leaves, ring, counts, pop_spikes, *raster]
    args = [jnp.stack([t, t0]), jnp.reshape(jnp.asarray(fnet.seed, jnp.int32), (1,)), *knet.arrays, *ell, *outs]
    first_out = len(args) - len(outs)
    kernel = functools.partial(_kernel, knet=knet, n_leaves=len(leaves), treedef=treedef, block=block, rows=rows,
                               slots=slots, ring_len=ring.shape[0] // (2 * knet.n_pad), record=len(raster),
                               interpret=interpret)
    out = pl.pallas_call(
        kernel, grid=(knet.n_pad // block, chunks), interpret=interpret,
        out_shape=[jax.ShapeDtypeStruct(x.shape, x.dtype) for x in outs],
        input_output_aliases={first_out + i: i for i in range(len(outs))},
        compiler_params=plt.CompilerParams(num_warps=num_warps, num_stages=1))(*args)
    return list(out[:len(leaves)]), *out[len(leaves):len(leaves) + 3], list(out[len(leaves) + 3:])


def run(knet: KernelNetwork, state: fused.FusedState, steps: int, *, record: bool = False,
        block: int | None = None, tile: int = TILE, num_warps: int = 4, unroll: int = 4, interpret: bool = False):
    """Advance ``state`` (a :class:`~jaxbrain.fused.FusedState` of ``knet.fnet``) by ``steps``
    steps, one kernel launch per step.

    Returns ``(state, spike_counts, pop_spikes)``: the new state, int32 [N] spikes per neuron
    over the run and int32 [steps, populations] spikes per population and step (populations in
    ``fnet.offsets`` order); with ``record`` also ``raster``, int8 [steps, N] (1 where a
    neuron spiked; N bytes per step of device memory). Tuning: ``block``, neurons per program
    (a power of two from 128 to ``PAD``; default :func:`default_block`); ``tile``, synapses a
    program delivers per iteration (a power of two from 128 to 8192; longer rows are cut in
    chunks, each with its own programs); ``num_warps``, warps per program; ``unroll``, steps
    per iteration of the step loop.
    """
    block = default_block(knet.fnet.n) if block is None else block
    if block < 128 or PAD % block or block & (block - 1):
        raise ValueError(f"block must be a power of two from 128 to {PAD}, got {block}")
    if tile < 128 or tile > 8192 or tile & (tile - 1):
        raise ValueError(f"tile must be a power of two from 128 to 8192, got {tile}")
    if not interpret and jax.default_backend() != "gpu":
        raise ValueError(f"step_kernel.run compiles a GPU (Triton) kernel; the backend is "
                         f"{jax.default_backend()!r}: use a GPU, or interpret=True (slow, for tests)")
    return _run(knet, state, steps, record=record, block=block, tile=tile, num_warps=num_warps, unroll=unroll,
                interpret=interpret)


@functools.partial(jax.jit, static_argnames=("steps", "record", "block", "tile", "num_warps", "unroll", "interpret"))
def _run(knet: KernelNetwork, state: fused.FusedState, steps: int, *, record: bool, block: int, tile: int,
         num_warps: int, unroll: int, interpret: bool):
    fnet = knet.fnet
    n, n_pad = fnet.n, knet.n_pad
    leaves, treedef = jax.tree.flatten(state.neurons)
    t0 = state.t.astype(jnp.int32)
    leaves = [jnp.concatenate([x, jnp.broadcast_to(x[-1], (n_pad - n,))]) for x in leaves]
    leaves = [jnp.roll(jnp.concatenate([x, x]), (t0 % 2) * n_pad) for x in leaves]  # half t0 % 2 is read first
    buf = state.ring.buf  # [L, 2n], slot s % L holds the input of step s
    length = buf.shape[0]
    zc = jnp.zeros((length, n_pad - n), buf.dtype)
    buf = jnp.concatenate([buf[:, :n], zc, buf[:, n:], zc], axis=1)
    # one more slot (see _kernel), so step s's input moves from slot s % L to s % (L + 1)
    pending = (t0 + jnp.arange(length)) % length
    ring = jnp.zeros((length + 1, 2 * n_pad), buf.dtype).at[(t0 + jnp.arange(length)) % (length + 1)].set(buf[pending])
    ring = jnp.concatenate([ring.reshape(-1), jnp.zeros((1,), buf.dtype)])  # spare column (dead lanes)
    one = functools.partial(_step, knet, treedef=treedef, block=block, tile=tile, num_warps=num_warps,
                            interpret=interpret)

    def body(c, _):
        leaves, ring, counts, pop_spikes, raster, t = c
        return (*one(leaves, ring, counts, pop_spikes, raster, t, t0), t + 1), None

    raster = [jnp.zeros((steps * n_pad,), jnp.int8)] if record else []
    n_pops = len(fnet.populations)
    carry = (leaves, ring, jnp.zeros((n_pad,), jnp.int32), jnp.zeros((steps * n_pops * LANES,), jnp.float32), raster,
             t0)
    (leaves, ring, counts, pop_spikes, raster, t1), _ = jax.lax.scan(body, carry, None, length=steps, unroll=min(unroll, steps))
    neurons = jax.tree.unflatten(treedef, [jax.lax.dynamic_slice(x, ((t1 % 2) * n_pad,), (n,)) for x in leaves])
    ring = ring[:-1].reshape(length + 1, 2 * n_pad)
    ring = ring[(t1 + jnp.arange(length)) % (length + 1)]  # steps t1 .. t1 + L - 1
    ring = jnp.zeros((length, 2 * n), buf.dtype).at[(t1 + jnp.arange(length)) % length].set(
        jnp.concatenate([ring[:, :n], ring[:, n_pad:n_pad + n]], axis=1))
    new = fused.FusedState(neurons, state.ring._replace(buf=ring), state.t + steps)
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
