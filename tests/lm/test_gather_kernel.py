"""The Pallas slot-gather kernel (jaxbrain.lm.gather_kernel) in the Pallas interpreter: the
fused path's sum, term for term in slot order, so bit for bit."""
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain.lm.gather_kernel import batch_tile, gather_sum, slot_input


@pytest.mark.parametrize("batch", [1, 24, 256])
def test_slot_input_matches_sum_in_slot_order(batch):
    rng = np.random.default_rng(batch)
    sizes, n = (64, 128, 32), 128
    cols = ((0, 0, 5), (2, 5, 9))          # module 1 is read by no slot
    spikes = tuple(jnp.asarray(rng.random((m, batch)) < 0.2) for m in sizes)
    src = np.concatenate([rng.integers(0, 64, (5, n)), rng.integers(0, 32, (4, n))])
    src = jnp.asarray(src, jnp.int32)
    wt = jnp.asarray(rng.normal(size=(9, n)), jnp.float32)
    want = jnp.zeros((n, batch), jnp.float32)
    for m, a, z in cols:
        for k in range(a, z):
            want = want + jnp.where(spikes[m][src[k]], wt[k][:, None], 0.0)
    got = slot_input(cols, wt, src, tuple(s.astype(jnp.int8) for s in spikes), interpret=True)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))



def test_batch_tile_and_bad_input():
    assert [batch_tile(b) for b in (1, 24, 256, 1024)] == [1, 8, 128, 128]
    wt, src = jnp.zeros((2, 80)), jnp.zeros((2, 80), jnp.int32)
    s = (jnp.zeros((8, 4), jnp.int8),)
    with pytest.raises(ValueError, match="multiple of block_n"):
        slot_input(((0, 0, 2),), wt, src, s, interpret=True)
    with pytest.raises(ValueError, match="need int8"):
        slot_input(((0, 0, 2),), wt[:, :64], src[:, :64], (s[0].astype(bool),), interpret=True)
    with pytest.raises(ValueError, match="src shape"):
        slot_input(((0, 0, 2),), wt[:, :64], src[:1, :64], s, interpret=True)


def test_alif_substep_matches_input_then_update():
    """Input and adaptive-LIF update in one kernel = slot_input, then alif_update."""
    import jax
    from jaxbrain.lm.gather_kernel import alif_substep
    from jaxbrain.lm.modules import alif_update
    rng = np.random.default_rng(0)
    batch, n = 32, 64
    s = tuple(jnp.asarray((rng.random((m, batch)) < 0.3).astype(np.int8)) for m in (64, 64))
    cols = ((0, 0, 5), (1, 5, 9))
    src = jnp.asarray(rng.integers(0, 64, (9, n)), jnp.int32)
    wt = jnp.asarray(rng.normal(size=(9, n)), jnp.float32)
    v = jnp.asarray(rng.normal(size=(n, batch)), jnp.float32)
    a = jnp.asarray(rng.random((n, batch)), jnp.float32)
    bias = jnp.asarray(rng.normal(size=n), jnp.float32)
    g_in = jnp.asarray(rng.random(batch) + 0.5, jnp.float32)
    g_beta = jnp.asarray(rng.random(batch) + 0.5, jnp.float32)
    alpha, rho, beta0 = np.float32(0.9), np.float32(0.95), np.float32(1.7)

    @jax.jit
    def reference(s, v, a):
        syn = slot_input(cols, wt, src, s, interpret=True)
        current = g_in[None, :] * (syn + bias[:, None])
        v, a, theta = alif_update(alpha, rho, beta0 * g_beta[None, :], v, a,
                                  s[1].astype(jnp.float32), current)
        return v, a, ((v - theta) / theta >= 0).astype(jnp.int8)

    want = reference(s, v, a)
    got = alif_substep(cols, wt, src, s, 1, v, a, bias, g_in, g_beta, alpha=float(alpha),
                       rho=float(rho), beta0=float(beta0), interpret=True)
    assert 0 < int(jnp.sum(got[2])) < n * batch
    for x, y in zip(got, want):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_gather_sum_matches_xla_sum(dtype):
    """The training path's kernel: the slots summed in order, indices past the end clamped."""
    from jaxbrain.lm.modules import _gather_sum_xla
    rng = np.random.default_rng(3)
    n, k, m, batch = 64, 7, 96, 16
    x = jnp.asarray(rng.normal(size=(m, batch)), dtype)
    idx = rng.integers(0, m, (n, k))
    idx[:, -1] = m                                    # padding: out of range, zero weight
    w = rng.normal(size=(n, k)).astype(np.float32)
    w[:, -1] = 0.0
    idx, w = jnp.asarray(idx, jnp.int32), jnp.asarray(w, dtype)
    got = gather_sum(w.T, idx.T, x, interpret=True)
    np.testing.assert_allclose(np.asarray(got), np.asarray(_gather_sum_xla(w, idx, x)),
                               rtol=1e-6, atol=1e-6)
