"""Potjans & Diesmann 2014 microcircuit: per-population rates near the reference table."""

import pytest

from jaxbrain import simulate as sim
from jaxbrain.models import potjans2014 as pd


def test_synapse_numbers_follow_the_reference_formula():
    net, _ = pd.microcircuit(0.02)
    proj = net.projections["L4E->L23E"].synapses.conn
    assert proj.kind == "fixed_indegree" and proj.k == round(
        __import__("math").log(1 - 0.0437) / __import__("math").log(1 - 1 / (21915 * 20683)) / 20683)
    assert abs(pd.psc_for_psp(0.15) - 87.81) < 0.05  # the reference's PSC for a 0.15 mV PSP
    assert len(net.projections) == 55  # 64 pairs minus 9 with p = 0


@pytest.mark.slow
def test_scaled_microcircuit_rates_near_reference():
    """n_scaling = 0.1 with the full in-degrees: every population within a factor 1.6 of the
    reference rate (measured here: 1.25, 3.69, 4.27, 6.08, 9.06, 9.25, 1.10, 8.25 Hz)."""
    net, state = pd.microcircuit(0.1)
    state, _ = sim.run(net, state, 3000, chunk_steps=1000, progress=False)
    _, rec = sim.run(net, state, 5000, chunk_steps=1000, progress=False)
    rates = sim.rates_hz(rec)
    for k, ref in pd.REFERENCE_RATES_HZ.items():
        assert ref / 1.6 < rates[k] < ref * 1.6, (k, rates[k], ref)
