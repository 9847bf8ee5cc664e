"""Sharding along the neuron axis: the sharded run equals the single-device run bit for bit
on 1, 2, 4 and 8 forced CPU devices, for every propagation implementation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain import connectivity as cx
from jaxbrain import network as nw
from jaxbrain import neurons as nm
from jaxbrain import propagation as pg
from jaxbrain import sharding as sh
from jaxbrain.config import from_dict

N_E, N_I, T = 256, 64, 150


def _net(full=True):
    """E/I LIF network: one projection per implementation (pull, procedural, event,
    segment_sum with heterogeneous delays, dense, and a Dale projection); ``full=False``
    keeps pull, procedural (with spikes beyond its cap) and segment_sum (a faster compile)."""
    p = nm.LIFParams()
    w = cx.WeightLaw("normal", 40.0, 10.0, lo=0.0)
    wi = cx.WeightLaw("normal", -40.0, 10.0, hi=0.0)     # current-based 'in': negative pA
    with jax.numpy_rank_promotion("allow"):   # connectivity broadcasts (n, 1) x (d,)
        projs = {
            "EE": nw.Projection("E", "E", pg.build(cx.fixed_indegree(N_E, N_E, 20, seed=1, weight=w,
                                                                     delay=cx.DelayLaw("constant", 1.5)), "pull")),
            "EI": nw.Projection("E", "I", pg.build(cx.fixed_prob(N_E, N_I, 0.1, seed=2, weight=w,
                                                                 delay=cx.DelayLaw("constant", 1.0)), "procedural", cap=2)),
            "IE": nw.Projection("I", "E", pg.build(cx.fixed_prob(N_I, N_E, 0.15, seed=3, weight=wi,
                                                                 delay=cx.DelayLaw("normal", 1.0, 0.4)),
                                                   "segment_sum"), receptor="in"),
            "II": nw.Projection("I", "I", pg.build(cx.fixed_prob(N_I, N_I, 0.1, seed=4, weight=wi), "event"),
                                receptor="in"),
            "IE2": nw.Projection("I", "E", pg.build(cx.fixed_prob(N_I, N_E, 0.05, seed=5, weight=wi), "dense"),
                                 receptor="in"),
            "XE": nw.Projection("E", "E", pg.build(cx.fixed_prob(N_E, N_E, 0.02, seed=6, weight=w,
                                                                 exc_fraction=0.75), "procedural"),
                                receptor="dale"),
        }
    if not full:   # DC drive, heterogeneous per neuron (no Poisson sampler to compile)
        projs = {k: projs[k] for k in ("EE", "EI", "IE")}
        r = np.random.default_rng(0)
        dc = lambda n: jnp.asarray(r.uniform(280.0, 420.0, n).astype(np.float32))
        return nw.network({"E": nw.Population(N_E, nm.lif_current, p, i_ext=dc(N_E)),
                           "I": nw.Population(N_I, nm.lif_current, p, i_ext=dc(N_I))}, projs, seed=7)
    pops = {"E": nw.Population(N_E, nm.lif_current, p, drive=nw.PoissonDrive(40.0, 100, 45.0)),
            "I": nw.Population(N_I, nm.lif_current, p, drive=nw.PoissonDrive(40.0, 100, 45.0))}
    return nw.network(pops, projs, seed=7)


def _init(net):
    """Potentials uniform between reset and threshold (the network is active at once)."""
    r = np.random.default_rng(1)
    return nw.init_state(net, v0={k: r.uniform(-70.0, -55.0, p.n).astype(np.float32)
                                  for k, p in net.populations.items()})


def _reference(net, T):
    def body(s, _):
        s, spk = nw.step(net, s)
        return s, spk

    with jax.numpy_rank_promotion("allow"):
        end, spk = jax.jit(lambda s: jax.lax.scan(body, s, None, length=T))(_init(net))
    spk = {k: np.asarray(v) for k, v in spk.items()}
    assert spk["E"].sum() > 50 and spk["I"].sum() > 20          # the network is active
    assert spk["E"].sum(1).max() > 2        # EI (procedural, cap 2) takes its overflow path
    return net, end, spk


def _check(reference, n_dev, exchange, T):
    """Spikes equal network.step's; states equal to its last bit (its pull sums in another
    order). Returns the sharded run for bitwise comparisons between device counts."""
    net, end_ref, spk_ref = reference
    mesh = sh.make_mesh(n_dev)
    snet = sh.shard_network(net, n_dev, exchange=exchange, cap=4 if exchange == "indices" else 0)
    end, rec = sh.simulate(snet, mesh, _init(net), T, raster=True)
    for k in ("E", "I"):
        np.testing.assert_array_equal(np.asarray(rec.raster[k]), spk_ref[k] > 0, err_msg=k)
        np.testing.assert_array_equal(np.asarray(rec.counts[k]), spk_ref[k].sum(1))
    for a, b in zip(jax.tree.leaves(end), jax.tree.leaves(end_ref)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-5)
    # the state really is split across the devices
    assert len(end.neurons["E"].v.sharding.device_set) == n_dev
    return end, rec


@pytest.fixture(scope="module")
def small_reference():
    return _reference(_net(full=False), 120)


@pytest.fixture(scope="module")
def full_reference():
    return _reference(_net(), T)


@pytest.mark.parametrize("n_dev,exchange", [(8, "indices")])
def test_sharded_equals_single_device(small_reference, n_dev, exchange):
    """pull + procedural + segment_sum (heterogeneous delays) on 8 devices (the indices
    exchange falls back to the bitmask when a device has more than cap = 4 spikes)."""
    _check(small_reference, n_dev, exchange, 120)


@pytest.mark.slow
def test_sharded_runs_bit_identical_on_1_2_4_8_devices(full_reference):
    """Every implementation, Dale projection included: the runs on 1, 2, 4 and 8 devices
    (both exchanges) are bit-identical to each other and match network.step's spikes."""
    runs = [_check(full_reference, n, ex, T) for n, ex in
            [(1, "bitmask"), (2, "bitmask"), (4, "indices"), (4, "bitmask"), (8, "bitmask"),
             (8, "indices")]]
    for end, rec in runs[1:]:
        for a, b in zip(jax.tree.leaves((end, rec)), jax.tree.leaves(runs[0])):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_bad_sizes_and_mesh_rejected():
    net = _net(full=False)
    with pytest.raises(ValueError, match="population 'I' has 64 neurons"):
        sh.shard_network(net, 16)
    with pytest.raises(ValueError, match="only 8 devices"):
        sh.make_mesh(16)
    snet = sh.shard_network(net, 2)
    with pytest.raises(ValueError, match="sharded for 2"):
        sh.simulate(snet, sh.make_mesh(4), nw.init_state(net), 2)


def test_mesh_from_config_and_exchange_bytes():
    cfg = from_dict(sh.MeshConfig, {"n_devices": 4, "exchange": "indices"})
    mesh = sh.mesh_from_config(cfg)
    assert mesh.shape[sh.AXIS] == 4
    snet = sh.shard_network(_net(full=False), 4, exchange="bitmask")
    b = sh.exchange_bytes_per_step(snet)
    assert b["E"] == N_E / 8 * 3 / 4 and b["total"] == (N_E + N_I) / 8 * 3 / 4
