"""Neuromodulators of the spiking LM: dopamine, noradrenaline and serotonin analogues.

Three scalar signals per sequence, recomputed at every token from the model's own previous
prediction ``logp_prev`` (log-probabilities over the vocabulary) and the token that arrived:

* **dopamine (DA)**, reward prediction error: ``DA = tanh(surprise - baseline)`` with
  ``surprise = -log p_prev(token)`` and ``baseline`` a running average of the surprise
  (time constant ``TAU_DA`` tokens). Positive when the token was worse predicted than usual.
  Effect: multiplies the input gain of the working-memory and action-selection modules
  (PFC, Hippocampus, Basal Ganglia): a surprising token is written into working memory more
  strongly (a gating signal, as in PBWM-style models).
* **noradrenaline (NE)**, uncertainty / arousal: ``NE = 2 * H(p_prev) / log V - 1`` in [-1, 1]
  (normalised entropy of the previous prediction). Effect: a global input gain on every
  module (arousal raises neural gain), and, when sampling, an exploration factor on the
  temperature ``T * exp(ne_explore * NE)``.
* **serotonin (5-HT)**, average reward / patience: ``HT = 2 * r - 1`` with ``r`` a slow running
  average (``TAU_HT`` tokens) of ``p_prev(token)``. Effect: scales the threshold-adaptation
  strength ``beta`` (high serotonin: stronger adaptation, slower integration).

The signals are ``stop_gradient``-ed (they are modulators, not pathways); how strongly each
acts on each module is a learned (3, 6) coefficient matrix. A ``mask`` of three 0/1 values
switches individual modulators off (ablation) without recompiling.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .modules import MODULES, BrainSpec

__all__ = ["NAMES", "TAU_DA", "TAU_HT", "ModulatorState", "init", "signals", "init_coefficients",
           "module_gains", "gains"]

NAMES = ("dopamine", "noradrenaline", "serotonin")
TAU_DA = 20.0   # tokens
TAU_HT = 200.0  # tokens


class ModulatorState(NamedTuple):
    """Running averages: surprise baseline (nats) and reward rate r in [0, 1]."""
    baseline: Float[Array, ""]
    reward: Float[Array, ""]


def init(vocab_size: int) -> ModulatorState:
    return ModulatorState(jnp.asarray(np.log(vocab_size), jnp.float32),
                          jnp.asarray(1.0 / vocab_size, jnp.float32))


def signals(logp_prev: Float[Array, "V"], token, mstate: ModulatorState,
            mask: Float[Array, "3"]) -> tuple[Float[Array, "3"], ModulatorState]:
    """(DA, NE, HT) for this token and the updated running averages."""
    logp_prev = jax.lax.stop_gradient(logp_prev)
    v = logp_prev.shape[-1]
    surprise = -logp_prev[token]
    entropy = -jnp.sum(jnp.exp(logp_prev) * logp_prev) / np.log(max(v, 2))
    da = jnp.tanh(surprise - mstate.baseline)
    ne = 2.0 * entropy - 1.0
    ht = 2.0 * mstate.reward - 1.0
    sig = jnp.stack([da, ne, ht]) * mask
    new = ModulatorState(mstate.baseline + (surprise - mstate.baseline) / TAU_DA,
                         mstate.reward + (jnp.exp(-surprise) - mstate.reward) / TAU_HT)
    return sig, new


def init_coefficients() -> Float[Array, "3 6"]:
    """Initial coefficients: DA on PFC/Hippocampus/BG, NE on all, 5-HT on PFC/Hippocampus."""
    k = np.zeros((3, len(MODULES)), np.float32)
    for m in ("pfc", "hippocampus", "basal_ganglia"):
        k[0, MODULES.index(m)] = 0.3
    k[1, :] = 0.2
    for m in ("pfc", "hippocampus"):
        k[2, MODULES.index(m)] = 0.3
    return jnp.asarray(k)


def module_gains(coef: Float[Array, "3 6"], sig: Float[Array, "B 3"]):
    """Per-module, per-sequence (6, B) input gain (DA + NE) and adaptation gain (5-HT), both
    >= 0.05."""
    per_module_in = 1.0 + coef[0][:, None] * sig[None, :, 0] + coef[1][:, None] * sig[None, :, 1]
    per_module_beta = 1.0 + coef[2][:, None] * sig[None, :, 2]
    return jnp.maximum(per_module_in, 0.05), jnp.maximum(per_module_beta, 0.05)


def gains(spec: BrainSpec, coef: Float[Array, "3 6"], sig: Float[Array, "B 3"]):
    """Per-neuron, per-sequence (N, B) input gain and adaptation gain: :func:`module_gains`
    repeated over each module's neurons."""
    rep = np.asarray(spec.sizes)
    return tuple(jnp.repeat(g, rep, axis=0, total_repeat_length=spec.n)
                 for g in module_gains(coef, sig))
