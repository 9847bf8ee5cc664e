"""Low-bit weights: int8 / int4 / int2 affine quantisation, bit packing, and fake
quantisation with a straight-through estimator for quantisation-aware training (QAT).

Affine min-max quantisation with ``b`` bits and ``L = 2**b - 1`` levels, per tensor
(``axis=None``) or per channel (the reduction ``axis``; e.g. ``axis=0`` gives one scale per
post-synaptic neuron of a ``(n_pre, n_post)`` matrix):

    lo = min(w), hi = max(w), scale = (hi - lo) / L
    q = round((w - lo) / scale) in {0..L}   (unsigned codes),   w_hat = lo + q * scale

* Post-training quantisation (PTQ): ``dequantize(quantize(w, bits))`` once after training.
* QAT: the forward pass uses ``fake_quant(w, bits)``; gradients (or any learning rule's
  updates) go to the float "shadow" weights unchanged (straight-through estimator,
  Bengio et al. 2013). ``bits`` may be a traced array, so configurations vmap.
* Memory: codes packed ``8 // bits`` per byte (:func:`pack`) plus two float32 numbers
  (lo, scale) per channel (:func:`memory_bytes`).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, UInt8

__all__ = ["QTensor", "quantize", "dequantize", "fake_quant", "pack", "unpack", "memory_bytes",
           "ALLOWED_BITS"]

ALLOWED_BITS = (1, 2, 4, 8)


class QTensor(NamedTuple):
    """Quantised tensor: ``codes`` (uint8, unpacked), ``lo`` and ``scale`` (float32,
    broadcastable to ``codes``), and ``bits`` (python int)."""
    codes: UInt8[Array, "..."]
    lo: Float[Array, "..."]
    scale: Float[Array, "..."]
    bits: int


def _check_bits(bits) -> None:
    if isinstance(bits, (int, np.integer)) and int(bits) not in ALLOWED_BITS:
        raise ValueError(f"bits = {bits} is not allowed; allowed: {list(ALLOWED_BITS)}")


def _range(w, axis):
    lo = jnp.min(w, axis=axis, keepdims=axis is not None)
    hi = jnp.max(w, axis=axis, keepdims=axis is not None)
    return lo, hi


def _qdq(w, bits, axis):
    levels = jnp.exp2(jnp.asarray(bits, jnp.float32)) - 1.0
    lo, hi = _range(w, axis)
    scale = jnp.where(hi > lo, (hi - lo) / levels, 1.0)
    q = jnp.clip(jnp.round((w - lo) / scale), 0.0, levels)
    return lo + q * scale


def quantize(w: Array, bits: int, axis: int | None = None) -> QTensor:
    """Affine min-max quantisation of ``w`` to ``bits`` (1, 2, 4 or 8) unsigned codes."""
    _check_bits(bits)
    w = jnp.asarray(w, jnp.float32)
    levels = float(2 ** bits - 1)
    lo, hi = _range(w, axis)
    scale = jnp.where(hi > lo, (hi - lo) / levels, 1.0)
    q = jnp.clip(jnp.round((w - lo) / scale), 0.0, levels).astype(jnp.uint8)
    return QTensor(q, lo, scale, int(bits))


def dequantize(qt: QTensor) -> Float[Array, "..."]:
    """Float32 weights ``lo + codes * scale``."""
    return qt.lo + qt.codes.astype(jnp.float32) * qt.scale


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def fake_quant(w: Array, bits, axis: int | None = None) -> Array:
    """Quantise-dequantise ``w`` (forward); identity gradient (straight-through estimator).
    ``bits`` may be a traced scalar (any integer >= 1; >= 24 is effectively float)."""
    return _qdq(w, bits, axis)


def _fq_fwd(w, bits, axis=None):
    return _qdq(w, bits, axis), None


def _fq_bwd(axis, _, g):
    return g, None


fake_quant.defvjp(_fq_fwd, _fq_bwd)


def pack(codes: Array, bits: int) -> UInt8[Array, "m"]:
    """Pack unsigned ``bits``-bit codes, ``8 // bits`` per byte (flattened, zero padded)."""
    _check_bits(bits)
    per = 8 // bits
    flat = jnp.ravel(codes).astype(jnp.uint8)
    pad = (-flat.shape[0]) % per
    flat = jnp.pad(flat, (0, pad)).reshape(-1, per)
    shifts = (jnp.arange(per, dtype=jnp.uint8) * bits).astype(jnp.uint8)
    return jnp.sum(flat << shifts[None, :], axis=1, dtype=jnp.uint32).astype(jnp.uint8)


def unpack(packed: Array, bits: int, size: int) -> UInt8[Array, "size"]:
    """Inverse of :func:`pack`: the first ``size`` codes."""
    _check_bits(bits)
    per = 8 // bits
    shifts = (jnp.arange(per, dtype=jnp.uint8) * bits).astype(jnp.uint8)
    mask = jnp.uint8(2 ** bits - 1)
    codes = (packed[:, None] >> shifts[None, :]) & mask
    return codes.reshape(-1)[:size]


def memory_bytes(shape: tuple[int, ...], bits: int, axis: int | None = None) -> int:
    """Bytes to store a ``shape`` tensor at ``bits`` (packed codes + float32 lo/scale per
    channel); ``bits = 32`` gives the float32 size."""
    n = int(np.prod(shape))
    if bits == 32:
        return 4 * n
    _check_bits(bits)
    channels = 1 if axis is None else n // shape[axis]
    return -(-n * bits // 8) + 8 * channels
