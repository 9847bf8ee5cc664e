import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain.lm.sampling import Sampling, sample

LOGITS = jnp.log(jnp.asarray([0.05, 0.5, 0.15, 0.3]))


def _draws(cfg, n=4000):
    keys = jax.random.split(jax.random.key(0), n)
    return np.asarray(jax.vmap(lambda k: sample(k, LOGITS, cfg))(keys))


def test_greedy_and_top1():
    assert int(sample(jax.random.key(1), LOGITS, Sampling(temperature=0.0))) == 1
    assert set(_draws(Sampling(top_k=1), 200)) == {1}


def test_temperature_one_matches_softmax():
    counts = np.bincount(_draws(Sampling()), minlength=4) / 4000
    np.testing.assert_allclose(counts, [0.05, 0.5, 0.15, 0.3], atol=0.03)


def test_top_k_and_top_p_support():
    assert set(_draws(Sampling(top_k=2), 500)) == {1, 3}
    # nucleus 0.7: 0.5 + 0.3 reaches it, so {1, 3}; renormalised 0.625 / 0.375
    d = _draws(Sampling(top_p=0.7))
    assert set(d) == {1, 3}
    assert abs(np.mean(d == 1) - 0.625) < 0.03


def test_bad_settings():
    with pytest.raises(ValueError, match="top_p"):
        Sampling(top_p=0.0)
    with pytest.raises(ValueError, match="temperature"):
        Sampling(temperature=-1.0)
