"""One GPU kernel per step (jaxbrain.step_kernel) simulates what fused.step simulates.

On the CPU the kernel runs in the Pallas interpreter (programs in turn, exact scatter);
the GPU test compares with the fused XLA path with a tolerance for the order of the float
atomics.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain import fused
from jaxbrain import step_kernel as sk
from jaxbrain.models import brette2007, potjans2014
from jaxbrain.models.coba_scaled import coba_scaled


def _reference(fnet, state, steps):
    def body(s, _):
        s, spk = fused.step(fnet, s)
        return s, jnp.concatenate([spk[k] for k in fnet.populations])
    return jax.jit(lambda s: jax.lax.scan(body, s, None, length=steps))(state)


def _check_same(fnet, state, steps, min_spikes, interpret=True, **kw):
    ref_state, ref_spikes = _reference(fnet, state, steps)
    new_state, counts, pop = sk.run(sk.prepare(fnet), state, steps, interpret=interpret, **kw)
    assert int(pop.sum()) == int(counts.sum()) and pop.shape == (steps, len(fnet.populations))
    np.testing.assert_array_equal(np.asarray(counts), np.asarray(ref_spikes.sum(0)).astype(np.int32))
    assert int(counts.sum()) >= min_spikes
    for a, b in zip(jax.tree.leaves(new_state.neurons), jax.tree.leaves(ref_state.neurons)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(np.asarray(new_state.ring.buf), np.asarray(ref_state.ring.buf), rtol=1e-5, atol=1e-4)
    assert int(new_state.t) == int(state.t) + steps
    return new_state


@pytest.mark.parametrize("direct", [False, True])
def test_brette_coba_same_spikes_and_state_as_fused_step(direct):
    """Both forms: the ring, and (delays of one step) delivery straight into the state."""
    net, state = brette2007.coba(n_exc=800, n_inh=200, p=0.05, seed=3)
    fnet = fused.fuse(net)
    assert sk.direct_ok(fnet)
    _check_same(fnet, fused.fuse_state(fnet, state), 100, 100, direct=direct)


@pytest.mark.parametrize("direct", [False, True])
def test_resumes_from_any_step(direct):
    """Runs of 7, 1 and 29 steps equal one of 37 (ring slots, state halves and the pending
    spikes of the direct form move with t)."""
    net, state = coba_scaled(0.25, impl="event")
    fnet = fused.fuse(net)
    knet = sk.prepare(fnet)
    fstate = fused.fuse_state(fnet, state)
    s, c = fstate, 0
    for steps in (7, 1, 29):
        s, c_part, _ = sk.run(knet, s, steps, direct=direct, interpret=True)
        c = c + c_part
    ref_state, ref_spikes = _reference(fnet, fstate, 37)
    np.testing.assert_array_equal(np.asarray(c), np.asarray(ref_spikes.sum(0)).astype(np.int32))
    np.testing.assert_allclose(np.asarray(s.neurons.v), np.asarray(ref_state.neurons.v), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(np.asarray(s.ring.buf), np.asarray(ref_state.ring.buf), rtol=1e-5, atol=1e-4)
    assert int(c.sum()) > 0


@pytest.mark.slow
def test_microcircuit_drive_heterogeneous_delays_long_rows():
    """Poisson drive per population, delays of 1-45 steps, rows cut in chunks (programs per chunk)."""
    net, state = potjans2014.microcircuit(0.02, seed=1, impl="event")
    fnet = fused.fuse(net, 5.0)
    assert fnet.synapses.conn.delay.heterogeneous and sk.ek.tile_shape(fnet.synapses.ell.targets.shape[1], True)[2] > 1
    _check_same(fnet, fused.fuse_state(fnet, state), 60, 20)


def test_bad_block_is_refused():
    net, state = coba_scaled(0.05, impl="event")
    fnet = fused.fuse(net)
    with pytest.raises(ValueError, match="block must be a power of two"):
        sk.run(sk.prepare(fnet), fused.fuse_state(fnet, state), 3, block=1000, interpret=True)
    with pytest.raises(ValueError, match="tile must be a power of two"):
        sk.run(sk.prepare(fnet), fused.fuse_state(fnet, state), 3, tile=100, interpret=True)
    delta = fnet.replace(model=fnet.model._replace(syn_leaves=None))  # increments not added to state fields
    with pytest.raises(ValueError, match="direct=True needs every delay to be one step"):
        sk.run(sk.prepare(delta), fused.fuse_state(delta, state), 3, direct=True, interpret=True)
    if jax.default_backend() != "gpu":
        with pytest.raises(ValueError, match="GPU"):
            sk.run(sk.prepare(fnet), fused.fuse_state(fnet, state), 3)


def test_kernel_lowers_for_the_gpu():
    """The Triton lowering runs on any machine: catches primitives Triton lacks."""
    net, state = brette2007.coba(n_exc=800, n_inh=200, p=0.05, seed=3)
    fnet = fused.fuse(net)
    try:
        for record, direct in ((False, False), (True, False), (False, True), (True, True)):
            sk._run.trace(sk.prepare(fnet), fused.fuse_state(fnet, state), 5, record=record, block=sk.default_block(fnet.n),
                          tile=sk.TILE, direct=direct, num_warps=4, unroll=4,
                          interpret=False).lower(lowering_platforms=("cuda",))
    except Exception as e:  # a jaxlib without the CUDA/Triton lowering
        if "cuda" in str(e).lower() and "platform" in str(e).lower():
            pytest.skip(f"no Triton lowering here: {e}")
        raise


@pytest.mark.gpu
@pytest.mark.parametrize("direct", [False, True])
def test_same_rates_as_fused_path_on_gpu(direct):
    net, state = coba_scaled(1.0, impl="procedural")
    fnet = fused.fuse(net, 60.0)
    fstate = fused.fuse_state(fnet, state)
    _, ref_spikes = _reference(fnet, fstate, 500)
    _, counts, _ = sk.run(sk.prepare(fnet), fstate, 500, direct=direct)
    assert abs(int(counts.sum()) - float(ref_spikes.sum())) <= 1e-3 * float(ref_spikes.sum())


def test_raster_records_every_spike_at_its_step():
    net, state = coba_scaled(0.25, impl="event")
    fnet = fused.fuse(net)
    fstate = fused.fuse_state(fnet, state)
    ref_state, ref_spikes = _reference(fnet, fstate, 40)
    _, counts, _, raster = sk.run(sk.prepare(fnet), fstate, 40, record=True, interpret=True)
    assert raster.shape == (40, fnet.n) and raster.dtype == jnp.int8
    np.testing.assert_array_equal(np.asarray(raster), np.asarray(ref_spikes).astype(np.int8))
    np.testing.assert_array_equal(np.asarray(raster.sum(0, dtype=jnp.int32)), np.asarray(counts))
    assert int(counts.sum()) > 0


def test_simulate_gives_the_recording_of_simulate_run():
    from jaxbrain import simulate as sim
    net, state = brette2007.coba(n_exc=800, n_inh=200, p=0.05, seed=3)
    fnet = fused.fuse(net)
    fstate = fused.fuse_state(fnet, state)
    mon = sim.Monitor(raster={"E": 30, "I": 10_000})
    _, ref = sim.run(fnet, fstate, 50, mon, chunk_steps=50, progress=False)
    _, rec = sk.simulate(sk.prepare(fnet), fstate, 50, {"E": 30, "I": 10_000}, chunk_steps=20, interpret=True)
    _, rec2 = sk.simulate(sk.prepare(fnet), fstate, 50, chunk_steps=50, interpret=True)  # no raster
    assert not rec2.raster
    for k in fnet.populations:
        np.testing.assert_array_equal(rec2.pop_spikes[k], np.asarray(ref.pop_spikes[k]))
    for k in fnet.populations:
        np.testing.assert_array_equal(rec.pop_spikes[k], np.asarray(ref.pop_spikes[k]))
        np.testing.assert_array_equal(rec.counts[k], np.asarray(ref.counts[k]))
        np.testing.assert_array_equal(rec.raster[k], np.asarray(ref.raster[k]))
    assert rec.raster["I"].shape == (50, 200) and sum(int(v.sum()) for v in rec.counts.values()) > 0
