"""The fused generation path's substep as one GPU kernel per module (Pallas on Triton).

:func:`jaxbrain.lm.modules.fused_input` writes the input of a target module as a chain of
``K_t`` slot terms, ``acc + where(s[m_k][src[k]], wt[k], 0)``. XLA's GPU backend does not keep
that chain in one fusion: on the H100 it emitted about 3,400 kernels per generated token at
the current config (425 per substep) and the fused path ran at 28.9k tok/s (docs/lm.md).
Here program ``(i, j)`` owns a tile of ``block_n`` target neurons by ``block_b`` batch
columns, keeps the tile's sums in registers and walks the slots in order, loading per slot
the tile's source indices and weights and one gathered ``(block_n, block_b)`` tile of 1-byte
spikes (rows of ``block_b`` contiguous bytes). The terms are added in the same order as
:func:`~jaxbrain.lm.modules.fused_input`, so the two agree bit for bit (tested in the Pallas
interpreter on the CPU).

* :func:`slot_input` returns the sum, the synaptic input ``(n, B)``;
* :func:`gather_sum` is the same walk over one table of float values (``x`` of any float
  dtype instead of 1-byte spikes): the training path's forward input and its spike gradient
  (:func:`jaxbrain.lm.modules.synaptic_input`);
* :func:`alif_substep` goes on in registers with the module's adaptive-LIF update
  (:func:`jaxbrain.lm.modules.alif_update`, the same operations in the same order) and writes
  only the new membrane and adaptation (in place) and 1-byte spikes: the input never goes to
  memory.

Cost per substep and target module: ``K_t n_t B`` spike bytes gathered (mostly from L2: the
spikes of a batch of 1,024 at the current config are 40 MB) and ``8 K_t n_t`` bytes of
indices and weights per batch tile.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plt

__all__ = ["slot_input", "alif_substep", "gather_sum", "batch_tile"]

# tiles (target neurons x batch columns) and warps per program: the fastest of the sweeps on
# the H100 (docs/lm.md); 128 columns are 128 contiguous spike bytes per gathered row
BLOCK_N, BLOCK_B, NUM_WARPS = 32, 128, 8            # slot_input
ALIF_BLOCK_N = 16                                   # alif_substep (more registers live)


def batch_tile(batch: int, block_b: int = BLOCK_B) -> int:
    """Batch columns per program: the largest power of two that divides ``batch``, at most
    ``block_b`` (Triton tiles are powers of two; a batch of 1 gives 1)."""
    tb = 1
    while tb * 2 <= block_b and batch % (tb * 2) == 0:
        tb *= 2
    return tb


def _gather_sum(src_ref, wt_ref, s_refs, cols, used, rows, batch, shape):
    """The tile's synaptic sum ``(tn, tb)``, slot by slot in order."""
    acc = jnp.zeros(shape, jnp.float32)
    for m, a, z in cols:
        s_ref = s_refs[used.index(m)]

        def slot(k, acc, s_ref=s_ref):
            idx = src_ref[k, rows]                     # (tn,) rows of source module m
            w = wt_ref[k, rows]                        # (tn,) float32
            spike = s_ref[idx, batch]                  # (tn, tb) int8
            return acc + jnp.where(spike != 0, w[:, None], 0.0)

        acc = jax.lax.fori_loop(a, z, slot, acc)
    return acc


def _input_kernel(src_ref, wt_ref, *refs, cols, used, tn, tb):
    *s_refs, out_ref = refs
    rows, batch = pl.ds(pl.program_id(0) * tn, tn), pl.ds(pl.program_id(1) * tb, tb)
    out_ref[...] = _gather_sum(src_ref, wt_ref, s_refs, cols, used, rows, batch, (tn, tb))


