"""A whole network as one population and one projection: the GPU-fast form of a Network.

On a GPU every XLA operation of a step is a kernel launch of a few microseconds, so a
network of P populations and Q projections pays roughly 3P + Q launches per step whatever
its size (the Potjans-Diesmann microcircuit: 8 populations, 55 projections). :func:`fuse`
builds the same network in "merged" form (as GeNN merges groups):

* all populations, which must share one neuron model, become one vector of N neurons with
  per-neuron parameter arrays (and per-neuron DC current and Poisson drive);
* all projections become one source-major explicit table (:class:`~jaxbrain.connectivity.Ell`):
  the row of neuron i holds every out-synapse of i, its target written as a column of one
  delay ring ``[L, 2N]`` whose first N columns are the excitatory input of every neuron and
  the last N the inhibitory input;
* so a step is one neuron update, one ring read and clear, one spike compaction and one
  delivery (:mod:`jaxbrain.event_kernel` on a GPU, the XLA event path elsewhere).

The synapses are exactly those of the original network (materialised from the same
descriptions), the Poisson drives draw the same numbers, and ``fused.step`` returns the
spikes per population, so :func:`jaxbrain.simulate.run` and its monitors work unchanged;
only the order of floating-point additions differs. Supported projections: receptors 'ex'
and 'in' with any connectivity kind that :func:`~jaxbrain.connectivity.materialize` handles.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from . import connectivity as cx
from . import inputs, propagation
from . import network as nw
from .delays import DelayRing, ring_now

__all__ = ["FusedNetwork", "FusedState", "fuse", "fuse_state", "step"]



def _per_neuron(values, sizes) -> jax.Array:
    """float32 [sum(sizes)]: each value (scalar or [n]) broadcast over its population."""
    return jnp.concatenate([jnp.broadcast_to(jnp.asarray(v, jnp.float32), (n,)) for v, n in zip(values, sizes)])


@struct.dataclass
class FusedNetwork:
    """The merged network. ``populations``: the original ones (names, sizes, for monitors);
    ``params``: neuron parameters with [N] arrays; ``synapses``: one event projection N -> 2N
    (ex columns then in columns); ``offsets``: first neuron of each population."""
    populations: dict[str, nw.Population] = struct.field(pytree_node=False)
    offsets: dict[str, int] = struct.field(pytree_node=False)
    model: Any = struct.field(pytree_node=False)
    drive_k_max: int = struct.field(pytree_node=False)
    params: Any
    i_ext: Any
    drive_lam: Any
    drive_weight_ex: Any
    drive_weight_in: Any
    synapses: propagation.Synapses
    dt: float = struct.field(pytree_node=False, default=0.1)
    seed: Any = 0

    @property
    def n(self) -> int:
        return sum(p.n for p in self.populations.values())

    @property
    def has_drive(self) -> bool:
        """Whether any population has a Poisson drive."""
        return any(p.drive is not None for p in self.populations.values())

    def pop_state(self, state: "FusedState", name: str):
        """The neuron state of one population (a view of slices)."""
        o, n = self.offsets[name], self.populations[name].n
        return jax.tree.map(lambda a: a[o:o + n], state.neurons)


class FusedState(NamedTuple):
    """neurons: the state of all N neurons; ring: [L, 2N] pending input; t: step."""
    neurons: Any
    ring: DelayRing
    t: jax.Array


def fuse(net: nw.Network, rate_hz: float = 10.0) -> FusedNetwork:
    """Merge ``net`` (see module docstring). ``rate_hz``: expected rate, which sizes the CPU
    event path's first chunk (the GPU kernel has no capacity)."""
    pops = net.populations
    models = {p.model for p in pops.values()}
    if len(models) != 1:
        raise ValueError(f"fuse needs one neuron model for all populations; got {len(models)} "
                         f"({sorted(pops)})")
    offsets, o = {}, 0
    for name, p in pops.items():
        offsets[name], o = o, o + p.n
    n = o
    sizes = [p.n for p in pops.values()]
    per_neuron = lambda f: _per_neuron([f(p) for p in pops.values()], sizes)
    first = next(iter(pops.values()))
    params = jax.tree.map(lambda *leaves: _per_neuron(leaves, sizes), *[p.params for p in pops.values()])
    lam = per_neuron(lambda p: 0.0 if p.drive is None else p.drive.rate_hz * p.drive.n_sources * net.dt * 1e-3)
    lmax = float(lam.max())
    w_ex = per_neuron(lambda p: p.drive.weight if p.drive is not None and p.drive.receptor == "ex" else 0.0)
    w_in = per_neuron(lambda p: p.drive.weight if p.drive is not None and p.drive.receptor == "in" else 0.0)
    i_ext = per_neuron(lambda p: p.i_ext)

    rows: dict[str, list] = {name: [] for name in pops}
    for pname, proj in net.projections.items():
        if proj.receptor not in ("ex", "in"):
            raise ValueError(f"fuse supports receptors 'ex' and 'in'; projection '{pname}' has "
                             f"{proj.receptor!r}")
        syn = proj.synapses
        ell = syn.ell if syn.ell is not None else cx.materialize(syn.conn, net.dt)
        tg = np.asarray(ell.targets)
        col = offsets[proj.post] + tg + (n if proj.receptor == "in" else 0)
        rows[proj.pre].append((np.where(tg < syn.conn.n_post, col, 2 * n), np.asarray(ell.weights),
                               np.asarray(ell.delays)))
    width = max([sum(t.shape[1] for t, _, _ in r) for r in rows.values()] + [1])
    targets = np.full((n, width), 2 * n, np.int32)
    weights = np.zeros((n, width), np.float32)
    delays = np.ones((n, width), np.int32)
    for name, r in rows.items():
        c = 0
        for t, w, d in r:
            sl = (slice(offsets[name], offsets[name] + pops[name].n), slice(c, c + t.shape[1]))
            targets[sl], weights[sl], delays[sl] = t, w, d
            c += t.shape[1]
    valid = targets < 2 * n
    max_delay = int(delays[valid].max()) if valid.any() else 1
    if valid.any() and delays[valid].min() < max_delay:  # per-synapse delays, read by the kernel
        delay = cx.DelayLaw("normal", max_delay * net.dt / 2, 1.0, max_ms=max_delay * net.dt)
    else:
        delay = cx.DelayLaw("constant", max_delay * net.dt)
    conn = cx.Connectivity(jnp.asarray(0, jnp.int32), "explicit", n, 2 * n, k=int(valid.sum()), delay=delay)
    ell = cx.Ell(*jax.device_put((targets, weights, delays)), 2 * n)  # no compile per shape
    synapses = propagation.from_ell(conn, ell, "event", net.dt, rate_hz)
    return FusedNetwork(dict(pops), offsets, first.model, int(lmax + 10 * lmax ** 0.5 + 10), params, i_ext,
                        lam, w_ex, w_in, synapses, net.dt, net.seed)


