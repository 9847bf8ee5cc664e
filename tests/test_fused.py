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