def _alif_kernel(src_ref, wt_ref, bias_ref, gin_ref, gbeta_ref, v_ref, a_ref, own_ref, *refs,
                 cols, used, tn, tb, alpha, rho, beta0, one_minus_rho):
    *s_refs, v_out, a_out, s_out = refs
    rows, batch = pl.ds(pl.program_id(0) * tn, tn), pl.ds(pl.program_id(1) * tb, tb)
    syn = _gather_sum(src_ref, wt_ref, s_refs, cols, used, rows, batch, (tn, tb))
    current = gin_ref[batch][None, :] * (syn + bias_ref[rows][:, None])
    beta = beta0 * gbeta_ref[batch][None, :]
    v, a = v_ref[rows, batch], a_ref[rows, batch]
    s = own_ref[rows, batch].astype(jnp.float32)
    # jaxbrain.lm.modules.alif_update, operation for operation
    theta_prev = 1.0 + beta * a
    v = alpha * v + current - theta_prev * s
    a = rho * a + one_minus_rho * s
    theta = 1.0 + beta * a
    v_out[...] = v
    a_out[...] = a
    s_out[...] = ((v - theta) / theta >= 0).astype(jnp.int8)


def _check(cols, wt, src, s):
    k, n = wt.shape
    if src.shape != (k, n):
        raise ValueError(f"src shape {src.shape} must equal the weights' {(k, n)}")
    used = tuple(sorted({m for m, _, _ in cols}))
    batch = s[used[0]].shape[1]
    for m in used:
        if s[m].dtype != jnp.int8 or s[m].shape[1] != batch:
            raise ValueError(f"spikes of module {m}: need int8 (n_m, {batch}); got "
                             f"{s[m].dtype} {s[m].shape}")
    return n, batch, used