def fuse_state(fnet: FusedNetwork, state: nw.NetworkState) -> FusedState:
    """The fused form of a (fresh) network state: neuron states concatenated, empty ring."""
    if int(state.t) != 0 or any(float(jnp.abs(r.buf).sum()) for r in state.rings.values()):
        raise ValueError("fuse_state converts initial states (t = 0, empty rings) only")
    neurons = jax.tree.map(lambda *xs: jnp.concatenate(xs), *[state.neurons[k] for k in fnet.populations])
    ring = DelayRing(jnp.zeros((fnet.synapses.max_delay + 1, 2 * fnet.n), jnp.float32))
    return FusedState(neurons, ring, state.t)


def _pop_index(fnet: FusedNetwork) -> tuple[np.ndarray, np.ndarray]:
    pop = np.concatenate([np.full(p.n, nw._pop_index(fnet, k), np.int32) for k, p in fnet.populations.items()])
    local = np.concatenate([np.arange(p.n, dtype=np.int32) for p in fnet.populations.values()])
    return pop, local


def step(fnet: FusedNetwork, state: FusedState, i_ext: dict[str, Any] | None = None):
    """One step of the merged network: ``(state at t + 1, {population: spikes [n]})``."""
    t, n = state.t, fnet.n
    now = ring_now(state.ring, t)
    syn_ex, syn_in = now[:n], now[n:]
    if fnet.has_drive:
        pop, local = _pop_index(fnet)
        counts = inputs.poisson_counts(fnet.drive_lam, fnet.seed, nw.DRIVE_STREAM, pop, t, local,
                                       k_max=fnet.drive_k_max)
        syn_ex = syn_ex + counts * fnet.drive_weight_ex
        syn_in = syn_in + counts * fnet.drive_weight_in
    current = fnet.i_ext
    if i_ext:
        current = current + _per_neuron([i_ext.get(k, 0.0) for k in fnet.populations],
                                        [p.n for p in fnet.populations.values()])
    neurons, spikes = fnet.model.step(fnet.params, state.neurons, syn_ex, syn_in, current, fnet.dt)
    ring = propagation.deliver(fnet.synapses, spikes, state.ring, t, clear_now=True)
    out = {k: spikes[o:o + fnet.populations[k].n] for k, o in fnet.offsets.items()}
    return FusedState(neurons, ring, t + 1), out
