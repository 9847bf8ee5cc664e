"""Stimulation protocols for validating plasticity rules on one synapse (or a batch of them).

:func:`pairing_protocol` builds the spike trains of the classic pairing experiment
(Sjostrom et al. 2001; Pfister & Gerstner 2006 Fig. 4A): ``n_pairs`` pre/post pairs at
frequency ``rho`` Hz, post ``delta_t`` ms after pre (negative: post first).
:func:`run_rule` drives any :class:`~.traces.PlasticityRule` with given trains on a dense
``(n_pre, n_post)`` projection and returns the final weights.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .traces import PlasticityRule

__all__ = ["pairing_protocol", "run_rule"]


def pairing_protocol(n_pairs: int, rho: float, delta_t: float, dt: float,
                     n_steps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pre and post spike trains ``(T, 1)`` float32 for ``n_pairs`` pairings at ``rho`` Hz.

    Pre spikes at ``t_k = t0 + k * 1000 / rho`` ms, post at ``t_k + delta_t``; ``t0`` =
    ``max(0, -delta_t)`` so no spike is before 0. Times must fall on the ``dt`` grid (checked).
    ``n_steps`` pads the trains with silence (to stack protocols of different lengths).
    """
    period = 1000.0 / rho
    t0 = max(0.0, -delta_t)
    pre_t = t0 + period * np.arange(n_pairs)
    post_t = pre_t + delta_t
    for name, t in (("pre", pre_t), ("post", post_t)):
        k = t / dt
        if not np.allclose(k, np.round(k), atol=1e-6):
            raise ValueError(f"{name} spike times {t[:3]}... are not multiples of dt = {dt} ms")
    need = int(round(max(pre_t[-1], post_t[-1]) / dt)) + 2
    T = need if n_steps is None else n_steps
    if T < need:
        raise ValueError(f"n_steps = {T} is shorter than the protocol ({need} steps)")
    pre = np.zeros((T, 1), np.float32)
    post = np.zeros((T, 1), np.float32)
    pre[np.round(pre_t / dt).astype(int), 0] = 1.0
    post[np.round(post_t / dt).astype(int), 0] = 1.0
    return pre, post


def run_rule(rule: PlasticityRule, params, pre_seq, post_seq, w0, dt: float, **update_kw):
    """Apply ``rule`` step by step to dense weights ``w0`` (n_pre, n_post) driven by spike
    trains ``pre_seq`` (T, n_pre) and ``post_seq`` (T, n_post); returns the final weights."""
    pre_seq = jnp.asarray(pre_seq, jnp.float32)
    post_seq = jnp.asarray(post_seq, jnp.float32)
    w0 = jnp.asarray(w0, jnp.float32)
    state = rule.init(params, pre_seq.shape[1], post_seq.shape[1])

    def body(carry, spikes):
        w, s = carry
        dw, s = rule.update(params, s, spikes[0], spikes[1], w, dt, **update_kw)
        return (w + dw, s), None

    (w, _), _ = jax.lax.scan(body, (w0, state), (pre_seq, post_seq))
    return w
