"""k-cap: exact top-k with ties to the lower index, for both methods."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain.assemblies import kcap


def _ref(x, k):
    return np.sort(np.lexsort((np.arange(x.size), -x))[:k])


@pytest.mark.parametrize("case", ["binomial", "learned", "all_equal", "big_tie"])
def test_threshold_and_top_k_match_reference(case):
    rng = np.random.default_rng(0)
    n, k = 100_000, 200
    x = rng.binomial(50, 0.1, n).astype(np.float32)
    if case == "learned":
        x[rng.integers(0, n, 500)] += rng.random(500).astype(np.float32) * 4
    elif case == "all_equal":
        x[:] = 2.0
    elif case == "big_tie":
        x = np.minimum(x, 5.0)   # tens of thousands tied at the k-th value
        x[rng.integers(0, n, 50)] += 0.25
    ref = _ref(x, k)
    thr = np.asarray(jax.jit(kcap.k_cap_threshold, static_argnums=1)(jnp.asarray(x), k))
    top = np.asarray(jax.jit(kcap.k_cap_top_k, static_argnums=1)(jnp.asarray(x), k))
    assert np.array_equal(thr, ref)
    assert np.array_equal(top, ref)


def test_k_cap_validates():
    with pytest.raises(ValueError, match="k=0"):
        kcap.k_cap(jnp.zeros(10), 0)
    with pytest.raises(ValueError, match="method"):
        kcap.k_cap(jnp.zeros(10), 2, "bogus")
