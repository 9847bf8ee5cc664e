"""Tsodyks-Markram short-term plasticity (Tsodyks, Pawelzik & Markram 1998; Brian2's
TPM98 ordering).

Per presynaptic neuron: utilisation ``u`` (decays to 0 with tau_f) and available resources
``x`` (recovers to 1 with tau_d). At a spike after an interval D:

    u <- u exp(-D/tau_f);  u <- u + U (1 - u)
    x <- 1 - (1 - x) exp(-D/tau_d)
    release = u x;  x <- x - u x

In steps of ``dt`` the decays compose exactly, so :func:`tsodyks_markram` ``.update`` applies
the decay every step and the jump on the steps with a spike. ``release`` multiplies the
synaptic weight (for a static weight ``w`` the PSC amplitude is ``w * release``).
``tau_f = 0`` gives a purely depressing synapse (``u = U`` at every spike).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax.numpy as jnp
from flax import struct
from jaxtyping import Array, Float

__all__ = ["STPParams", "STPState", "tsodyks_markram", "depressing", "facilitating",
           "steady_state_ratio"]


@struct.dataclass
class STPParams:
    """Tsodyks-Markram parameters: ``U`` (utilisation increment), ``tau_d``, ``tau_f`` (ms)."""
    U: float = 0.5
    tau_d: float = 800.0
    tau_f: float = 0.0


class STPState(NamedTuple):
    """``u`` and ``x`` per presynaptic neuron (n_pre,)."""
    u: Float[Array, "n_pre"]
    x: Float[Array, "n_pre"]


class STPModel(NamedTuple):
    init: Callable
    update: Callable


def _init(params: STPParams, n_pre: int) -> STPState:
    return STPState(jnp.zeros((n_pre,), jnp.float32), jnp.ones((n_pre,), jnp.float32))


def _update(p: STPParams, s: STPState, spikes, dt):
    """One step of ``dt`` ms; returns ``(release, state)``, release = ``u x`` at spikes, else 0."""
    dt = jnp.asarray(dt, jnp.float32)
    u = s.u * jnp.where(p.tau_f > 0, jnp.exp(-dt / jnp.where(p.tau_f > 0, p.tau_f, 1.0)), 0.0)
    x = 1.0 - (1.0 - s.x) * jnp.exp(-dt / p.tau_d)
    u = jnp.where(spikes > 0, u + p.U * (1.0 - u), u)
    release = spikes * u * x
    return release, STPState(u, x - release)


tsodyks_markram = STPModel(_init, _update)
"""``init(params, n_pre) -> STPState``; ``update(params, state, spikes, dt) -> (release, state)``."""


def depressing() -> STPParams:
    """Depressing synapse of Tsodyks & Markram / Brian2 examples: U 0.5, tau_d 800 ms."""
    return STPParams(U=0.5, tau_d=800.0, tau_f=0.0)


def facilitating() -> STPParams:
    """Facilitating synapse: U 0.03, tau_d 130 ms, tau_f 530 ms."""
    return STPParams(U=0.03, tau_d=130.0, tau_f=530.0)


def steady_state_ratio(U, tau_d, period):
    """Analytic steady-state release / first release of a depressing synapse (tau_f = 0)
    at a regular train of ``period`` ms: ``(1 - E) / (1 - (1 - U) E)``, ``E = exp(-T/tau_d)``."""
    e = jnp.exp(-jnp.asarray(period, jnp.float32) / tau_d)
    return (1.0 - e) / (1.0 - (1.0 - U) * e)
