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
