"""The merged network (jaxbrain.fused) simulates the same network as the original."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain import fused
from jaxbrain import simulate as sim
from jaxbrain.models import brette2007, potjans2014
from jaxbrain.models.coba_scaled import coba_scaled


def _same_spikes(net, state, steps, min_spikes):
    fnet = fused.fuse(net)
    fstate = fused.fuse_state(fnet, state)
    _, rec = sim.run(net, state, steps, sim.Monitor(raster={k: p.n for k, p in net.populations.items()}),
                     chunk_steps=steps, progress=False)
    _, frec = sim.run(fnet, fstate, steps, sim.Monitor(raster={k: p.n for k, p in net.populations.items()}),
                      chunk_steps=steps, progress=False)
    total = 0
    for k in net.populations:
        np.testing.assert_array_equal(frec.raster[k], rec.raster[k], err_msg=f"population {k}")
        total += int(rec.raster[k].sum())
    assert total >= min_spikes
    return fnet


def test_fused_coba_scaled_spikes_identical():
    net, state = coba_scaled(0.25, impl="event")
    fnet = _same_spikes(net, state, 200, 300)
    assert fnet.synapses.max_delay == 1


def test_fused_brette_coba_with_two_populations_and_conductances():
    net, state = brette2007.coba(n_exc=800, n_inh=200, p=0.05, seed=3)
    _same_spikes(net, state, 200, 30)


@pytest.mark.slow
def test_fused_microcircuit_poisson_drive_and_heterogeneous_delays():
    net, state = potjans2014.microcircuit(0.01, seed=1, impl="event")
    fnet = _same_spikes(net, state, 300, 20)
    assert fnet.synapses.conn.delay.heterogeneous


def test_fuse_refuses_mixed_models_and_used_states():
    from jaxbrain import network as nw, neurons
    net, state = coba_scaled(0.05)
    pops = dict(net.populations)
    pops["I"] = pops["I"].replace(model=neurons.lif_current)
    with pytest.raises(ValueError, match="one neuron model"):
        fused.fuse(net.replace(populations=pops))
    state, _ = sim.run(net, state, 5, progress=False)
    with pytest.raises(ValueError, match="initial states"):
        fused.fuse_state(fused.fuse(net), state)


def _old_record(fnet, monitor, state, spikes):
    """The per-population monitor (the code path before the merged one), as reference."""
    out = {"pop_spikes": {k: s.sum() for k, s in spikes.items()},
           "finite": {k: jnp.all(jnp.isfinite(fnet.pop_state(state, k).v)) for k in spikes},
           "raster": {k: spikes[k][:n] > 0 for k, n in monitor.raster},
           "traces": {k: getattr(fnet.pop_state(state, k), f)[:n] for k, (f, n) in monitor.traces}}
    return out


def test_fused_monitors_equal_per_population_reference(tmp_path):
    from jaxbrain.checkpoint import Checkpointer
    net, state = brette2007.coba(n_exc=800, n_inh=200, p=0.05, seed=3)
    fnet = fused.fuse(net)
    fstate = fused.fuse_state(fnet, state)
    names = list(fnet.populations)
    assert len(names) == 2
    a, b = names
    mon = sim.Monitor(raster={a: 37, b: 10_000}, traces={a: ("v", 3), b: ("g_ex", 5)})  # b: clipped to n
    steps = 120

    def body(carry, _):
        s, c = carry
        s, sp = fused.step(fnet, s)
        return (s, {k: c[k] + sp[k].astype(jnp.int32) for k in c}), _old_record(fnet, mon, s, sp)
    c0 = {k: jnp.zeros((p.n,), jnp.int32) for k, p in fnet.populations.items()}
    (_, counts), ref = jax.jit(lambda s, c: jax.lax.scan(body, (s, c), None, length=steps))(fstate, c0)
    ref, counts = jax.device_get(ref), jax.device_get(counts)

    _, rec = sim.run(fnet, fstate, steps, mon, chunk_steps=50, progress=False)
    ck = Checkpointer(tmp_path / "ck")
    sim.run(fnet, fstate, 100, mon, chunk_steps=50, checkpoint=ck, progress=False)
    _, resumed = sim.run(fnet, fstate, steps, mon, chunk_steps=50, checkpoint=ck, progress=False)
    assert int(np.asarray(ref["pop_spikes"][a]).sum()) > 30
    assert ref["raster"][b].shape == (steps, fnet.populations[b].n)
    for r in (rec, resumed):
        for got, want in ((r.pop_spikes, ref["pop_spikes"]), (r.raster, ref["raster"]),
                          (r.traces, ref["traces"]), (r.counts, counts)):
            assert sorted(got) == sorted(want)
            for k in want:
                g, w = np.asarray(got[k]), np.asarray(want[k])
                assert g.dtype == w.dtype and g.shape == w.shape, (k, g.dtype, w.dtype, g.shape, w.shape)
                np.testing.assert_array_equal(g, w, err_msg=k)
    # Monitor.record on a merged network still answers per population
    s1, sp = fused.step(fnet, fstate)
    one, old = mon.record(fnet, s1, sp), _old_record(fnet, mon, s1, sp)
    assert jax.tree.structure(one) == jax.tree.structure(old)
    for g, w in zip(jax.tree.leaves(one), jax.tree.leaves(old)):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


def test_fused_nan_stops_run_with_population_and_step():
    net, state = brette2007.coba(n_exc=800, n_inh=200, p=0.05, seed=3)
    fnet = fused.fuse(net)
    fstate = fused.fuse_state(fnet, state)
    name = list(fnet.populations)[1]
    o = fnet.offsets[name]
    v = fstate.neurons.v.at[o + 3].set(jnp.nan)
    fstate = fstate._replace(neurons=fstate.neurons.replace(v=v)
                             if hasattr(fstate.neurons, "replace") else fstate.neurons._replace(v=v))
    with pytest.raises(sim.SimulationError, match=f"population '{name}'.*step 0"):
        sim.run(fnet, fstate, 20, chunk_steps=10, progress=False)
