"""The fused event kernel delivers exactly what the XLA event path delivers.

On the CPU the kernel runs in the Pallas interpreter, whose scatter keeps only one of several
additions to the same address within one call; so these tests spike at most one source per
block of ``BLOCK`` sources and use rows without repeated targets. The GPU tests (marked) use arbitrary spikes and
compare with a tolerance for the order of float additions.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain import connectivity as cx
from jaxbrain import event_kernel as ek
from jaxbrain import propagation as pg
from jaxbrain.delays import ring_clear, ring_init

DT = 0.1
CASES = {
    "explicit_hetero_delays": (lambda: cx.fixed_prob(600, 200_000, 0.002, seed=5, weight=cx.WeightLaw("normal", 1.0, 0.3),
                                                     delay=cx.DelayLaw("normal", 0.8, 0.3, max_ms=1.5)), "event"),
    "procedural_outdegree": (lambda: cx.fixed_outdegree(700, 1_000_000, 80, seed=1, weight=cx.WeightLaw("normal", 1.0, 0.1)),
                             "procedural"),
    "procedural_prob_dale": (lambda: cx.fixed_prob(500, 300_000, 0.001, seed=2, exc_fraction=0.8, g_inh=4.0,
                                                   delay=cx.DelayLaw("normal", 1.0, 0.3, max_ms=2.0)), "procedural"),
    "procedural_small_world": (lambda: cx.small_world(5000, 16, 0.2, seed=3), "procedural"),
    "explicit_long_rows": (lambda: cx.fixed_prob(300, 100_000, 0.03, seed=6, weight=cx.WeightLaw("normal", 1.0, 0.3)),
                           "event"),
}


def _one_spike_per_block(syn, key, graded=False):
    """Spikes of at most one source per block of ``BLOCK`` (and only sources whose row has no
    repeated target): what the interpreter can check exactly."""
    blocks = -(-syn.conn.n_pre // ek.BLOCK)
    idx = jnp.minimum(jnp.arange(blocks) * ek.BLOCK + jax.random.randint(key, (blocks,), 0, ek.BLOCK),
                      syn.conn.n_pre - 1)
    keep = (jax.random.uniform(jax.random.fold_in(key, 1), idx.shape) < 0.7).at[0].set(True)
    rows = syn.ell.targets[idx] if syn.impl == "event" else cx.source_rows(syn.conn, idx, DT).targets
    t = np.sort(np.asarray(rows), axis=1)
    keep &= jnp.asarray(~((t[:, 1:] == t[:, :-1]) & (t[:, 1:] < syn.conn.n_post)).any(axis=1))
    amp = 0.5 + jax.random.uniform(jax.random.fold_in(key, 2), idx.shape) if graded else jnp.ones(idx.shape)
    return jnp.zeros((syn.conn.n_pre,), jnp.float32).at[idx].set(jnp.where(keep, amp, 0.0))


@pytest.mark.parametrize("clear_now", [False, True])
@pytest.mark.parametrize("case", sorted(CASES))
def test_kernel_matches_xla_event_path(case, clear_now):
    make, impl = CASES[case]
    conn = make()
    syn = pg.build(conn, impl, DT)
    key = jax.random.key(sorted(CASES).index(case))
    spikes = _one_spike_per_block(syn, key, graded=True)
    assert spikes.sum() > 0
    ring = ring_init(conn.n_post, syn.max_delay)
    ring = ring._replace(buf=jax.random.normal(jax.random.fold_in(key, 9), ring.buf.shape))  # pending input stays
    t = jnp.int32(11)
    ref = pg._deliver_events(syn, spikes, ring_clear(ring, t) if clear_now else ring, t, scale=-2.0).buf
    out = ek.deliver(syn, spikes, ring, t, scale=-2.0, clear_now=clear_now, interpret=True).buf
    np.testing.assert_allclose(np.asarray(out), np.asarray(ref), rtol=1e-6, atol=1e-5)
    assert float(jnp.abs(ref - ring.buf).sum()) > 0  # something was delivered
    if clear_now:  # the slot of step t is zero, every other pending input stays
        assert not np.asarray(out[int(t) % out.shape[0]]).any()


def test_no_spike_delivers_nothing():
    syn = pg.build(cx.fixed_outdegree(300, 1000, 8, seed=0), "procedural", DT)
    ring = ring_init(1000, 1)
    ring = ring._replace(buf=jnp.ones(ring.buf.shape))
    out = ek.deliver(syn, jnp.zeros((300,)), ring, jnp.int32(0), interpret=True)
    np.testing.assert_array_equal(np.asarray(out.buf), 1.0)


def test_unsupported_synapses_are_refused():
    syn = pg.build(cx.fixed_indegree(100, 100, 5, seed=0), "pull", DT)
    assert not ek.supported(syn)
    with pytest.raises(ValueError, match="event kernel supports"):
        ek.deliver(syn, jnp.zeros((100,)), ring_init(100, 1), jnp.int32(0), interpret=True)


def test_tile_shape():
    assert ek.tile_shape(80) == (16, 128, 1)
    assert ek.tile_shape(1) == (2048, 1, 1)
    assert ek.tile_shape(5000) == (1, 8192, 1)
    assert ek.tile_shape(5000, explicit=True) == (1, 2048, 3)


def test_kernel_lowers_for_the_gpu():
    """The Triton lowering runs on any machine: catches primitives Triton lacks."""
    for case, (make, impl) in CASES.items():
        syn = pg.build(make(), impl, DT)
        ring = ring_init(syn.conn.n_post, syn.max_delay)
        f = jax.jit(lambda syn, s, r: ek.deliver(syn, s, r, jnp.int32(3), clear_now=True))
        try:
            f.trace(syn, jnp.zeros((syn.conn.n_pre,)), ring).lower(lowering_platforms=("cuda",))
        except ImportError as e:  # a jaxlib without Triton bindings
            pytest.skip(f"no Triton lowering here: {e}")


@pytest.mark.gpu
@pytest.mark.parametrize("case", sorted(CASES))
def test_kernel_matches_xla_on_gpu_any_spikes(case):
    make, impl = CASES[case]
    syn = pg.build(make(), impl, DT)
    spikes = (jax.random.uniform(jax.random.key(0), (syn.conn.n_pre,)) < 0.3).astype(jnp.float32)
    ring = ring_init(syn.conn.n_post, syn.max_delay)
    ring = ring._replace(buf=jax.random.normal(jax.random.key(1), ring.buf.shape))
    t = jnp.int32(5)
    ref = pg._deliver_events(syn, spikes, ring, t).buf
    out = ek.deliver(syn, spikes, ring, t).buf
    np.testing.assert_allclose(np.asarray(out), np.asarray(ref), rtol=1e-5, atol=1e-4)
    cleared = ek.deliver(syn, spikes, ring, t, clear_now=True).buf
    np.testing.assert_allclose(np.asarray(cleared), np.asarray(ring_clear(ring._replace(buf=ref), t).buf), rtol=1e-5, atol=1e-4)


def test_compact_lists_every_active_source_in_order():
    n = 3 * ek.BLOCK + 17
    spikes = (jax.random.uniform(jax.random.key(4), (n,)) < 0.03).astype(jnp.float32).at[-1].set(2.0)
    act = ek.compact(spikes, interpret=True)
    idx, counts = np.asarray(act.idx), np.asarray(act.counts)
    listed = np.concatenate([idx[b * ek.BLOCK: b * ek.BLOCK + c] for b, c in enumerate(counts)])
    np.testing.assert_array_equal(listed, np.flatnonzero(np.asarray(spikes)))


def test_float_atomic_adds_lower_relaxed(monkeypatch):
    """Float atomic adds lower with relaxed semantics (as CUDA's atomicAdd); integer adds and
    explicitly given semantics are left as they were."""
    from jax._src.lib.triton import dialect as tt
    from jax._src.pallas.triton import lowering as tl
    assert getattr(tl._atomic_rmw, "_relaxed_float_adds", False)  # installed on import
    seen = []

    def recorder(op, ptr, val, mask=None, semantic=tt.MemSemantic.ACQUIRE_RELEASE, sync_scope=tt.MemSyncScope.GPU):
        seen.append(semantic)

    monkeypatch.setattr(tl, "_atomic_rmw", recorder)
    assert ek.relax_float_atomic_adds()
    tl._atomic_rmw(tt.RMWOp.FADD, None, None)
    tl._atomic_rmw(tt.RMWOp.ADD, None, None)
    tl._atomic_rmw(tt.RMWOp.FADD, None, None, semantic=tt.MemSemantic.ACQUIRE_RELEASE)
    assert seen == [tt.MemSemantic.RELAXED, tt.MemSemantic.ACQUIRE_RELEASE, tt.MemSemantic.ACQUIRE_RELEASE]


def test_relaxed_float_adds_can_be_switched_off_and_on():
    from jax._src.pallas.triton import lowering as tl
    try:
        assert ek.relax_float_atomic_adds(False)
        assert not getattr(tl._atomic_rmw, "_relaxed_float_adds", False)
    finally:
        assert ek.relax_float_atomic_adds(True)
    assert getattr(tl._atomic_rmw, "_relaxed_float_adds", False)
