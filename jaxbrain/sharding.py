"""Sharding a spiking network over devices along a neuron axis with ``jax.shard_map``.

Each device owns a contiguous slice of every population (neuron states and the delay rings
of its neurons' synaptic input), generates its own *incoming* synapses, and receives from
the others nothing but spikes:

* every step, each device advances its slices, then the spikes of every population are
  exchanged with one ``all_gather`` per population, as a bitmask (``n / 8`` bytes per step)
  or as a list of compact indices of the neurons that fired (``4 x cap`` bytes per device;
  if a device has more than ``cap`` spikes, that step falls back to the bitmask, so no
  spike is ever dropped);
* each device then delivers the spikes of all sources to its own targets only:
  ``pull`` (fixed in-degree) regenerates the sources of its targets from the counter-based
  RNG; ``procedural`` / ``event`` regenerate the out-rows of the active sources and keep the
  synapses onto its slice; explicit ``segment_sum`` synapses are partitioned by target when
  the network is sharded; ``dense`` keeps the columns of its slice.

Every random number is keyed on global indices (seed, projection, source, slot; Poisson
drive: population, step, neuron), and each target receives the same contributions in the
same order as in :func:`jaxbrain.network.step`, so the sharded run equals the single-device
run bit for bit on CPU (tested on 1, 2, 4 and 8 forced host devices). On GPUs, scatter-adds
use atomics whose order varies, so runs agree to rounding, as two single-GPU runs do.

The mesh comes from the config (:class:`MeshConfig`), never from code edits. Multi-host:
call :func:`init_distributed` first on every host (see its docstring for the launch command);
``jax.devices()`` then lists the devices of all hosts and the same code runs unchanged.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.sharding import NamedSharding, PartitionSpec as P

from . import connectivity as cx
from . import inputs
from . import network as nw
from .config import ConfigError, at_least, one_of, param
from .delays import DelayRing, ring_add, ring_add_dense

__all__ = ["AXIS", "MeshConfig", "make_mesh", "mesh_from_config", "init_distributed",
           "ShardedNetwork", "shard_network", "state_specs", "shard_state", "simulate",
           "exchange_bytes_per_step", "EXCHANGES"]

AXIS = "neurons"
EXCHANGES = ("bitmask", "indices")


# ---- mesh --------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class MeshConfig:
    """The device mesh, as a config table (``[mesh]`` in a TOML).

    ``n_devices = 0`` takes every visible device (all hosts after :func:`init_distributed`).
    """
    n_devices: int = param(0, at_least(0), "devices on the neuron axis (0: all visible)")
    axis: str = param(AXIS, None, "name of the neuron mesh axis")
    exchange: str = param("bitmask", one_of(*EXCHANGES), "how spikes are exchanged")
    cap: int = param(0, at_least(0), "indices exchange: spikes per device per step "
                                      "(0: 6x the expected count at 20 Hz, at least 64)")


def make_mesh(n_devices: int | None = None, axis: str = AXIS, devices=None) -> jax.sharding.Mesh:
    """A 1-D mesh of ``n_devices`` (default: all) with an explicit ``axis``."""
    avail = list(devices) if devices is not None else jax.devices()
    n = len(avail) if not n_devices else n_devices
    if n > len(avail):
        raise ValueError(f"n_devices = {n}: only {len(avail)} devices are visible "
                         f"({jax.default_backend()}); on CPU force more with XLA_FLAGS="
                         f"--xla_force_host_platform_device_count={n}")
    return jax.make_mesh((n,), (axis,), axis_types=(jax.sharding.AxisType.Explicit,),
                         devices=avail[:n])


def mesh_from_config(cfg: MeshConfig) -> jax.sharding.Mesh:
    return make_mesh(cfg.n_devices or None, cfg.axis)


def init_distributed(coordinator_address: str | None = None, num_processes: int | None = None,
                     process_id: int | None = None) -> None:
    """Join a multi-host run (``jax.distributed.initialize``); call before anything else.

    Launch one process per host, e.g. with 2 hosts of 8 GPUs::

        # on host 0 (10.0.0.1) and host 1, the same command with its process id:
        JAXBRAIN_COORDINATOR=10.0.0.1:1234 JAXBRAIN_NUM_PROCESSES=2 JAXBRAIN_PROCESS_ID=0 \\
            jaxbrain run configs/<name>.toml
        # (under SLURM or Open MPI, jax.distributed.initialize() finds these by itself)

    Arguments default to the environment variables above, then to auto-detection.
    """
    import os
    coordinator_address = coordinator_address or os.environ.get("JAXBRAIN_COORDINATOR")
    if num_processes is None and "JAXBRAIN_NUM_PROCESSES" in os.environ:
        num_processes = int(os.environ["JAXBRAIN_NUM_PROCESSES"])
    if process_id is None and "JAXBRAIN_PROCESS_ID" in os.environ:
        process_id = int(os.environ["JAXBRAIN_PROCESS_ID"])
    jax.distributed.initialize(coordinator_address, num_processes, process_id)


# ---- a network split by target ------------------------------------------------------------

@struct.dataclass
class ShardedNetwork:
    """A :class:`jaxbrain.network.Network` prepared for ``n_shards`` devices.

    ``local``: per projection, the data partitioned by target (explicit ``segment_sum`` COO
    as [n_shards, max_local] arrays, ``dense`` columns as [n_shards, n_pre, n_local]), or
    None for procedural projections (nothing stored). exchange, cap: see the module doc.
    """
    net: nw.Network
    local: dict
    n_shards: int = struct.field(pytree_node=False)
    exchange: str = struct.field(pytree_node=False, default="bitmask")
    cap: int = struct.field(pytree_node=False, default=64)


def shard_network(net: nw.Network, n_shards: int, exchange: str = "bitmask",
                  cap: int = 0) -> ShardedNetwork:
    """Split ``net`` by target over ``n_shards`` devices (validated before any compile).

    Every population size must be a multiple of ``n_shards`` (times 8 for the bitmask
    exchange, which packs 8 neurons a byte)."""
    if exchange not in EXCHANGES:
        raise ConfigError(f"exchange {exchange!r}; allowed: {list(EXCHANGES)}")
    if n_shards < 1:
        raise ValueError(f"n_shards = {n_shards}; allowed: >= 1")
    unit = n_shards * (8 if exchange == "bitmask" else 1)
    for name, pop in net.populations.items():
        if pop.n % unit:
            raise ValueError(f"population '{name}' has {pop.n} neurons; with {n_shards} devices "
                             f"and the {exchange} exchange it must be a multiple of {unit}")
    if not cap:
        n_max = max(p.n for p in net.populations.values()) // n_shards
        mean = n_max * 20.0 * net.dt * 1e-3
        cap = int(min(n_max, max(64, math.ceil(6 * mean + 6 * math.sqrt(mean)))))
    local = {}
    for name, proj in net.projections.items():
        syn = proj.synapses
        n_post = syn.conn.n_post
        n_loc = n_post // n_shards
        if syn.impl == "segment_sum":
            pre, post, w, d = (np.asarray(a) for a in syn.coo)
            parts = []
            for k in range(n_shards):
                m = (post >= k * n_loc) & (post < (k + 1) * n_loc)   # order kept
                parts.append((pre[m], post[m] - k * n_loc, w[m], d[m]))
            width = max(1, max(len(p[0]) for p in parts))

            def pad(a, fill, dtype):
                return np.concatenate([a, np.full(width - len(a), fill, dtype)]).astype(dtype)
            local[name] = tuple(jnp.asarray(np.stack([pad(p[i], f, dt) for p in parts]))
                                for i, (f, dt) in enumerate([(0, np.int32), (n_loc, np.int32),
                                                             (0.0, np.float32), (1, np.int32)]))
        elif syn.impl == "dense":
            w = np.asarray(syn.w_dense)
            local[name] = jnp.asarray(np.stack([w[:, k * n_loc:(k + 1) * n_loc] for k in range(n_shards)]))
        elif syn.impl in ("pull", "procedural", "event"):
            local[name] = None
        else:
            raise ValueError(f"projection '{name}': impl {syn.impl!r} cannot be sharded; allowed: "
                             "pull, procedural, event, segment_sum, dense")
    return ShardedNetwork(net=net, local=local, n_shards=n_shards, exchange=exchange, cap=cap)


def state_specs(state: nw.NetworkState, axis: str = AXIS) -> nw.NetworkState:
    """PartitionSpecs of a network state: neuron arrays split on their neuron axis, rings
    [L, n] on axis 1, the step counter replicated."""
    return nw.NetworkState(
        neurons=jax.tree.map(lambda x: P(axis) if jnp.ndim(x) >= 1 else P(), state.neurons),
        rings={k: DelayRing(P(None, axis)) for k in state.rings},
        t=P())


def shard_state(state: nw.NetworkState, mesh) -> nw.NetworkState:
    """Place a (global) network state on ``mesh``, split along the neuron axis."""
    axis = mesh.axis_names[0]
    specs = state_specs(state, axis)
    return jax.tree.map(lambda x, s: jax.device_put(x, NamedSharding(mesh, s)), state, specs,
                        is_leaf=lambda x: isinstance(x, P))


# ---- the local step (inside shard_map) ----------------------------------------------------

def _gather_spikes(snet: ShardedNetwork, spk_local, n: int, axis: str):
    """All spikes of a population from every device's slice (bitmask or compact indices)."""
    if snet.exchange == "bitmask" or snet.n_shards == 1:
        if snet.n_shards == 1:
            return spk_local.astype(jnp.float32)
        packed = jnp.packbits(spk_local > 0)
        return jnp.unpackbits(jax.lax.all_gather(packed, axis, tiled=True))[:n].astype(jnp.float32)
    n_loc = spk_local.shape[0]
    cap = min(snet.cap, n_loc)
    lo = jax.lax.axis_index(axis) * n_loc
    over = jax.lax.psum((jnp.count_nonzero(spk_local) > cap).astype(jnp.int32), axis)

    def by_indices(s):
        idx = jnp.nonzero(s, size=cap, fill_value=n_loc)[0]
        glob = jnp.where(idx < n_loc, idx + lo, n).astype(jnp.int32)
        allidx = jax.lax.all_gather(glob, axis, tiled=True)
        return jnp.zeros((n + 1,), jnp.float32).at[allidx].set(1.0)[:n]

    def by_bitmask(s):
        packed = jnp.packbits(jnp.pad(s > 0, (0, (-n_loc) % 8)))
        bits = jax.lax.all_gather(packed[None], axis, tiled=True)      # [D, bytes]
        return jnp.unpackbits(bits, axis=1)[:, :n_loc].reshape(-1)[:n].astype(jnp.float32)

    return jax.lax.cond(over > 0, by_bitmask, by_indices, spk_local)


