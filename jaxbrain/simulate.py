"""Running a network in time: ``simulate`` on ``lax.scan`` with bounded-memory monitors,
and ``run``, a chunked driver with progress, NaN/Inf checks, checkpoints and resume.

Monitors never store every spike: per step they keep the population spike count (the
population rate), the spikes of a chosen subset of neurons (a raster), and the state
variables of a few neurons (traces); per neuron they accumulate the spike count (rates).
A 1M-neuron run of 10,000 steps with 1,000 recorded neurons keeps ~10 MB of monitors.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from . import fused
from . import network as nw

__all__ = ["simulate", "Monitor", "Recording", "run", "SimulationError", "rates_hz"]


class SimulationError(RuntimeError):
    """A population's state became NaN or Inf."""


def simulate(step: Callable, state: Any, inputs: Any = None, n_steps: int | None = None,
             record: Callable | None = None, unroll: int = 1):
    """Run ``step(state, x) -> (state, out)`` for ``n_steps`` on ``lax.scan``.

    Arguments:
        step: a pure step function.
        state: initial state pytree.
        inputs: pytree with a leading time axis (or None; then ``n_steps`` is required).
        record: ``record(state, out) -> pytree`` kept for every step (default: ``out``).
    Returns:
        ``(final state, stacked records)``.
    """
    record = record or (lambda s, o: o)

    def body(s, x):
        s, out = step(s, x)
        return s, record(s, out)

    return jax.lax.scan(body, state, inputs, length=n_steps, unroll=unroll)


@dataclasses.dataclass(frozen=True)
class Monitor:
    """What to record. raster: {population: number of neurons (the first ones)};
    traces: {population: (state field, number of neurons)}. Hashable (a static jit argument)."""
    raster: Any = ()
    traces: Any = ()

    def __post_init__(self):
        for name in ("raster", "traces"):
            v = getattr(self, name)
            items = v.items() if isinstance(v, dict) else v
            object.__setattr__(self, name, tuple((k, tuple(x) if isinstance(x, (list, tuple)) else x)
                                                 for k, x in sorted(items)))

    def record(self, net: nw.Network | fused.FusedNetwork, state, spikes: dict) -> dict:
        if isinstance(net, fused.FusedNetwork):
            return self._split(net, self._record_merged(net, state, _merged_spikes(net, spikes)))
        out = {"pop_spikes": {k: s.sum() for k, s in spikes.items()},
               "finite": {k: jnp.all(jnp.isfinite(net.pop_state(state, k).v)) for k in spikes}}
        if self.raster:
            out["raster"] = {k: spikes[k][:n] > 0 for k, n in self.raster}
        if self.traces:
            out["traces"] = {k: getattr(net.pop_state(state, k), f)[:n] for k, (f, n) in self.traces}
        return out

    # Merged network: a handful of operations per step whatever the number of populations
    # (per-population reductions and slices would each be a kernel on a GPU). The records
    # are merged arrays ([P] totals and flags, [sum m] raster, one [sum m] array per traced
    # field) with a trailing population axis, split per population by ``_split``.

    def _record_merged(self, fnet: fused.FusedNetwork, state, spikes: jax.Array) -> dict:
        # one column reduction of [spike, v is not finite] per neuron and population (a sum of
        # 0/1 values is exact, and zero only if every term is). The population mask is
        # computed inside the reduction from the neuron index: no [N, P] array in memory, and
        # no scatter (a segment_sum into P bins serialises N atomics on a GPU)
        starts = np.array(list(fnet.offsets.values()))
        ends = starts + np.array([p.n for p in fnet.populations.values()])
        idx = jnp.arange(spikes.shape[0])[:, None]
        in_pop = (idx >= starts[None, :]) & (idx < ends[None, :])  # [N, P]
        bad = (~jnp.isfinite(state.neurons.v)).astype(spikes.dtype)
        x = jnp.stack([spikes, bad], axis=1)  # [N, 2]
        sums = jnp.sum(jnp.where(in_pop[:, :, None], x[:, None, :], 0), axis=0)  # [P, 2]
        out = {"pop_spikes": sums[:, 0], "finite": sums[:, 1] == 0}
        if self.raster:
            out["raster"] = spikes[_gather_index(fnet, _clip(fnet, self.raster))] > 0
        if self.traces:
            out["traces"] = {f: getattr(state.neurons, f)[_gather_index(fnet, _clip(fnet, items))]
                             for f, items in _traces_by_field(self.traces).items()}
        return out

    def _split(self, fnet: fused.FusedNetwork, rec: dict) -> dict:
        """Per-population dicts of merged records (population / neuron axis last)."""
        names = list(fnet.populations)
        out = {"pop_spikes": {k: rec["pop_spikes"][..., i] for i, k in enumerate(names)},
               "finite": {k: rec["finite"][..., i] for i, k in enumerate(names)}}
        if self.raster:
            out["raster"] = _split_last(rec["raster"], _clip(fnet, self.raster))
        if self.traces:
            out["traces"] = {}
            for f, items in _traces_by_field(self.traces).items():
                out["traces"].update(_split_last(rec["traces"][f], _clip(fnet, items)))
        return out


