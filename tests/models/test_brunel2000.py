"""Brunel 2000 (g = 5, eta = 2): Brian2 gives 32.0 Hz for E and I (REFERENCE.md)."""

import pytest

from jaxbrain import simulate as sim
from jaxbrain.models import brunel2000


@pytest.mark.slow
def test_brunel_rate_matches_brian2():
    net, state = brunel2000.brunel(seed=0)
    _, rec = sim.run(net, state, 5000, sim.Monitor(raster={"E": 300}), chunk_steps=5000, progress=False)
    r = sim.rates_hz(rec, skip_steps=1000)
    assert 29.0 <= r["E"] <= 35.0 and 29.0 <= r["I"] <= 35.0, r


def test_scaled_brunel_is_driven_by_its_poisson_input_and_inhibition():
    """A 10x smaller network (in-degree 100) still fires; stronger inhibition lowers the rate."""
    rates = []
    for g in (4.0, 6.0):
        net, state = brunel2000.brunel(n_exc=1000, n_inh=250, g=g, seed=1)
        _, rec = sim.run(net, state, 1500, chunk_steps=1500, progress=False)
        rates.append(sim.rates_hz(rec, skip_steps=500)["E"])
    assert rates[0] > rates[1] > 1.0, rates