def _deliver_local(snet: ShardedNetwork, name: str, proj: nw.Projection, local, s, ring: DelayRing,
                   t, lo, scale):
    """Input of all sources' spikes ``s`` (global) onto this device's targets [lo, lo + n_loc),
    in the same per-target order as :func:`jaxbrain.propagation.deliver`."""
    syn = proj.synapses
    conn = syn.conn
    n_loc = ring.buf.shape[1]
    d = syn.max_delay
    s = s.astype(jnp.float32) * scale
    if syn.impl == "pull":
        rows = cx.target_rows(conn, lo + jnp.arange(n_loc, dtype=jnp.int32), syn.dt)
        vals = rows.weights * s[rows.targets]                       # [n_loc, k]
        # the k inputs of a target are summed in slot order whatever n_loc (a plain .sum(-1)
        # is vectorised differently for different row counts, changing the last bit)
        acc = jax.lax.scan(lambda a, v: (a + v, None), jnp.zeros((n_loc,), jnp.float32), vals.T)[0]
        return ring_add_dense(ring, t, d, acc)
    if syn.impl == "dense":
        return ring_add_dense(ring, t, d, s @ local[0])
    if syn.impl == "segment_sum":
        pre, post, w, delays = (a[0] for a in local)
        vals = w * s[pre]
        if conn.delay.heterogeneous:
            return ring_add(ring, t, delays, post, vals)
        return ring_add_dense(ring, t, d, jax.ops.segment_sum(vals, post, n_loc + 1)[:n_loc])
    # procedural / event: regenerate the out-rows of the active sources, keep our targets
    n_pre, cap = conn.n_pre, min(syn.cap, conn.n_pre)

    def rows_into(ring, idx, spikes):
        rows = cx.source_rows(conn, idx, syn.dt)
        tl = rows.targets - lo
        keep = (idx < n_pre)[:, None] & (rows.targets < conn.n_post) & (tl >= 0) & (tl < n_loc)
        tl = jnp.where(keep, tl, n_loc)
        sv = jnp.take(spikes, idx, mode="fill", fill_value=0)
        return ring_add(ring, t, rows.delays, tl, rows.weights * sv[:, None])

    if cap >= n_pre:
        return rows_into(ring, jnp.arange(n_pre, dtype=jnp.int32), s)
    idx = jnp.nonzero(s, size=cap, fill_value=n_pre)[0].astype(jnp.int32)
    ring = rows_into(ring, idx, s)
    count = jnp.count_nonzero(s).astype(jnp.int32)

    def rest(ring):
        residual = s.at[idx].set(0, mode="drop")
        active = jnp.nonzero(residual, size=n_pre, fill_value=n_pre)[0].astype(jnp.int32)

        def chunk(carry):
            ring, start = carry
            s0 = jnp.minimum(start, n_pre - cap)
            i = jax.lax.dynamic_slice(active, (s0,), (cap,))
            i = jnp.where(jnp.arange(cap) + s0 >= start, i, n_pre)
            return rows_into(ring, i, residual), start + cap

        return jax.lax.while_loop(lambda c: c[1] < count - cap, chunk,
                                  (ring, jnp.asarray(0, jnp.int32)))[0]

    return jax.lax.cond(count > cap, rest, lambda r: r, ring)


