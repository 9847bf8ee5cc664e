"""Next-token sampling on device: greedy, temperature, top-k, top-p (nucleus).

:class:`Sampling` is a frozen (hashable) dataclass, passed to jitted functions as a static
argument, so each strategy compiles to its own small kernel (``lax.top_k`` for top-k, one
sort for top-p) instead of paying for all of them.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

__all__ = ["Sampling", "sample"]


@dataclasses.dataclass(frozen=True)
class Sampling:
    """Sampling settings.

    Attributes:
        temperature: > 0 divides the logits; 0 means greedy (argmax).
        top_k: keep the k most probable tokens (0: off).
        top_p: keep the smallest set whose probability reaches top_p (1.0: off).
        ne_explore: noradrenaline exploration: temperature * exp(ne_explore * NE).
    """
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    ne_explore: float = 0.0

    def __post_init__(self):
        if self.temperature < 0:
            raise ValueError(f"temperature {self.temperature} must be >= 0 (0 = greedy)")
        if self.top_k < 0:
            raise ValueError(f"top_k {self.top_k} must be >= 0 (0 = off)")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p {self.top_p} must be in (0, 1] (1 = off)")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


def sample(key, logits: Float[Array, "*b V"], cfg: Sampling, temp_scale=1.0) -> Array:
    """Draw token ids (int32, shape ``*b``) from ``logits`` under ``cfg``.

    ``temp_scale`` (broadcastable to ``*b``) multiplies the temperature (NE exploration)."""
    if cfg.greedy:
        return jnp.argmax(logits, axis=-1).astype(jnp.int32)
    t = cfg.temperature * jnp.asarray(temp_scale, jnp.float32)
    logits = logits / jnp.expand_dims(t, -1) if jnp.ndim(t) else logits / t
    neg = jnp.finfo(logits.dtype).min
    v = logits.shape[-1]
    if 0 < cfg.top_k < v:
        kth = jax.lax.top_k(logits, cfg.top_k)[0][..., -1:]
        logits = jnp.where(logits < kth, neg, logits)
    if cfg.top_p < 1.0:
        srt = jnp.sort(logits, axis=-1)[..., ::-1]
        probs = jax.nn.softmax(srt, axis=-1)
        cum = jnp.cumsum(probs, axis=-1)
        # number of tokens kept: first index where the cumulative mass reaches top_p, +1
        n_keep = jnp.sum((cum - probs) < cfg.top_p, axis=-1, keepdims=True)
        cutoff = jnp.take_along_axis(srt, jnp.maximum(n_keep - 1, 0), axis=-1)
        logits = jnp.where(logits < cutoff, neg, logits)
    return jax.random.categorical(key, logits, axis=-1).astype(jnp.int32)
