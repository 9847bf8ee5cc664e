"""Count baselines: the sparse bigram (any vocabulary) equals the dense table."""

import numpy as np

from jaxbrain.lm import baselines as bl


def test_sparse_bigram_equals_dense_table():
    """NLL and most likely successor from sparse counts equal the dense add-alpha table's,
    with ties, unseen pairs and tokens never seen as a predecessor (vocabulary 40, ids < 30)."""
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 30, 2_000)
    ids[100:104] = [7, 3, 7, 5]                     # 7 -> 3 and 7 -> 5 may tie
    v = 40
    lp = bl.bigram(ids, v)
    x, y = rng.integers(0, v, (8, 16)), rng.integers(0, v, (8, 16))
    np.testing.assert_allclose(bl.bigram_nll(ids, v, x, y), -lp[x, y], rtol=1e-12)
    np.testing.assert_array_equal(bl.bigram_argmax(ids, v), lp.argmax(-1))
    assert (bl.bigram_argmax(ids, v)[30:] == 0).all()