def _local_step(snet: ShardedNetwork, local, state: nw.NetworkState, axis: str):
    """One step of this device's slices; returns (state, local spikes per population)."""
    net = snet.net
    t = state.t
    me = jax.lax.axis_index(axis)
    rings = dict(state.rings)
    new_neurons, spikes, los = {}, {}, {}
    names = sorted(net.populations)
    for name, pop in net.populations.items():
        n_loc = pop.n // snet.n_shards
        lo = (me * n_loc).astype(jnp.int32)
        los[name] = lo
        syn = nw.read_synaptic_input(rings, name, n_loc, t)
        if pop.drive is not None:
            n_idx = lo + jnp.arange(n_loc, dtype=jnp.int32)
            lam = pop.drive.rate_hz * pop.drive.n_sources * net.dt * 1e-3
            counts = inputs.poisson_counts(lam, net.seed, nw.DRIVE_STREAM, names.index(name), t, n_idx)
            syn[pop.drive.receptor] = syn[pop.drive.receptor] + counts * pop.drive.weight
        current = pop.i_ext
        if jnp.ndim(current) >= 1:
            current = jax.lax.dynamic_slice_in_dim(jnp.asarray(current), lo, n_loc)
        new_neurons[name], spikes[name] = pop.model.step(pop.params, state.neurons[name], syn["ex"],
                                                         syn["in"], current, net.dt)
    glob = {name: _gather_spikes(snet, spikes[name], net.populations[name].n, axis)
            for name in net.populations}
    for name, proj in net.projections.items():
        lo = los[proj.post]
        s = glob[proj.pre]
        loc = local[name]
        if proj.receptor == "dale":
            conn = proj.synapses.conn
            n_exc = int(round((conn.exc_fraction if conn.exc_fraction is not None else 1.0) * conn.n_pre))
            is_exc = jnp.arange(conn.n_pre) < n_exc
            post_cond = net.populations[proj.post].conductance
            ke, ki = f"{proj.post}:ex", f"{proj.post}:in"
            rings[ke] = _deliver_local(snet, name, proj, loc, jnp.where(is_exc, s, 0.0), rings[ke], t, lo, 1.0)
            rings[ki] = _deliver_local(snet, name, proj, loc, jnp.where(is_exc, 0.0, s), rings[ki], t, lo,
                                       -1.0 if post_cond else 1.0)
        else:
            key = f"{proj.post}:{proj.receptor}"
            rings[key] = _deliver_local(snet, name, proj, loc, s, rings[key], t, lo, 1.0)
    return nw.NetworkState(new_neurons, rings, t + 1), spikes