def _grid(n, batch, block_n, block_b):
    tn = min(block_n, n)
    if n % tn or tn & (tn - 1):
        raise ValueError(f"{n} target neurons: need a multiple of block_n={tn}, a power of two")
    tb = batch_tile(batch, block_b)
    return tn, tb, (n // tn, batch // tb), pl.BlockSpec((tn, tb), lambda i, j: (i, j))


@functools.partial(jax.jit, static_argnames=("cols", "block_n", "block_b", "num_warps",
                                             "interpret"))
def slot_input(cols: tuple, wt, src, s: tuple, *, block_n: int = BLOCK_N,
               block_b: int = BLOCK_B, num_warps: int = NUM_WARPS, interpret: bool = False):
    """Synaptic input (n, B) float32 of one target module, ``sum_k where(s[m_k][src[k]] != 0,
    wt[k], 0)`` summed over the slots in order.

    Args:
        cols: static ``((m, a, z), ...)``: slots ``a .. z-1`` read source module ``m``
            (:func:`jaxbrain.lm.modules.projection_columns` of the target).
        wt: (K, n) float32 weights, slot-major.
        src: (K, n) int32 row of each slot in its source module.
        s: per module (n_m, B) int8 spikes (0 or 1); modules no slot reads may be any array.
        block_n: target neurons per program (a power of two; ``n`` must be a multiple).
        block_b: most batch columns per program (see :func:`batch_tile`).
        num_warps: Triton warps per program.
        interpret: run the Pallas interpreter (CPU tests).
    """
    n, batch, used = _check(cols, wt, src, s)
    tn, tb, grid, spec = _grid(n, batch, block_n, block_b)
    kernel = functools.partial(_input_kernel, cols=tuple(cols), used=used, tn=tn, tb=tb)
    return pl.pallas_call(
        kernel, grid=grid, out_specs=spec, interpret=interpret,
        out_shape=jax.ShapeDtypeStruct((n, batch), jnp.float32),
        compiler_params=plt.CompilerParams(num_warps=num_warps, num_stages=1),
    )(src, wt, *(s[m] for m in used))


@functools.partial(jax.jit, static_argnames=("cols", "target", "alpha", "rho", "beta0",
                                             "block_n", "block_b", "num_warps", "interpret"))
def alif_substep(cols: tuple, wt, src, s: tuple, target: int, v, a, bias, g_in, g_beta, *,
                 alpha: float, rho: float, beta0: float, block_n: int = ALIF_BLOCK_N,
                 block_b: int = BLOCK_B, num_warps: int = NUM_WARPS, interpret: bool = False):
    """One substep of target module ``target``: its synaptic input (:func:`slot_input`) and
    adaptive-LIF update in one kernel. With ``s_prev = s[target]``::

        current = g_in * (input + bias)
        v, a, theta = alif_update(alpha, rho, beta0 * g_beta, v, a, s_prev, current)
        spike = (v - theta) / theta >= 0

    Args (besides those of :func:`slot_input`):
        v, a: (n, B) float32 membrane and adaptation (dimensionless, threshold units).
        bias: (n,) float32 constant input; g_in, g_beta: (B,) float32 neuromodulatory gains.
        alpha, rho, beta0: the module's membrane and adaptation decays per substep and
            adaptation strength (static floats, float32 values).
    Returns ``(v, a, spikes)``: (n, B) float32, float32, int8; the new ``v`` and ``a`` reuse
    the input buffers (updated in place: without it XLA copied both every substep of a scan).
    """
    n, batch, used = _check(cols, wt, src, s)
    tn, tb, grid, spec = _grid(n, batch, block_n, block_b)
    f32 = np.float32
    kernel = functools.partial(
        _alif_kernel, cols=tuple(cols), used=used, tn=tn, tb=tb, alpha=float(f32(alpha)),
        rho=float(f32(rho)), beta0=float(f32(beta0)), one_minus_rho=float(f32(1.0) - f32(rho)))
    return pl.pallas_call(
        kernel, grid=grid, out_specs=(spec, spec, spec), interpret=interpret,
        input_output_aliases={5: 0, 6: 1},      # v and a updated in place (no carry copies)
        out_shape=(jax.ShapeDtypeStruct((n, batch), jnp.float32),
                   jax.ShapeDtypeStruct((n, batch), jnp.float32),
                   jax.ShapeDtypeStruct((n, batch), jnp.int8)),
        compiler_params=plt.CompilerParams(num_warps=num_warps, num_stages=1),
    )(src, wt, bias, g_in, g_beta, v, a, s[target], *(s[m] for m in used))


def _gather_sum_kernel(src_ref, wt_ref, x_ref, out_ref, *, k, tn, tb):
    rows, batch = pl.ds(pl.program_id(0) * tn, tn), pl.ds(pl.program_id(1) * tb, tb)

    def slot(j, acc):
        return acc + wt_ref[j, rows][:, None] * x_ref[src_ref[j, rows], batch].astype(jnp.float32)

    out_ref[...] = jax.lax.fori_loop(0, k, slot, jnp.zeros((tn, tb), jnp.float32))


@functools.partial(jax.jit, static_argnames=("block_n", "block_b", "num_warps", "interpret"))
def gather_sum(wt, src, x, *, block_n: int = BLOCK_N, block_b: int = BLOCK_B,
               num_warps: int = NUM_WARPS, interpret: bool = False):
    """``out[j, b] = sum_k wt[k, j] * x[src[k, j], b]`` (n, B) float32, slots summed in order.

    Args:
        wt: (K, n) float32 weights, slot-major.
        src: (K, n) int32 rows of ``x``; indices outside ``[0, M)`` are clamped (as XLA's
            gather does), so padded slots must carry a zero weight.
        x: (M, B) values of any float dtype, converted to float32 after the gather.
    """
    k, n = wt.shape
    if src.shape != (k, n):
        raise ValueError(f"src shape {src.shape} must equal the weights' {(k, n)}")
    if x.ndim != 2:
        raise ValueError(f"x must be (M, B); got shape {x.shape}")
    tn, tb, grid, spec = _grid(n, x.shape[1], block_n, block_b)
    src = jnp.clip(src, 0, x.shape[0] - 1)
    kernel = functools.partial(_gather_sum_kernel, k=k, tn=tn, tb=tb)
    return pl.pallas_call(
        kernel, grid=grid, out_specs=spec, interpret=interpret,
        out_shape=jax.ShapeDtypeStruct((n, x.shape[1]), jnp.float32),
        compiler_params=plt.CompilerParams(num_warps=num_warps, num_stages=1),
    )(src, wt.astype(jnp.float32), x)
