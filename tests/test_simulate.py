"""Simulation: vmap over networks, checkpoint/resume bit for bit, NaN detection, monitors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain import connectivity as cx
from jaxbrain import network as nw
from jaxbrain import neurons as nm
from jaxbrain import propagation as pg
from jaxbrain import simulate as sim
from jaxbrain.checkpoint import Checkpointer


def _small_net(seed=0, n=200, rate=20.0, impl="event"):
    p = nm.LIFParams()
    conn = cx.fixed_prob(n, n, 0.1, seed=seed, weight=cx.WeightLaw("normal", 20.0, 5.0, lo=0.0),
                         delay=cx.DelayLaw("normal", 1.0, 0.3))
    pops = {"A": nw.Population(n, nm.lif_current, p, drive=nw.PoissonDrive(rate, 100, 30.0))}
    projs = {"AA": nw.Projection("A", "A", pg.build(conn, impl, rate_hz=rate))}
    return nw.network(pops, projs, seed=seed)


def _scan(net, state, n):
    def body(s, _):
        s, sp = nw.step(net, s)
        return s, sp["A"]
    return jax.lax.scan(body, state, None, length=n)


def test_vmap_over_seeds_equals_one_by_one():
    # procedural synapses: networks that differ only in seed stack into one pytree
    nets = [_small_net(seed, impl="procedural") for seed in (0, 1, 2)]
    states = [nw.init_state(n) for n in nets]
    stack = lambda xs: jax.tree.map(lambda *a: jnp.stack(a), *xs)
    f = jax.jit(lambda net, s: _scan(net, s, 200))
    _, batched = jax.jit(jax.vmap(lambda net, s: _scan(net, s, 200)))(stack(nets), stack(states))
    for i in range(3):
        _, single = f(nets[i], states[i])
        np.testing.assert_array_equal(np.asarray(batched[i]), np.asarray(single))
    assert np.asarray(batched).sum() > 0


def test_checkpoint_resume_is_bit_exact(tmp_path):
    net = _small_net(0)
    mon = sim.Monitor(raster={"A": 50}, traces={"A": ("v", 3)})
    _, full = sim.run(net, nw.init_state(net), 600, mon, chunk_steps=200, progress=False)
    ck = Checkpointer(tmp_path / "ck", max_to_keep=2)
    sim.run(net, nw.init_state(net), 400, mon, chunk_steps=200, checkpoint=ck, progress=False)
    assert ck.latest_step() == 400
    _, resumed = sim.run(net, nw.init_state(net), 600, mon, chunk_steps=200, checkpoint=ck, progress=False)
    for a, b in ((full.pop_spikes, resumed.pop_spikes), (full.raster, resumed.raster),
                 (full.traces, resumed.traces), (full.counts, resumed.counts)):
        for k in a:
            np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]))
    assert sorted(ck.all_steps()) == [400, 600]


def test_nan_stops_run_with_population_and_step():
    p = nm.LIFParams()
    pops = {"good": nw.Population(5, nm.lif_current, p),
            "bad": nw.Population(5, nm.lif_current, p.replace(tau_m=-1e-9))}
    net = nw.network(pops, {})
    with pytest.raises(sim.SimulationError, match=r"population 'bad'.*step"):
        sim.run(net, nw.init_state(net), 50, chunk_steps=50, progress=False)


def test_monitors_have_bounded_size_and_rates_are_right():
    net = _small_net(0, n=300)
    _, rec = sim.run(net, nw.init_state(net), 500, sim.Monitor(raster={"A": 20}), chunk_steps=250,
                     progress=False)
    assert rec.raster["A"].shape == (500, 20) and rec.pop_spikes["A"].shape == (500,)
    assert rec.counts["A"].sum() == rec.pop_spikes["A"].sum()
    rate = rec.rate_hz("A")
    assert rate == pytest.approx(rec.counts["A"].mean() / 0.05, rel=1e-5) and rate > 0


def test_network_checks_names_and_sizes():
    p = nm.LIFParams()
    conn = cx.fixed_prob(10, 10, 0.5)
    with pytest.raises(ValueError, match="population 'B'"):
        nw.network({"A": nw.Population(10, nm.lif_current, p)},
                   {"AB": nw.Projection("A", "B", pg.build(conn, "event"))})
    with pytest.raises(ValueError, match="has 20"):
        nw.network({"A": nw.Population(10, nm.lif_current, p), "B": nw.Population(20, nm.lif_current, p)},
                   {"AB": nw.Projection("A", "B", pg.build(conn, "event"))})


def test_impls_give_identical_network_dynamics():
    runs = {}
    for impl in ("event", "procedural", "segment_sum"):
        net = _small_net(3, impl=impl)
        _, runs[impl] = jax.jit(lambda s: _scan(net, s, 300))(nw.init_state(net))
    np.testing.assert_array_equal(np.asarray(runs["event"]), np.asarray(runs["procedural"]))
    np.testing.assert_array_equal(np.asarray(runs["event"]), np.asarray(runs["segment_sum"]))
