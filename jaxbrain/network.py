"""A brain as a pytree of named populations and projections, advanced by one pure step.

:class:`Network` holds the static structure and the parameters; :class:`NetworkState` holds
everything that changes (neuron states, delay rings, the step counter). ``step(net, state,
i_ext)`` advances all populations together from the previous step's spikes:

1. each population reads the synaptic input due now from its rings (excitatory and
   inhibitory), adds its external Poisson drive, and advances its neuron model;
2. each projection delivers its source's new spikes into its target's ring, ``delay`` steps
   ahead (one step minimum, as in NEST).

``Network`` is a pytree: ``jax.jit`` / ``vmap`` over a stack of networks (e.g. seeds or
parameters) and ``grad`` work as for any JAX function.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from . import inputs, neurons, propagation
from .delays import DelayRing, ring_clear, ring_init, ring_now, ring_read

__all__ = ["PoissonDrive", "Population", "Projection", "Network", "NetworkState", "network",
           "init_state", "step", "RECEPTORS"]

RECEPTORS = ("ex", "in", "dale")
DRIVE_STREAM = 1_000_003  # RNG stream of the Poisson drives (shared by every form of a network)


@struct.dataclass
class PoissonDrive:
    """External drive: ``n_sources`` independent Poisson sources at ``rate_hz`` each, every
    spike adding ``weight`` (nS / pA / mV, as the synapse) to the ``receptor`` channel."""
    rate_hz: float
    n_sources: int = struct.field(pytree_node=False, default=1)
    weight: float = 1.0
    receptor: str = struct.field(pytree_node=False, default="ex")


@struct.dataclass
class Population:
    """``n`` neurons of one model. ``i_ext``: DC current (pA), scalar or [n]."""
    n: int = struct.field(pytree_node=False)
    model: neurons.NeuronModel = struct.field(pytree_node=False)
    params: Any
    i_ext: Any = 0.0
    drive: PoissonDrive | None = None
    conductance: bool = struct.field(pytree_node=False, default=False)


@struct.dataclass
class Projection:
    """Synapses from population ``pre`` to ``post`` onto ``receptor`` ('ex', 'in', or
    'dale': positive weights excitatory, negative inhibitory)."""
    pre: str = struct.field(pytree_node=False)
    post: str = struct.field(pytree_node=False)
    synapses: propagation.Synapses
    receptor: str = struct.field(pytree_node=False, default="ex")

    @property
    def channels(self) -> tuple[str, ...]:
        """The target's input channels this projection writes to."""
        return ("ex", "in") if self.receptor == "dale" else (self.receptor,)


@struct.dataclass
class Network:
    populations: dict[str, Population]
    projections: dict[str, Projection]
    dt: float = struct.field(pytree_node=False, default=0.1)
    seed: Any = 0

    def pop_state(self, state: "NetworkState", name: str):
        """The neuron state of population ``name``."""
        return state.neurons[name]

    def ring_keys(self) -> list[str]:
        keys = []
        for proj in self.projections.values():
            keys += [f"{proj.post}:{r}" for r in proj.channels]
        for name, pop in self.populations.items():
            if pop.drive is not None:
                keys.append(f"{name}:{pop.drive.receptor}")
        return sorted(set(keys))


class NetworkState(NamedTuple):
    """neurons: {population: neuron state}; rings: {"post:receptor": DelayRing}; t: step."""
    neurons: dict[str, Any]
    rings: dict[str, DelayRing]
    t: jax.Array


def network(populations: dict[str, Population], projections: dict[str, Projection],
            dt: float = 0.1, seed: int = 0) -> Network:
    """Assemble and check a network (names, sizes, receptors) before anything is compiled."""
    if dt <= 0:
        raise ValueError(f"dt={dt!r} ms; allowed: > 0")
    for name, proj in projections.items():
        for end in (proj.pre, proj.post):
            if end not in populations:
                raise ValueError(f"projection '{name}' refers to population '{end}'; "
                                 f"allowed: {sorted(populations)}")
        if proj.receptor not in RECEPTORS:
            raise ValueError(f"projection '{name}' receptor {proj.receptor!r}; allowed: {list(RECEPTORS)}")
        c = proj.synapses.conn
        if (c.n_pre, c.n_post) != (populations[proj.pre].n, populations[proj.post].n):
            raise ValueError(f"projection '{name}' connects {c.n_pre} -> {c.n_post} neurons but "
                             f"'{proj.pre}' has {populations[proj.pre].n} and '{proj.post}' has "
                             f"{populations[proj.post].n}")
        if proj.synapses.dt != dt:
            raise ValueError(f"projection '{name}' was built with dt={proj.synapses.dt}, network dt={dt}")
    for name, pop in populations.items():
        if pop.drive is not None and pop.drive.receptor not in ("ex", "in"):
            raise ValueError(f"population '{name}' drive receptor {pop.drive.receptor!r}; allowed: ex, in")
    return Network(dict(populations), dict(projections), dt, jnp.asarray(seed, jnp.int32))


