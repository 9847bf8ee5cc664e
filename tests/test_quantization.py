import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain.quantization import (dequantize, fake_quant, memory_bytes, pack, quantize,
                                   unpack)


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_error_bounded_by_half_step(bits):
    w = jnp.asarray(np.random.default_rng(0).random((50, 7)), jnp.float32)
    qt = quantize(w, bits, axis=0)
    assert qt.codes.dtype == jnp.uint8 and int(qt.codes.max()) <= 2 ** bits - 1
    err = jnp.abs(dequantize(qt) - w)
    assert bool(jnp.all(err <= qt.scale / 2 + 1e-6))
    assert qt.lo.shape == (1, 7)
    # levels = 2**bits exactly: a ramp hits every code
    ramp = jnp.linspace(0.0, 1.0, 2 ** bits)
    np.testing.assert_array_equal(np.asarray(quantize(ramp, bits).codes), np.arange(2 ** bits))


def test_fake_quant_matches_ptq_and_has_straight_through_gradient():
    w = jnp.asarray(np.random.default_rng(1).random((20, 3)), jnp.float32)
    np.testing.assert_allclose(np.asarray(fake_quant(w, 4, 0)),
                               np.asarray(dequantize(quantize(w, 4, axis=0))), rtol=1e-6)
    g = jax.grad(lambda x: jnp.sum(fake_quant(x, 2, None) * jnp.arange(60.0).reshape(20, 3)))(w)
    np.testing.assert_allclose(np.asarray(g), np.arange(60.0).reshape(20, 3))
    # bits may be traced: vmap over bit widths
    out = jax.vmap(lambda b: fake_quant(w, b, 0))(jnp.array([2.0, 8.0]))
    assert float(jnp.abs(out[1] - w).max()) < float(jnp.abs(out[0] - w).max())


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_pack_roundtrip_and_memory(bits):
    codes = jnp.asarray(np.random.default_rng(2).integers(0, 2 ** bits, 1001), jnp.uint8)
    packed = pack(codes, bits)
    assert packed.shape[0] == -(-1001 * bits // 8)
    np.testing.assert_array_equal(np.asarray(unpack(packed, bits, 1001)), np.asarray(codes))
    assert memory_bytes((784, 400), bits, axis=0) == 784 * 400 * bits // 8 + 8 * 400
    assert memory_bytes((784, 400), 32) == 784 * 400 * 4


def test_bad_bits():
    with pytest.raises(ValueError, match="allowed"):
        quantize(jnp.zeros(3), 3)