# ---- running ----------------------------------------------------------------------------

class ShardedRecord(NamedTuple):
    """counts: population spike counts per step {pop: [T]}; raster: {pop: [T, n]} or None."""
    counts: dict
    raster: Any


def simulate(snet: ShardedNetwork, mesh, state: nw.NetworkState, n_steps: int,
             raster: bool = False):
    """Run ``n_steps`` steps sharded over ``mesh`` (one ``shard_map`` around a ``lax.scan``).

    Arguments:
        state: a global network state (from :func:`jaxbrain.network.init_state`), placed or
            not; it is split along the neuron axis.
        raster: also return every spike (bool [T, n] per population).
    Returns:
        (final state, :class:`ShardedRecord`).
    """
    axis = mesh.axis_names[0]
    if mesh.shape[axis] != snet.n_shards:
        raise ValueError(f"the mesh has {mesh.shape[axis]} devices on '{axis}' but the network "
                         f"was sharded for {snet.n_shards}")
    local = jax.tree.map(lambda x: jax.device_put(x, NamedSharding(mesh, P(axis))), snet.local)
    with jax.numpy_rank_promotion("allow"):   # connectivity generators broadcast (n, 1) x (d,)
        end, (counts, ras) = _run(snet.replace(local={k: None for k in snet.local}), local,
                                  shard_state(state, mesh), mesh=mesh, n_steps=n_steps, raster=raster)
    return end, ShardedRecord(counts, ras)


