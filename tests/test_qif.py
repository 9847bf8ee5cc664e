"""A QIF network matches its exact mean field (Montbrio, Pazo & Roxin 2015)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain.meanfield import MPRParams, montbrio, mpr_fixed_points
from jaxbrain.qif import lorentzian_quantiles, qif_init, qif_params, qif_simulate

DT = 1e-3


def _protocol():
    """I = 0 for 10 tau, I = 3 for 20 tau, I = 0 for 20 tau (the paper's Fig. 2 protocol)."""
    return np.concatenate([np.zeros(10000), np.full(20000, 3.0), np.zeros(20000)]).astype(np.float32)


def _run_both(n):
    mf = MPRParams()
    I = jnp.asarray(_protocol())
    qp = qif_params(n, mf)
    _, (r, v) = jax.jit(lambda s, I: qif_simulate(qp, s, I, DT))(qif_init(qp), I)
    s0 = montbrio.init(mf, (), r0=0.0, v0=-2.0)

    def body(s, i):
        s, _ = montbrio.step(mf, s, i, DT)
        return s, (s.r, s.v)

    _, (rm, vm) = jax.lax.scan(body, s0, I)
    return [np.asarray(x) for x in (r, v, rm, vm)]


def _mean(x, a, b):
    return float(x[int(a / DT):int(b / DT)].mean())


def _check(n, rate_rtol_low, rate_rtol_high, v_atol, peak_dt, peak_rtol, shape_tol):
    r, v, rm, vm = _run_both(n)
    fp0 = [f for f in mpr_fixed_points(MPRParams(), 0.0) if f["stable"]]
    fp3 = mpr_fixed_points(MPRParams(), 3.0)[0]
    # stationary windows: low state (I = 0), high state (I = 3), high state again at I = 0
    for (a, b), f, rtol in [((5, 10), fp0[0], rate_rtol_low), ((20, 30), fp3, rate_rtol_high),
                            ((40, 50), fp0[1], rate_rtol_high)]:
        np.testing.assert_allclose(_mean(r, a, b), f["r"], rtol=rtol, err_msg=f"rate in {a}-{b}")
        np.testing.assert_allclose(_mean(v, a, b), f["v"], atol=v_atol, err_msg=f"v in {a}-{b}")
    # transient after the step I: 0 -> 3 at t = 10 (rates in 0.1 tau bins): the first peak
    # of the damped oscillation has the same height and time, and the network then settles
    # with the same oscillation (second peak)
    k = 100
    sl = slice(int(10 / DT), int(16 / DT))
    rb = r[sl].reshape(-1, k).mean(1)
    rmb = rm[sl].reshape(-1, k).mean(1)
    i_net, i_mf = int(np.argmax(rb)), int(np.argmax(rmb))
    assert abs(i_net - i_mf) * k * DT <= peak_dt, f"first peak at {i_net} vs {i_mf} (bins of 0.1)"
    np.testing.assert_allclose(rb[i_net], rmb[i_mf], rtol=peak_rtol, err_msg="peak rate")
    # after the peak: the trough and the recovery, aligned at the peak
    m = min(len(rb) - i_net, len(rmb) - i_mf)
    err = np.abs(rb[i_net:i_net + m] - rmb[i_mf:i_mf + m]).max() / rmb.max()
    assert err < shape_tol, f"post-peak max error {err:.3f} of the peak rate"
    # the damped oscillation decays at the mean field's rate: peak-to-peak amplitude in
    # 4-6 and 6-10 tau after the step
    for a, b in ((14, 16), (16, 20)):
        w = slice(int(a / DT), int(b / DT))
        amp = np.ptp(r[w].reshape(-1, 50).mean(1))
        amp_mf = np.ptp(rm[w].reshape(-1, 50).mean(1))
        np.testing.assert_allclose(amp, amp_mf, rtol=shape_tol * 1.5, err_msg=f"oscillation {a}-{b}")


def test_lorentzian_quantiles():
    eta = lorentzian_quantiles(-5.0, 1.0, 9999)
    assert np.median(eta) == pytest.approx(-5.0, abs=1e-5)
    q25, q75 = np.percentile(eta, [25, 75])
    assert (q75 - q25) / 2 == pytest.approx(1.0, rel=1e-2)    # half-width = half the IQR


def test_qif_network_matches_mpr_small():
    """2,000 neurons (fast): finite-size tolerances."""
    _check(2000, rate_rtol_low=0.12, rate_rtol_high=0.03, v_atol=0.03, peak_dt=0.3, peak_rtol=0.08,
           shape_tol=0.22)


@pytest.mark.slow
def test_qif_network_matches_mpr_1e4():
    """10,000 neurons, as in the paper: tighter stationary tolerances. Measured (2026-11-23):
    rates 0.0780 / 1.3666 / 1.0207 vs 0.0811 / 1.3732 / 1.0306, v within 0.008; the first
    peak after the step is 3% lower and 0.1 tau later than the mean field (finite size)."""
    _check(10000, rate_rtol_low=0.05, rate_rtol_high=0.012, v_atol=0.012, peak_dt=0.15, peak_rtol=0.06,
           shape_tol=0.15)


def test_qif_rejects_dt_beyond_refractory():
    qp = qif_params(10)
    with pytest.raises(ValueError, match="dt"):
        qif_simulate(qp, qif_init(qp), jnp.zeros(3), 0.05)