def init_state(net: Network, v0: dict[str, Any] | None = None, g0: dict[str, Any] | None = None) -> NetworkState:
    """Neurons at rest (or ``v0[pop]`` mV, ``g0[pop] = (g_ex, g_in)``), empty rings, t = 0."""
    v0, g0 = v0 or {}, g0 or {}
    states = {}
    for name, pop in net.populations.items():
        s = pop.model.init(pop.params, pop.n, v0.get(name))
        if name in g0:
            s = s._replace(g_ex=jnp.asarray(g0[name][0], jnp.float32), g_in=jnp.asarray(g0[name][1], jnp.float32))
        states[name] = s
    max_delay = {}
    for proj in net.projections.values():
        for r in proj.channels:
            key = f"{proj.post}:{r}"
            max_delay[key] = max(max_delay.get(key, 1), proj.synapses.max_delay)
    rings = {k: ring_init(net.populations[k.split(":")[0]].n, max_delay.get(k, 1)) for k in net.ring_keys()}
    return NetworkState(states, rings, jnp.asarray(0, jnp.int32))


def _pop_index(net: Network, name: str) -> int:
    return sorted(net.populations).index(name)


def step(net: Network, state: NetworkState, i_ext: dict[str, Any] | None = None):
    """Advance the network one step of ``net.dt`` ms.

    Arguments:
        net: the network.
        state: its state at step ``t``.
        i_ext: optional extra external current per population (pA), added to ``pop.i_ext``.
    Returns:
        ``(state at t + 1, {population: spikes float32 [n]})``.
    """
    t = state.t
    rings = dict(state.rings)
    new_neurons, spikes = {}, {}
    for name, pop in net.populations.items():
        syn = read_synaptic_input(rings, name, pop.n, t, clear=False)
        if pop.drive is not None:
            n_idx = jnp.arange(pop.n, dtype=jnp.int32)
            lam = pop.drive.rate_hz * pop.drive.n_sources * net.dt * 1e-3
            counts = inputs.poisson_counts(lam, net.seed, DRIVE_STREAM, _pop_index(net, name), t, n_idx)
            syn[pop.drive.receptor] = syn[pop.drive.receptor] + counts * pop.drive.weight
        current = pop.i_ext if i_ext is None or name not in i_ext else pop.i_ext + i_ext[name]
        new_neurons[name], spikes[name] = pop.model.step(pop.params, state.neurons[name], syn["ex"],
                                                         syn["in"], current, net.dt)
    # each ring's slot t was read above; the first delivery into it clears it (in place, in
    # the GPU kernel), and rings nobody delivers to this step are cleared at the end
    uncleared = set(rings)
    active = {}  # spike compaction shared by the event-driven projections of a population
    for name, proj in net.projections.items():
        syn = proj.synapses
        if proj.receptor == "dale":
            rings = _deliver_dale(net, proj, spikes[proj.pre], rings, t, uncleared)
            continue
        idx, kind = None, propagation.compaction(syn)
        if kind is not None:
            if (proj.pre, kind) not in active:
                active[(proj.pre, kind)] = propagation.compact(syn, spikes[proj.pre])
            idx = active[(proj.pre, kind)]
        key = f"{proj.post}:{proj.receptor}"
        rings[key] = propagation.deliver(syn, spikes[proj.pre], rings[key], t, active=idx,
                                         clear_now=_first(uncleared, key))
    for key in sorted(uncleared):
        rings[key] = ring_clear(rings[key], t)
    return NetworkState(new_neurons, rings, t + 1), spikes


def _first(uncleared: set, key: str) -> bool:
    """True the first time ``key`` is delivered to this step (it is then cleared there)."""
    if key in uncleared:
        uncleared.discard(key)
        return True
    return False


def read_synaptic_input(rings: dict, name: str, n: int, t, clear: bool = True) -> dict:
    """The input due at step ``t`` for population ``name`` from its rings: {"ex": [n], "in":
    [n]}, zeros where it has no ring. ``clear``: also clear those slots (updating the dict
    ``rings``); otherwise the caller clears them after reading."""
    syn = {}
    for r in ("ex", "in"):
        key = f"{name}:{r}"
        if key in rings:
            if clear:
                syn[r], rings[key] = ring_read(rings[key], t)
            else:
                syn[r] = ring_now(rings[key], t)
        else:
            syn[r] = jnp.zeros((n,), jnp.float32)
    return syn


def _deliver_dale(net, proj, s, rings, t, uncleared: set):
    """Dale projection: excitatory sources into 'ex', inhibitory into 'in' (as conductance
    magnitudes for conductance-based targets, signed currents otherwise)."""
    conn = proj.synapses.conn
    is_exc = conn.sign(jnp.arange(conn.n_pre)) > 0  # the Dale rule of the connectivity
    post_cond = net.populations[proj.post].conductance
    ke, ki = f"{proj.post}:ex", f"{proj.post}:in"
    rings[ke] = propagation.deliver(proj.synapses, jnp.where(is_exc, s, 0.0), rings[ke], t,
                                    clear_now=_first(uncleared, ke))
    rings[ki] = propagation.deliver(proj.synapses, jnp.where(is_exc, 0.0, s), rings[ki], t,
                                    scale=-1.0 if post_cond else 1.0, clear_now=_first(uncleared, ki))
    return rings