@functools.partial(jax.jit, static_argnames=("mesh", "n_steps", "raster"))
def _run(snet: ShardedNetwork, local, state, *, mesh, n_steps: int, raster: bool):
    """The compiled sharded run (cached by jit on the network's structure and the mesh)."""
    axis = mesh.axis_names[0]
    specs = state_specs(state, axis)
    local_specs = jax.tree.map(lambda x: P(axis), local)
    net_specs = jax.tree.map(lambda x: P(), snet)
    names = list(snet.net.populations)

    def body_all(snet, local, st):
        def body(s, _):
            s, spk = _local_step(snet, local, s, axis)
            counts = {k: jax.lax.psum(jnp.sum(spk[k]), axis) for k in names}
            return s, (counts, {k: spk[k] > 0 for k in names} if raster else None)
        return jax.lax.scan(body, st, None, length=n_steps)

    rec_specs = ({k: P() for k in names}, {k: P(None, axis) for k in names} if raster else None)
    f = jax.shard_map(body_all, mesh=mesh, in_specs=(net_specs, local_specs, specs),
                      out_specs=(specs, rec_specs), check_vma=False)
    return f(snet, local, state)


def exchange_bytes_per_step(snet: ShardedNetwork, spikes_per_step: dict | None = None) -> dict:
    """Bytes each device receives per step from the spike exchange, per population and in
    total: bitmask n (D-1)/(8 D); indices 4 cap (D-1) (the fixed buffer), with the useful
    part 4 x spikes (D-1)/D when ``spikes_per_step`` (population -> mean count) is given."""
    D = snet.n_shards
    out = {}
    for name, pop in snet.net.populations.items():
        if D == 1:
            out[name] = 0.0
        elif snet.exchange == "bitmask":
            out[name] = pop.n / 8 * (D - 1) / D
        else:
            out[name] = 4.0 * min(snet.cap, pop.n // D) * (D - 1)
        if spikes_per_step is not None and D > 1:
            out[name + ":useful_indices"] = 4.0 * spikes_per_step.get(name, 0.0) * (D - 1) / D
    out["total"] = sum(v for k, v in out.items() if ":" not in k)
    return out
