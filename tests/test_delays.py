"""Delays: spikes arrive exactly ``d`` steps after emission, per projection and per synapse."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxbrain import connectivity as cx
from jaxbrain import network as nw
from jaxbrain import neurons as nm
from jaxbrain import propagation as pg
from jaxbrain.delays import ring_add, ring_init, ring_read


def test_ring_buffer_arrival_times():
    ring = ring_init(3, 5)
    ring = ring_add(ring, 0, jnp.array([1, 5, 3]), jnp.array([0, 1, 2]), jnp.array([1.0, 2.0, 3.0]))
    arrivals = []
    for t in range(8):
        now, ring = ring_read(ring, t)
        arrivals.append(np.asarray(now))
        if t == 2:  # emitted at t = 2 with delay 4: due at 6
            ring = ring_add(ring, 2, jnp.array([4]), jnp.array([0]), jnp.array([7.0]))
    a = np.array(arrivals)
    assert a[1, 0] == 1 and a[5, 1] == 2 and a[3, 2] == 3 and a[6, 0] == 7
    assert a.sum() == 13


def test_network_spike_arrival_matches_per_synapse_delays():
    """A source forced to spike once; each target's input appears exactly at its delay."""
    dt = 0.1
    src_params = nm.LIFParams(v_th=-69.0, t_ref=1000.0)  # fires at step 0, then refractory
    tgt_params = nm.LIFParams(v_th=1e9, tau_syn_ex=1e9)  # integrates input, never fires
    conn = cx.fixed_prob(1, 50, 1.0, seed=0, weight=cx.WeightLaw("normal", 1.0, 0.1, lo=0.1),
                         delay=cx.DelayLaw("normal", 2.0, 1.0, max_ms=5.0))
    for impl in ("event", "procedural", "segment_sum"):
        net = nw.network(
            {"src": nw.Population(1, nm.lif_current, src_params, i_ext=1e6),
             "tgt": nw.Population(50, nm.lif_current, tgt_params)},
            {"p": nw.Projection("src", "tgt", pg.build(conn, impl, dt=dt))}, dt=dt)
        def body(s, _):
            s, _ = nw.step(net, s)
            return s, s.neurons["tgt"].g_ex
        _, g = jax.jit(lambda s: jax.lax.scan(body, s, None, length=60))(nw.init_state(net))
        g = np.asarray(g)
        _, post, w, d = cx.to_coo(cx.materialize(conn, dt))
        first = np.argmax(g > 0, axis=0)  # g is set at the end of the step the input is due
        np.testing.assert_array_equal(first[post], d, err_msg=impl)
        np.testing.assert_allclose(g[-1, post], w, rtol=1e-6)
