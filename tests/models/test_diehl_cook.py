"""Diehl & Cook network: closed-form STDP window = library rule, learning on a real MNIST
slice beats chance and an untrained network, and an interrupted run resumes exactly."""

import importlib
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain.datasets.mnist import load_mnist
from jaxbrain.models import diehl_cook as dc
from jaxbrain.plasticity import DiehlCookParams, accumulate, bump, decay, diehl_cook_stdp


def test_last_spike_trace_equals_stepwise_trace():
    s = (np.random.default_rng(0).random((60, 4)) < 0.1).astype(np.float32)
    got = dc.last_spike_trace(jnp.asarray(s), 20.0, 0.5)
    x = jnp.zeros(4)
    for t in range(60):
        x = decay(x, 20.0, 0.5)
        np.testing.assert_allclose(np.asarray(got[t]), np.asarray(x), rtol=1e-5, atol=1e-7)
        x = bump(x, jnp.asarray(s[t]), True)


def test_stdp_window_equals_library_rule():
    p = DiehlCookParams()
    rng = np.random.default_rng(1)
    s_in = jnp.asarray((rng.random((200, 7)) < 0.05).astype(np.float32))
    s_e = jnp.asarray((rng.random((200, 3)) < 0.05).astype(np.float32))
    pot, dep = dc.stdp_window(p, s_in, s_e, 0.5)
    pot2, dep2, _ = accumulate(diehl_cook_stdp, p, diehl_cook_stdp.init(p, 7, 3), s_in, s_e, 0.5)
    np.testing.assert_allclose(np.asarray(pot), np.asarray(pot2), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(np.asarray(dep), np.asarray(dep2), rtol=1e-5, atol=1e-9)


def test_learning_beats_chance_on_real_mnist():
    """50 neurons, 300 training images: labels from 300 training images, 200 test images."""
    x, y = load_mnist("train", n=300)
    xt, yt = load_mnist("test", n=200)
    p = dc.DCParams(n_e=50, unroll=4)
    st0 = dc.init(p, 0)
    resp = jax.jit(dc.respond, static_argnums=(5,))

    def accuracy(st):
        cl = resp(p, st, jnp.asarray(x), jnp.arange(300, dtype=jnp.uint32), 0, dc.STREAM_LABEL)
        ct = resp(p, st, jnp.asarray(xt), jnp.arange(200, dtype=jnp.uint32), 0, dc.STREAM_TEST)
        pred = dc.predict(ct, dc.assign_labels(cl, jnp.asarray(y)))
        return float(jnp.mean(pred == jnp.asarray(yt)))

    st, counts, attempts = jax.jit(dc.train_chunk)(p, st0, jnp.asarray(x),
                                                    jnp.arange(300, dtype=jnp.uint32), 0)
    assert float(jnp.mean(jnp.sum(counts, 1))) >= 5.0          # the re-presentation rule holds
    np.testing.assert_allclose(np.asarray(jnp.sum(st.w, 0)), 78.0, rtol=0.05)  # normalised + 1 update
    assert float(st.theta.mean()) > 0.0                          # thresholds adapted
    acc = accuracy(st)
    assert acc > 0.35, acc                                       # chance is 0.10


def _run(tmp: Path, **overrides):
    from jaxbrain.runs import execute
    sets = [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in overrides.items()]
    return execute("mnist_diehl_cook", str(tmp), sets)


def _ckpt(tmp):
    from jaxbrain.checkpoint import Checkpointer
    c = Checkpointer(Path(tmp) / "ckpt")
    like = {"w": np.zeros((1, 784, 8), np.float32), "theta": np.zeros((1, 8), np.float32)}
    return c.latest_step(), c.restore(like)


def test_resume_continues_exactly(tmp_path):
    small = dict(n_e=8, n_train=40, n_label=20, n_test=20, seeds=[3], qat_bits=[], ptq_bits=[],
                 eval_stp=False, t_present=50.0, chunk=20, checkpoint_every=20, infer_batch=20)
    _run(tmp_path / "straight", **small)
    s1 = _run(tmp_path / "cut", **small, max_train_s=1e-9)     # stops after the first chunk
    assert s1["metrics"]["protocol"]["train_images_learned"] == 20
    s2 = _run(tmp_path / "cut", **small)                        # resumes from image 20
    assert s2["metrics"]["protocol"]["train_images_learned"] == 40
    step_a, a = _ckpt(tmp_path / "straight")
    step_b, b = _ckpt(tmp_path / "cut")
    assert step_a == step_b == 40
    np.testing.assert_array_equal(np.asarray(a["w"]), np.asarray(b["w"]))
    np.testing.assert_array_equal(np.asarray(a["theta"]), np.asarray(b["theta"]))
    assert (tmp_path / "cut" / "receptive_fields.png").is_file()
    assert (tmp_path / "cut" / "confusion.png").is_file()


def test_config_errors():
    from jaxbrain.config import ConfigError
    from jaxbrain.runs import prepare
    with pytest.raises(ConfigError, match="n_train"):
        prepare("mnist_diehl_cook", ["n_train=70000"])
    with pytest.raises(ConfigError, match="allowed: 1, 2, 4, 8"):
        prepare("mnist_diehl_cook", ["qat_bits=[3]"])
