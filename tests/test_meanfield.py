"""Mean-field models against REFERENCE.md 'Mean-field level' (MPR 2015, reduced Wong-Wang)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain.meanfield import (MPRParams, MPRState, WongWangParams, montbrio, mpr_fixed_points,
                                mpr_vector_field, newton_fixed_point, wong_wang, ww_fixed_point,
                                ww_rate)


def _integrate_mpr(I, r0, v0, t_end=60.0, dt=1e-3):
    p = MPRParams()
    s = montbrio.init(p, len(r0), r0=jnp.asarray(r0), v0=jnp.asarray(v0))

    def body(s, _):
        return montbrio.step(p, s, I, dt)[0], None

    s, _ = jax.lax.scan(body, s, None, length=int(t_end / dt))
    return np.asarray(s.r), np.asarray(s.v)


def test_mpr_fixed_points_closed_form():
    fp0 = mpr_fixed_points(MPRParams(), I=0.0)
    stable = [f["r"] for f in fp0 if f["stable"]]
    unstable = [f["r"] for f in fp0 if not f["stable"]]
    # REFERENCE.md: bistable at I = 0 with stable r* = 0.081 and 1.031
    np.testing.assert_allclose(stable, [0.081, 1.031], atol=6e-4)
    assert len(unstable) == 1 and stable[0] < unstable[0] < stable[1]   # saddle in between
    fp3 = mpr_fixed_points(MPRParams(), I=3.0)
    assert len(fp3) == 1 and fp3[0]["stable"]
    np.testing.assert_allclose(fp3[0]["r"], 1.373, atol=6e-4)
    for f in fp0 + fp3:   # v* = -Delta / (2 pi tau r*) and the field vanishes there
        dr, dv = mpr_vector_field(MPRParams(), MPRState(jnp.float32(f["r"]), jnp.float32(f["v"])),
                                  0.0 if f in fp0 else 3.0)
        assert abs(float(dr)) < 1e-4 and abs(float(dv)) < 1e-3


def test_mpr_bistable_by_integration():
    # from several initial conditions: low ones go to 0.081, high ones to 1.031
    r, v = _integrate_mpr(0.0, [0.0, 0.05, 0.2, 0.8, 1.0, 1.5], [-2.0, -3.0, -2.5, -0.5, -0.2, -0.15])
    np.testing.assert_allclose(r[:3], 0.0811, atol=5e-4)
    np.testing.assert_allclose(r[3:], 1.0306, atol=5e-4)
    np.testing.assert_allclose(v[:3], -1.0 / (2 * np.pi * r[:3]), rtol=1e-3)


def test_mpr_single_fixed_point_at_I3_by_integration():
    r, v = _integrate_mpr(3.0, [0.0, 0.1, 1.0, 3.0], [-2.0, -3.0, 0.0, 1.0])
    np.testing.assert_allclose(r, 1.3732, atol=5e-4)


def test_mpr_fixed_points_by_newton_root_finding():
    p = MPRParams()

    def field(x, I):
        d = mpr_vector_field(p, MPRState(x[0], x[1]), I)
        return jnp.stack([d.r, d.v])

    found = []
    for x0 in ([0.1, -2.0], [0.5, -0.3], [1.0, -0.2]):
        x, res = newton_fixed_point(lambda x: field(x, 0.0), jnp.asarray(x0, jnp.float32))
        assert float(res) < 1e-4
        found.append(float(x[0]))
    np.testing.assert_allclose(found, [f["r"] for f in mpr_fixed_points(p, 0.0)], rtol=1e-4)
    x, res = newton_fixed_point(lambda x: field(x, 3.0), jnp.asarray([1.0, -0.1]))
    np.testing.assert_allclose(float(x[0]), 1.373, atol=6e-4)


def test_wong_wang_uncoupled_fixed_point():
    roots = ww_fixed_point(WongWangParams())
    assert len(roots) == 1
    np.testing.assert_allclose(roots[0], 0.098, atol=1e-3)     # REFERENCE.md: S* ~ 0.098
    p = WongWangParams()
    s = wong_wang.init(p, 4, S0=jnp.asarray([0.0, 0.05, 0.5, 1.0]))

    def body(s, _):
        return wong_wang.step(p, s, 0.0, 0.1)[0], None

    s, _ = jax.lax.scan(body, s, None, length=20000)     # 2 s of biological time
    np.testing.assert_allclose(np.asarray(s.S), roots[0], atol=1e-4)


def test_wong_wang_rate_function_continuous_at_threshold():
    p = WongWangParams()
    x0 = p.b / p.a
    xs = jnp.asarray([x0 - 1e-4, x0, x0 + 1e-4], jnp.float32)
    h = np.asarray(ww_rate(p, xs))
    np.testing.assert_allclose(h[1], 1.0 / p.d, rtol=1e-3)
    assert h[0] < h[1] < h[2]


def test_wong_wang_coupling_raises_activity():
    p = WongWangParams()
    lo = ww_fixed_point(p, 0.0)
    hi = ww_fixed_point(p, 0.05)      # extra excitatory input current (nA)
    assert max(hi) > max(lo)


def test_steps_vmap_and_jit():
    p = MPRParams()
    s = montbrio.init(p, (3, 2))
    step = jax.jit(jax.vmap(lambda st, i: montbrio.step(p, st, i, 1e-3)))
    new, r = step(s, jnp.zeros((3, 2)))
    assert r.shape == (3, 2) and new.v.shape == (3, 2)
