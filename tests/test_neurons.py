"""Neuron models against analytic solutions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain import neurons as nm


def _run(model, params, n_steps, dt, syn_ex=0.0, syn_in=0.0, i_ext=0.0, n=1, state=None):
    state = model.init(params, n) if state is None else state

    def body(s, k):
        s, sp = model.step(params, s, jnp.where(k == 0, syn_ex, 0.0), jnp.where(k == 0, syn_in, 0.0), i_ext, dt)
        return s, (s.v, sp)

    return jax.lax.scan(body, state, jnp.arange(n_steps))


def test_lif_dc_charging_is_exact():
    p = nm.LIFParams(v_th=100.0)  # never fires
    dt, steps, i = 0.1, 300, 200.0
    _, (v, _) = _run(nm.lif_current, p, steps, dt, i_ext=i)
    t = dt * np.arange(1, steps + 1)
    expected = p.v_rest + i * p.tau_m / p.c_m * (1 - np.exp(-t / p.tau_m))
    np.testing.assert_allclose(np.asarray(v[:, 0]), expected, atol=1e-3)  # float32 roundoff


def test_lif_psc_response_matches_alpha_difference_of_exponentials():
    """A current kick w (pA) decaying with tau_s gives the analytic PSP (NEST iaf_psc_exp)."""
    p = nm.LIFParams(v_th=100.0)
    dt, w = 0.1, 1000.0
    _, (v, _) = _run(nm.lif_current, p, 500, dt, syn_ex=w)
    # the kick is added after step 0's update, so it acts from t = dt
    t = dt * np.arange(1, 500)  # time since the kick for steps 1..
    tm, ts, c = p.tau_m, p.tau_syn_ex, p.c_m
    psp = w * ts * tm / (c * (tm - ts)) * (np.exp(-t / tm) - np.exp(-t / ts))
    np.testing.assert_allclose(np.asarray(v[1:, 0]) - p.v_rest, psp, rtol=1e-3, atol=1e-3)


def test_lif_firing_rate_and_refractory_period_analytic():
    """Constant current: period = t_ref + tau_m ln(RI / (RI - (v_th - v_reset)))."""
    p = nm.LIFParams()
    dt, i = 0.01, 400.0
    _, (_, sp) = _run(nm.lif_current, p, 20000, dt, i_ext=i)
    times = np.nonzero(np.asarray(sp[:, 0]))[0] * dt
    ri = i * p.tau_m / p.c_m
    period = p.t_ref + p.tau_m * np.log(ri / (ri - (p.v_th - p.v_reset)))
    assert abs(np.diff(times).mean() - period) < 2 * dt


def test_refractory_clamp_duration():
    p = nm.LIFParams(t_ref=2.0)
    dt = 0.1
    s = nm.lif_current.init(p, 1)._replace(v=jnp.array([-54.0]))
    s, sp = nm.lif_current.step(p, s, 0.0, 0.0, 0.0, dt)
    assert float(sp[0]) == 1.0 and float(s.v[0]) == p.v_reset
    clamped = 0
    for _ in range(40):
        s, sp = nm.lif_current.step(p, s, 0.0, 0.0, 1e5, dt)  # huge drive
        if float(sp[0]):
            break
        clamped += 1
    assert clamped == round(p.t_ref / dt)


def test_conductance_lif_relaxes_to_reversal_weighted_mean():
    """With conductances held (tau_syn huge), v converges to the conductance-weighted mean."""
    p = nm.LIFParams(v_th=100.0, tau_syn_ex=1e9, tau_syn_in=1e9)
    s = nm.lif_conductance.init(p, 1)._replace(g_ex=jnp.array([5.0]), g_in=jnp.array([10.0]))
    for _ in range(2000):
        s, _ = nm.lif_conductance.step(p, s, 0.0, 0.0, 0.0, 0.1)
    g_l = p.c_m / p.tau_m
    v_inf = (g_l * p.v_rest + 5.0 * p.e_ex + 10.0 * p.e_in) / (g_l + 15.0)
    assert abs(float(s.v[0]) - v_inf) < 1e-3


def test_conductance_step_converges_first_order_to_reference():
    """Exponential Euler (conductances held over a step) converges at first order to a
    float64 forward-Euler reference with dt = 1e-4 ms."""
    p = nm.LIFParams(v_th=100.0)
    v, ge, gi, h = p.v_rest, 20.0, 5.0, 1e-4
    g_l = p.c_m / p.tau_m
    for _ in range(100_000):  # 10 ms
        v += h * (g_l * (p.v_rest - v) + ge * (p.e_ex - v) + gi * (p.e_in - v)) / p.c_m
        ge -= h * ge / p.tau_syn_ex
        gi -= h * gi / p.tau_syn_in
    errors = []
    for dt in (0.1, 0.05, 0.025):
        s = nm.lif_conductance.init(p, 1)._replace(g_ex=jnp.array([20.0]), g_in=jnp.array([5.0]))
        for _ in range(int(round(10 / dt))):
            s, _ = nm.lif_conductance.step(p, s, 0.0, 0.0, 0.0, dt)
        errors.append(abs(float(s.v[0]) - v))
    assert errors[0] < 0.2
    assert 1.6 < errors[0] / errors[1] < 2.4 and 1.6 < errors[1] / errors[2] < 2.4


def test_conductance_euler_step_is_brians_forward_euler():
    """One step by hand (Brian's default for these equations, as in Diehl & Cook's code), and
    the charge of a conductance increment: tau_syn w with forward Euler, against
    dt w / (1 - exp(-dt / tau_syn)) with the conductances held at their start-of-step value."""
    p = nm.LIFParams(v_th=100.0, tau_m=100.0, c_m=100.0, tau_syn_ex=1.0, tau_syn_in=2.0,
                     e_ex=0.0, e_in=-100.0)
    s = nm.lif_conductance_euler.init(p, 1)._replace(v=jnp.array([-60.0]), g_ex=jnp.array([3.0]),
                                                     g_in=jnp.array([2.0]))
    s1, _ = nm.lif_conductance_euler.step(p, s, 0.5, 0.25, 0.0, 0.5)
    dv = (1.0 * (p.v_rest + 60.0) + 3.0 * (0.0 + 60.0) + 2.0 * (-100.0 + 60.0)) / 100.0
    np.testing.assert_allclose(float(s1.v[0]), -60.0 + 0.5 * dv, rtol=1e-6)
    np.testing.assert_allclose([float(s1.g_ex[0]), float(s1.g_in[0])], [3.0 * 0.5 + 0.5, 2.0 * 0.75 + 0.25],
                               rtol=1e-6)
    for model, tau, want in ((nm.lif_conductance_euler, 1.0, 1.0), (nm.lif_conductance_euler, 2.0, 2.0),
                             (nm.lif_conductance, 1.0, 0.5 / (1 - np.exp(-0.5)))):
        q = p.replace(tau_syn_ex=tau)
        s = model.init(q, 1)._replace(g_ex=jnp.array([1.0]))
        charge = 0.0
        for _ in range(200):
            charge += 0.5 * float(s.g_ex[0])
            s, _ = model.step(q, s, 0.0, 0.0, 0.0, 0.5)
        np.testing.assert_allclose(charge, want, rtol=1e-5)


def test_adaptive_lif_adapts():
    p = nm.AdLIFParams(b=50.0, tau_w=200.0)
    _, (_, sp) = _run(nm.adaptive_lif, p, 20000, 0.1, i_ext=500.0)
    isi = np.diff(np.nonzero(np.asarray(sp[:, 0]))[0])
    assert isi[-1] > 1.5 * isi[0]  # spike-frequency adaptation
    s = nm.adaptive_lif.init(p, 1)._replace(v=jnp.array([-54.0]))
    s, sp = nm.adaptive_lif.step(p, s, 0.0, 0.0, 0.0, 0.1)
    assert float(sp[0]) == 1 and float(s.w[0]) == pytest.approx(p.b)


def test_spike_fn_has_surrogate_gradient():
    g = jax.grad(lambda x: nm.spike_fn(x).sum())(jnp.array([-1.0, 0.0, 2.0]))
    assert np.all(np.asarray(g) > 0) and float(g[1]) == 1.0
    np.testing.assert_array_equal(np.asarray(nm.spike_fn(jnp.array([-1e-3, 0.0, 1.0]))), [0, 1, 1])
