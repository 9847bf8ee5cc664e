"""LRU paging of region states between host memory (or disk) and the device."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain.multiscale import (SpikingRegionParams, build_brain, init_state, make_pager,
                                 simulate, simulate_streamed)
from jaxbrain.streaming import RegionPager


def _items(n):
    return [{"v": np.full((4,), float(i), np.float32), "k": np.array(i, np.int32)} for i in range(n)]


def test_lru_order_hits_misses_and_writeback():
    p = RegionPager(_items(4), capacity=2)
    p.get(0); p.get(1)
    assert p.resident == [0, 1] and p.stats.misses == 2
    p.get(0)                                    # hit: 0 becomes most recent
    assert p.resident == [1, 0] and p.stats.hits == 1
    x = p.get(2)                                # evicts 1 (least recently used), clean: no write
    assert p.resident == [0, 2] and p.stats.evictions == 1 and p.stats.bytes_out == 0
    p.put(2, jax.tree.map(lambda a: a + 10, x))
    p.get(3)                                    # evicts 0 (clean)
    p.get(1)                                    # evicts 2 (dirty): written back
    assert p.resident == [3, 1] and p.stats.bytes_out == 4 * 4 + 4
    np.testing.assert_array_equal(p.host(2)["v"], np.full(4, 12.0, np.float32))
    assert p.stats.bytes_in == 5 * (4 * 4 + 4)


def test_disk_store_roundtrip(tmp_path):
    p = RegionPager(_items(3), capacity=1, spill_dir=tmp_path)
    a = p.get(0)
    p.put(0, jax.tree.map(lambda x: x * 3, a))
    p.get(1)                                    # 0 written to disk
    assert (tmp_path / "r0_0.npy").exists()
    np.testing.assert_array_equal(p.get(0)["k"], 0)
    np.testing.assert_array_equal(p.host(0)["v"], np.zeros(4))
    p.put(1, {"v": np.ones(4, np.float32), "k": np.array(7, np.int32)})
    p.flush()
    assert int(p.host(1)["k"]) == 7


def test_bad_arguments():
    with pytest.raises(ValueError, match="capacity"):
        RegionPager(_items(2), capacity=0)
    p = RegionPager(_items(2), capacity=1)
    with pytest.raises(IndexError, match="region 5"):
        p.get(5)
    with pytest.raises(ValueError, match="structure"):
        p.put(0, {"v": np.zeros(4)})


def test_streamed_multiscale_equals_in_memory_run():
    """Three detailed regions, one device slot: every region is paged in and out every
    exchange, and the result equals the all-on-device lax.scan run bit for bit."""
    spk = SpikingRegionParams(n_exc=80, n_inh=20, k_ext=100, nu_bg=40.0, w_ext=12.0, k_conn=20)
    w = np.array([[0, .5, .5, .2], [.5, 0, .5, .2], [.5, .5, 0, .2], [1, 1, 1, 0]], np.float32)
    d = np.full((4, 4), 2.0, np.float32)
    b = build_brain(w, d, ["spiking", "spiking", "spiking", "wong_wang"], spk=spk, t_ex=1.0)
    st = init_state(b, jax.random.key(0))
    n_ex = 8
    stim = np.zeros((n_ex, b.n_units), np.float32)
    stim[:, :3] = 400.0                         # Hz per connectome source: spikes early on
    end_a, rec_a = simulate(b, st, n_ex, stim)
    pager = make_pager(b, st, capacity=1)
    end_b, rec_b = simulate_streamed(b, st, n_ex, pager, stim)
    # alternating sweeps: 3 misses in the first exchange, then 2 per exchange (1 hit)
    assert pager.stats.misses == 3 + 2 * (n_ex - 1) and pager.stats.hits == n_ex - 1
    assert pager.stats.evictions == pager.stats.misses - 1
    assert np.asarray(rec_a.spike_counts).sum() > 0
    # detailed regions: bit for bit; mean-field units: to rounding (XLA fuses the two
    # programs differently)
    for a, c in zip(jax.tree.leaves((rec_a.spike_counts, rec_a.raster, end_a.spk)),
                    jax.tree.leaves((rec_b.spike_counts, rec_b.raster, end_b.spk))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(c))
    for a, c in zip(jax.tree.leaves((rec_a, end_a)), jax.tree.leaves((rec_b, end_b))):
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(c, np.float64), rtol=1e-5)
