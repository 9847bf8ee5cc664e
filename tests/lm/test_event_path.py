"""Event-driven propagation (jaxbrain.lm.modules.EventPlan) against the dense gather."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain.lm.modules import (MODULES, BrainSpec, _gather_input, active_lists,
                                 build_connectivity, make_event_plan, synaptic_input)


def _setup(b=5, rate=0.1, seed=0):
    spec = BrainSpec.scale("tiny")
    conn = build_connectivity(spec)
    key = jax.random.key(seed)
    ws = tuple(jax.random.normal(jax.random.fold_in(key, i), i_.shape)
               for i, i_ in enumerate(conn.idx))
    s = (jax.random.uniform(jax.random.fold_in(key, 9), (spec.n, b)) < rate).astype(jnp.float32)
    return spec, conn, ws, s


def test_event_forward_and_grad_match_dense(caps=(0, 40, 20, 20, 20, 10), dtype=jnp.bfloat16):
    """bf16 weights, a dense source (the Thalamus) and five event sources."""
    spec, conn, ws, s = _setup()
    plan = make_event_plan(spec, conn, caps)
    g = jax.random.normal(jax.random.key(3), s.shape)
    acts, over = jax.jit(lambda w, s: active_lists(plan, s))(ws, s)
    assert not bool(over)
    # the active lists hold exactly the spiking neurons, in order, padded with n_m
    for m, act in enumerate(acts):
        if act is None:
            continue
        o, n = spec.offset(MODULES[m]), spec.size(MODULES[m])
        for b in range(s.shape[1]):
            want = np.flatnonzero(np.asarray(s[o:o + n, b]))
            got = np.asarray(act[:, b])
            np.testing.assert_array_equal(got[:len(want)], want)
            assert np.all(got[len(want):] == n)

    def f(events):
        return jax.jit(jax.value_and_grad(
            lambda w, s: jnp.sum(synaptic_input(w, conn, s, dtype, events) * g), argnums=(0, 1)))
    (y0, g0), (y1, g1) = f(None)(ws, s), f(plan)(ws, s)
    i0 = _gather_input(ws, conn.idx, s, dtype)
    i1 = jax.jit(lambda w, s: synaptic_input(w, conn, s, dtype, plan))(ws, s)
    np.testing.assert_allclose(np.asarray(i1), np.asarray(i0), rtol=1e-5, atol=1e-5)
    for x, y in zip(jax.tree_util.tree_leaves(g1), jax.tree_util.tree_leaves(g0)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-4, atol=1e-4)


def test_overflow_falls_back_to_dense():
    spec, conn, ws, s = _setup(rate=0.5)
    plan = make_event_plan(spec, conn, (0, 8, 8, 8, 8, 8))     # far too small
    assert bool(jax.jit(lambda w, s: active_lists(plan, s)[1])(ws, s))
    g = jax.random.normal(jax.random.key(3), s.shape)

    def f(prop):
        return jax.jit(jax.value_and_grad(lambda w: jnp.sum(prop(w) * g)))(ws)
    i1, gw = f(lambda w: synaptic_input(w, conn, s, jnp.float32, plan))
    i0, gd = f(lambda w: _gather_input(w, conn.idx, s, jnp.float32))
    np.testing.assert_allclose(float(i1), float(i0), rtol=1e-5)
    for x, y in zip(gw, gd):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-5)


@pytest.mark.slow  # the event path is not the default; its forward and gradient are checked by default
def test_model_event_path_matches_dense():
    """Teacher-forced loss, its gradient and greedy generation with the event path."""
    from jaxbrain.lm.generate import generate_ids
    from jaxbrain.lm.model import (event_capacities, init_params, loss_fn, make_model,
                                   measure_activity, with_events)
    from jaxbrain.lm.sampling import Sampling
    spec = BrainSpec.scale("tiny", substeps=2)
    model = make_model(spec, 30)
    params = init_params(model, jax.random.key(0))
    x = jnp.asarray(np.random.default_rng(0).integers(0, 30, (3, 6)), jnp.int32)
    counts = measure_activity(model, params, x)
    assert counts.shape == (6, 2, 6, 3)
    caps = event_capacities(counts, spec)
    assert caps[0] == 0 or caps[0] >= counts[..., 0, :].max()
    ev = with_events(model, caps)

    def lg(m):
        return jax.jit(jax.value_and_grad(lambda p: loss_fn(p, m, x, x, remat=False)[0]))(params)
    (l0, g0), (l1, g1) = lg(model), lg(ev)
    np.testing.assert_allclose(float(l1), float(l0), rtol=1e-5)
    for a, b in zip(jax.tree_util.tree_leaves(g1), jax.tree_util.tree_leaves(g0)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-3, atol=1e-5)
    prompts, lengths = x[:, :2], jnp.asarray([1, 2, 2], jnp.int32)
    t0 = generate_ids(model, params, prompts, lengths, jax.random.key(1), 3, Sampling(0.0))
    t1 = generate_ids(ev, params, prompts, lengths, jax.random.key(1), 3, Sampling(0.0))
    np.testing.assert_array_equal(np.asarray(t1), np.asarray(t0))


def test_prefix_count_exact():
    from jaxbrain.lm.modules import _prefix_count
    f = jax.jit(_prefix_count)
    for n, b in [(1, 3), (127, 2), (300, 5)]:
        s = np.random.default_rng(n).random((n, b)) < 0.5
        np.testing.assert_array_equal(np.asarray(f(jnp.asarray(s))), np.cumsum(s, 0))
    s = np.ones((20000, 1), bool)       # totals beyond bf16's and TF32's exact integers
    np.testing.assert_array_equal(np.asarray(f(jnp.asarray(s))), np.cumsum(s, 0))