def _gather_index(fnet: fused.FusedNetwork, items) -> np.ndarray:
    """int32 [sum m]: merged indices of the first m neurons of each (population, m)."""
    return np.concatenate([fnet.offsets[k] + np.arange(m, dtype=np.int32) for k, m in items]
                          + [np.zeros((0,), np.int32)])


def _clip(fnet: fused.FusedNetwork, items) -> list:
    """(population, m) with m at most the population size (as the slice ``[:m]``)."""
    return [(k, min(m, fnet.populations[k].n)) for k, m in items]


def _traces_by_field(traces) -> dict:
    by: dict = {}
    for k, (f, n) in traces:
        by.setdefault(f, []).append((k, n))
    return by


def _split_last(x, items) -> dict:
    out, o = {}, 0
    for k, m in items:
        out[k], o = x[..., o:o + m], o + m
    return out


def _merged_spikes(fnet: fused.FusedNetwork, spikes: dict) -> jax.Array:
    """The [N] spike vector of ``fused.step``'s per-population slices (XLA folds the
    concatenation of contiguous slices back into the step's vector)."""
    return jnp.concatenate([spikes[k] for k in fnet.populations])


@dataclasses.dataclass
class Recording:
    """Monitors of a run, as numpy arrays. pop_spikes: {pop: [T]}; raster: {pop: [T, m]} bool;
    traces: {pop: [T, m]}; counts: {pop: [n]} spikes per neuron; dt in ms."""
    dt: float
    pop_spikes: dict
    counts: dict
    raster: dict = dataclasses.field(default_factory=dict)
    traces: dict = dataclasses.field(default_factory=dict)

    @property
    def n_steps(self) -> int:
        return len(next(iter(self.pop_spikes.values())))

    def rate_hz(self, pop: str, skip_steps: int = 0) -> float:
        """Mean firing rate of a population (Hz), optionally after a warm-up."""
        n = len(self.counts[pop])
        s = self.pop_spikes[pop][skip_steps:]
        return float(s.sum() / n / (len(s) * self.dt * 1e-3))


def rates_hz(rec: Recording, skip_steps: int = 0) -> dict:
    return {k: rec.rate_hz(k, skip_steps) for k in rec.pop_spikes}


@functools.partial(jax.jit, static_argnames=("monitor", "n_steps", "unroll"))
def _chunk(net, state, counts, monitor: Monitor, n_steps: int, unroll: int):
    """``n_steps`` network steps on lax.scan with monitors (one compiled program per shape)."""
    if isinstance(net, fused.FusedNetwork):
        return _chunk_fused(net, state, counts, monitor, n_steps, unroll)

    def body(carry, _):
        s, c = carry
        s, spikes = nw.step(net, s)
        c = {k: c[k] + spikes[k].astype(c[k].dtype) for k in c}
        return (s, c), monitor.record(net, s, spikes)
    (state, counts), rec = jax.lax.scan(body, (state, counts), None, length=n_steps, unroll=unroll)
    return state, counts, rec


