"""The sequential feed-forward option (``feedforward = "sequential"``): modules update in
feed-forward stages within a substep, so the token reaches Broca in its first substep."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain.config import ConfigError, from_dict
from jaxbrain.lm.generate import generate_ids
from jaxbrain.lm.model import (generation_nll, init_carry, init_params, loss_fn, make_model,
                               token_step, with_events, with_fused)
from jaxbrain.lm.modules import MODULES, SEQUENTIAL_STAGES, BrainSpec
from jaxbrain.lm.sampling import Sampling
from jaxbrain.lm.train import TrainConfig, make_optimizer, make_train_step


def _model(substeps=2, vocab=30):
    spec = BrainSpec.scale("tiny", substeps=substeps, feedforward="sequential")
    model = make_model(spec, vocab)
    return model, init_params(model, jax.random.key(0))


def test_bad_value_refused_before_compute():
    with pytest.raises(ConfigError, match="feedforward 'parallel'; allowed"):
        BrainSpec(feedforward="parallel")
    with pytest.raises(ConfigError, match="feedforward"):
        from_dict(TrainConfig, {"feedforward": "parallel"})
    with pytest.raises(ConfigError, match="feedforward='pipelined' only"):
        with_events(make_model(BrainSpec(feedforward="sequential"), 30), (0, 40, 20, 20, 20, 10))
    assert TrainConfig(feedforward="sequential").spec().feedforward == "sequential"
    assert TrainConfig().spec().feedforward == "pipelined"
    # the stages cover every module once, each a contiguous run of MODULES
    spec = BrainSpec(feedforward="sequential")
    assert sorted(m for st in SEQUENTIAL_STAGES for m in st) == sorted(MODULES)
    assert sorted(i for m0, m1 in spec.stages for i in range(m0, m1)) == list(range(6))


def test_token_reaches_broca_in_first_substep():
    """One substep from rest: pipelined, Broca (and so the prediction) cannot see the token
    yet; sequential, it does."""
    x = jnp.arange(6, dtype=jnp.int32)
    out = {}
    for ff in ("pipelined", "sequential"):
        model = make_model(BrainSpec.scale("tiny", substeps=1, feedforward=ff), 30)
        params = init_params(model, jax.random.key(0))
        out[ff] = np.asarray(jax.jit(lambda p: token_step(model, p, init_carry(model, 6), x)[1])(
            params))
    assert np.all(out["pipelined"] == out["pipelined"][0])
    assert np.max(np.abs(out["sequential"] - out["sequential"][0])) > 1e-3


def test_train_step_finite_and_gradient_matches_autodiff():
    """BPTT through the stages: the custom backward (per-stage transposed tables) equals
    XLA's autodiff of the plain gather; one optimiser step gives a finite loss and gradient."""
    model, params = _model()
    x = jnp.asarray(np.random.default_rng(1).integers(0, 30, (4, 9)), jnp.int32)

    def grads(m):
        return jax.jit(jax.value_and_grad(
            lambda p: loss_fn(p, m, x[:, :-1], x[:, 1:], remat=False)[0]))(params)
    (l0, g0) = grads(model)
    (l1, g1) = grads(model._replace(conn=model.conn._replace(out_pos=None, out_row=None)))
    assert float(l0) == float(l1)
    for a, b in zip(jax.tree_util.tree_leaves(g0), jax.tree_util.tree_leaves(g1)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-8)
    # every module's weights get a gradient
    assert all(float(jnp.abs(w).max()) > 0 for w in g0["w"])
    opt, _ = make_optimizer(TrainConfig(steps=10))
    o = make_train_step(model, opt)(params, opt.init(params), x[:, :-1], x[:, 1:])
    assert np.isfinite(float(o.loss)) and np.isfinite(float(o.grad_norm)) and o.grad_norm > 0


def test_generation_matches_teacher_forced():
    """The fused generation path (XLA and Pallas kernel, the latter in the interpreter) gives
    the dense token step's log-probabilities and the same sampled tokens."""
    model, params = _model()
    fm, km = with_fused(model), with_fused(model, kernel=True)
    x = jnp.asarray(np.random.default_rng(2).integers(0, 30, (3, 8)), jnp.int32)
    nll = [np.asarray(jax.jit(lambda p, m=m: generation_nll(m, p, x[:, :-1], x[:, 1:]))(params))
           for m in (model, fm, km)]
    np.testing.assert_array_equal(nll[1], nll[0])
    np.testing.assert_array_equal(nll[2], nll[0])
    prompts, lengths = x[:, :3], jnp.asarray([1, 3, 2], jnp.int32)
    t = [np.asarray(generate_ids(m, params, prompts, lengths, jax.random.key(3), 6,
                                 Sampling(1.0))) for m in (model, km)]
    np.testing.assert_array_equal(t[1], t[0])
