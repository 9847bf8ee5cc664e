import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain.config import ConfigError
from jaxbrain.lm.modules import MODULES, SCALES, BrainSpec, build_connectivity


def test_seed_sizes():
    # seeds 001/003: 15,872 / 39,424 / 157,696 neurons
    assert BrainSpec.scale("small").n == 15872
    assert BrainSpec.scale("current").n == 39424
    assert BrainSpec.scale("4x").n == 157696
    assert BrainSpec.scale("current").out_dim == 2560 and BrainSpec.scale("4x").out_dim == 8192


def test_connectivity_deterministic_and_in_range():
    spec = BrainSpec.scale("tiny")
    a, b = build_connectivity(spec), build_connectivity(spec)
    for m, ia, ib in zip(MODULES, a.idx, b.idx):
        np.testing.assert_array_equal(ia, ib)
        assert ia.shape == (spec.size(m), spec.fan_in(m))
    c = build_connectivity(BrainSpec.scale("tiny", seed=1))
    assert not all(np.array_equal(x, y) for x, y in zip(a.idx, c.idx))
    # slots of each projection draw from their source module only
    idx = np.asarray(a.idx[MODULES.index("wernicke")])
    srcm = a.src_module[MODULES.index("wernicke")]
    for col, sm in enumerate(srcm):
        src = MODULES[sm]
        assert idx[:, col].min() >= spec.offset(src)
        assert idx[:, col].max() < spec.offset(src) + spec.size(src)


def test_mean_fanout_matches_spec():
    spec = BrainSpec.scale("small")
    out = {m: 0 for m in MODULES}
    for src, dst, k in spec.projections():
        out[src] += k * spec.size(dst)
    for i, m in enumerate(MODULES):
        # rounding the fan-in to an integer moves the mean out-degree by < 10 %
        assert abs(out[m] / spec.size(m) - spec.fanout[i]) < 0.1 * spec.fanout[i]
    assert 48 <= min(spec.fanout) and max(spec.fanout) <= 128


def test_bad_spec():
    with pytest.raises(ConfigError, match="out_dim"):
        BrainSpec(out_dim=10_000)
    with pytest.raises(ConfigError, match="allowed"):
        BrainSpec.scale("huge")


def test_transposed_backward_matches_autodiff():
    """The custom backward (gather over the source-major table) equals XLA's scatter-add."""
    from jaxbrain.lm.modules import _gather_input, synaptic_input
    spec = BrainSpec.scale("tiny")
    conn = build_connectivity(spec)
    # every synapse appears exactly once in the transposed table
    pos = np.asarray(conn.out_pos)
    assert np.sort(pos[pos < spec.n_synapses]).tolist() == list(range(spec.n_synapses))
    key = jax.random.key(0)
    ws = tuple(jax.random.normal(jax.random.fold_in(key, i), i_.shape) for i, i_ in enumerate(conn.idx))
    s = (jax.random.uniform(jax.random.fold_in(key, 9), (spec.n, 3)) < 0.2).astype(jnp.float32)
    g = jax.random.normal(jax.random.fold_in(key, 7), (spec.n, 3))
    a = jax.jit(jax.grad(lambda w, s: jnp.sum(synaptic_input(w, conn, s) * g),
                         argnums=(0, 1)))(ws, s)
    b = jax.jit(jax.grad(lambda w, s: jnp.sum(_gather_input(w, conn.idx, s, jnp.float32) * g),
                         argnums=(0, 1)))(ws, s)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-5)


def test_surrogate_dampening():
    from jaxbrain.lm.modules import spike_fn
    x = jnp.asarray([-0.5, 0.0, 0.2])
    np.testing.assert_array_equal(spike_fn(x, 5.0, 0.3), [0.0, 1.0, 1.0])
    g1 = jax.grad(lambda x: spike_fn(x, 5.0, 1.0).sum())(x)
    g3 = jax.grad(lambda x: spike_fn(x, 5.0, 0.3).sum())(x)
    np.testing.assert_allclose(g3, 0.3 * g1, rtol=1e-6)
    np.testing.assert_allclose(g1, 1.0 / (1.0 + 5.0 * np.abs(np.asarray(x))) ** 2, rtol=1e-6)


def test_calibrate_reaches_target_rate():
    from jaxbrain.lm.model import calibrate, init_params, make_model
    spec = BrainSpec.scale("tiny", substeps=2)
    model = make_model(spec, 20)
    params = init_params(model, jax.random.key(0))
    x = np.random.default_rng(0).integers(0, 20, (4, 8))
    _, rates = calibrate(model, params, x, 0.05)
    assert np.all(np.abs(np.log(rates[1:] / 0.05)) < np.log(1.2)), rates