def _chunk_fused(fnet: fused.FusedNetwork, state, counts, monitor: Monitor, n_steps: int, unroll: int):
    """``_chunk`` of a merged network: spike counts as one [N] vector in the carry, merged
    records per step, split per population after the scan."""
    dtypes = {k: counts[k].dtype for k in fnet.populations}
    c0 = jnp.concatenate([counts[k] for k in fnet.populations])

    def body(carry, _):
        s, c = carry
        s, spikes = fused.step(fnet, s)
        merged = _merged_spikes(fnet, spikes)
        return (s, c + merged.astype(c.dtype)), monitor._record_merged(fnet, s, merged)
    (state, c), rec = jax.lax.scan(body, (state, c0), None, length=n_steps, unroll=unroll)
    counts = {k: c[o:o + fnet.populations[k].n].astype(dtypes[k]) for k, o in fnet.offsets.items()}
    return state, counts, monitor._split(fnet, rec)


def run(net: nw.Network | fused.FusedNetwork, state, n_steps: int, monitor: Monitor = Monitor(),
        chunk_steps: int = 1000, checkpoint=None, checkpoint_every: int = 0,
        progress: bool = True, unroll: int = 1) -> tuple[nw.NetworkState, Recording]:
    """Run ``n_steps`` in jitted chunks, checking for NaN/Inf after each chunk.

    Arguments:
        checkpoint: a :class:`jaxbrain.checkpoint.Checkpointer`; if it holds a checkpoint,
            the run resumes from the latest one (and gives bit-identical results on CPU).
        checkpoint_every: save every this many steps (a multiple of ``chunk_steps``; 0: only
            at the end).
    Raises:
        SimulationError: naming the population and the step where the state became non-finite.
    """
    if n_steps < 0:
        raise ValueError(f"n_steps={n_steps}; allowed: >= 0")
    chunk_steps = max(1, min(chunk_steps, n_steps or 1))
    counts = {k: jnp.zeros((p.n,), jnp.int32) for k, p in net.populations.items()}
    records: list = []
    done = 0
    if checkpoint is not None and checkpoint.latest_step() is not None:
        saved = checkpoint.restore({"state": state, "counts": counts, "records": _empty_records(net, monitor)})
        state, counts = saved["state"], saved["counts"]
        records = [saved["records"]]
        done = int(checkpoint.latest_step())
    bar = _progress(n_steps, done, progress)
    while done < n_steps:
        m = min(chunk_steps, n_steps - done)
        state, counts, rec = _chunk(net, state, counts, monitor, m, unroll)
        rec = jax.device_get(rec)
        for pop, ok in rec["finite"].items():
            bad = np.nonzero(~np.asarray(ok))[0]
            if bad.size:
                raise SimulationError(f"population '{pop}' has NaN/Inf membrane potential at step "
                                      f"{done + int(bad[0])} (t = {(done + int(bad[0])) * net.dt:.1f} ms)")
        records.append(rec)
        done += m
        if bar is not None:
            bar.update(m)
        if checkpoint is not None and (done == n_steps or (checkpoint_every and done % checkpoint_every == 0)):
            checkpoint.save(done, {"state": state, "counts": counts, "records": _concat(records)})
    if bar is not None:
        bar.close()
    allrec = _concat(records) if records else _empty_records(net, monitor)
    return state, Recording(dt=net.dt, pop_spikes=allrec["pop_spikes"], counts=jax.device_get(counts),
                            raster=allrec.get("raster", {}), traces=allrec.get("traces", {}))


def _empty_records(net, monitor):
    rec = {"pop_spikes": {k: np.zeros((0,), np.float32) for k in net.populations},
           "finite": {k: np.zeros((0,), bool) for k in net.populations}}
    if monitor.raster:
        rec["raster"] = {k: np.zeros((0, n), bool) for k, n in monitor.raster}
    if monitor.traces:
        rec["traces"] = {k: np.zeros((0, n), np.float32) for k, (f, n) in monitor.traces}
    return rec


def _concat(records):
    return jax.tree.map(lambda *xs: np.concatenate([np.asarray(x) for x in xs], axis=0), *records)


def _progress(total, initial, enabled):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        return None
    return tqdm(total=total, initial=initial, unit="step", desc="simulate", leave=False)
