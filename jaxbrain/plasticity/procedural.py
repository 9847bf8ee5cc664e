"""Plastic weights on procedural connectivity: the base synapses stay procedural (regenerated
from :mod:`jaxbrain.connectivity` on demand) and only the learned changes are stored, in a
:class:`jaxbrain.sparse_delta.DeltaStore` of ``(pre, post, delta)``; memory grows with the
number of synapses whose weight actually changed, not with ``n_pre * n_post * p``.

:func:`plastic_step` applies one step of any separable rule (pair, triplet, Diehl & Cook:
a :class:`~.traces.PlasticityRule` with ``factors``) to a push-form connectivity
(``fixed_prob``, ``fixed_outdegree``, ``small_world``, ``gaussian``, ``all_to_all``,
``one_to_one``):

* depression (pre spike of ``i``): the out-row of ``i`` is generated and every synapse
  ``i -> j`` gets ``-f_minus(w) * dep_pre_i * dep_post_j``;
* potentiation (post spike of ``j``): a push-form generator cannot list the sources of ``j``,
  but only sources with a non-zero pre factor (a recent spike) can potentiate; the rows of
  the sources whose ``pot_pre`` exceeds ``eps`` (at most ``cap_recent`` of them) are
  generated and every synapse onto a spiking ``j`` gets ``+f_plus(w) * pot_pre_i * pot_post_j``.
  With ``eps = 0`` and ``cap_recent >= n_pre`` this is exact; with ``eps > 0`` contributions
  of pre traces below ``eps`` are dropped (``eps = 1e-6`` of a unit trace is ~14 time
  constants).

Only entries whose change is non-zero are written. Counts of sources beyond the capacities
(``cap_pre`` spiking sources, ``cap_recent`` trace-carrying sources) are returned, never
silently dropped, as is the store's own ``dropped`` count when it is full (grow it with
:func:`jaxbrain.sparse_delta.grow` between jitted chunks). Multapses (``fixed_outdegree``
with replacement) share one stored delta per ``(pre, post)`` key. Depression and then
potentiation are applied in turn, so for soft bounds a synapse whose pre and post neurons
spike in the same step sees the bound factor after the depression (a dense ``update``
evaluates both at the step's start); for additive rules the two agree.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .. import sparse_delta as sd
from ..connectivity import Connectivity, source_rows
from .traces import PlasticityRule, soft_bounds

__all__ = ["PlasticStats", "plastic_step", "procedural_drive", "effective_weights"]


class PlasticStats(NamedTuple):
    """Per-step counts: spiking sources and trace-carrying sources beyond the capacities."""
    pre_overflow: Array
    recent_overflow: Array


def _active(mask, cap, n):
    idx = jnp.nonzero(mask, size=cap, fill_value=n)[0].astype(jnp.int32)
    return idx, jnp.maximum(jnp.sum(mask, dtype=jnp.int32) - cap, 0)


def _apply(store, params, pre_idx, rows, change, sign):
    """Write ``clip(base + old + sign * bound * change) - base`` for valid, non-zero changes."""
    base = rows.weights
    valid = rows.valid & (change != 0)
    pre = jnp.broadcast_to(pre_idx[:, None], rows.targets.shape).reshape(-1)
    post = rows.targets.reshape(-1)
    base, change, valid = base.reshape(-1), change.reshape(-1), valid.reshape(-1)

    def fn(old, found):
        w = base + old
        up, down = soft_bounds(w, params.w_min, params.w_max, params.mu_plus, params.mu_minus)
        factor = up if sign > 0 else down
        new = jnp.clip(w + sign * factor * change, params.w_min, params.w_max)
        return new - base

    return sd.update(store, pre, post, fn, valid=valid)


def plastic_step(rule: PlasticityRule, params, state, store: sd.DeltaStore, conn: Connectivity,
                 pre_spikes: Float[Array, "n_pre"], post_spikes: Float[Array, "n_post"], dt,
                 cap_pre: int, cap_recent: int, eps: float = 1e-6):
    """One step of ``rule`` on procedural ``conn`` with learned deltas in ``store``.

    Arguments:
        rule, params, state: a separable rule, its parameters and traces (``rule.init``).
        store: the delta store (``jaxbrain.sparse_delta.init(capacity)``).
        conn: a push-form :class:`~jaxbrain.connectivity.Connectivity`.
        pre_spikes, post_spikes: float {0, 1} of shapes (n_pre,), (n_post,).
        dt: step, ms. cap_pre: most spiking sources handled per step (static).
        cap_recent: most trace-carrying sources considered for potentiation (static).
        eps: pre factor below which a source is not considered for potentiation.
    Returns:
        ``(state, store, PlasticStats)``.
    """
    if rule.factors is None:
        raise ValueError("plastic_step needs a separable rule (pair, triplet or Diehl & Cook)")
    if conn.kind == "fixed_indegree":
        raise ValueError("plastic_step needs a push-form connectivity; fixed_indegree is pull-form")
    f, state = rule.factors(params, state, pre_spikes, post_spikes, dt)
    n_pre, n_post = conn.n_pre, conn.n_post
    pad_dep = jnp.concatenate([f.dep_post, jnp.zeros((1,), f.dep_post.dtype)])
    pad_pot = jnp.concatenate([f.pot_post, jnp.zeros((1,), f.pot_post.dtype)])
    dep_pre = jnp.concatenate([f.dep_pre, jnp.zeros((1,), f.dep_pre.dtype)])
    pot_pre = jnp.concatenate([f.pot_pre, jnp.zeros((1,), f.pot_pre.dtype)])
    # depression on the out-rows of spiking sources
    src, over_pre = _active(pre_spikes > 0, cap_pre, n_pre)
    rows = source_rows(conn, jnp.minimum(src, n_pre - 1))
    rows = rows._replace(valid=rows.valid & (src[:, None] < n_pre))
    dep = dep_pre[src][:, None] * pad_dep[rows.targets]
    store = _apply(store, params, src, rows, dep, -1.0)
    # potentiation on the out-rows of sources with a pre trace, onto spiking targets
    thr = jnp.where(eps > 0, eps, 0.0)
    rec, over_rec = _active(jnp.abs(f.pot_pre) > thr, cap_recent, n_pre)
    rows = source_rows(conn, jnp.minimum(rec, n_pre - 1))
    rows = rows._replace(valid=rows.valid & (rec[:, None] < n_pre))
    pot = pot_pre[rec][:, None] * pad_pot[rows.targets]
    store = _apply(store, params, rec, rows, pot, 1.0)
    return state, store, PlasticStats(over_pre, over_rec)


def procedural_drive(conn: Connectivity, store: sd.DeltaStore, pre_spikes: Float[Array, "n_pre"],
                     cap_pre: int) -> Float[Array, "n_post"]:
    """Summed input ``sum_i s_i (w_base_ij + delta_ij)`` onto each post neuron from the
    spiking sources (at most ``cap_pre`` per step): procedural base rows plus the stored
    deltas of the spiking sources."""
    src, _ = _active(pre_spikes > 0, cap_pre, conn.n_pre)
    rows = source_rows(conn, jnp.minimum(src, conn.n_pre - 1))
    w = jnp.where(rows.valid & (src[:, None] < conn.n_pre), rows.weights, 0.0)
    base = jnp.zeros((conn.n_post + 1,), jnp.float32).at[rows.targets].add(w)[:-1]
    active_sorted = jnp.where(src < conn.n_pre, src, jnp.int32(2**31 - 1)).astype(jnp.uint32)
    return base + sd.sum_into_post(store, active_sorted, conn.n_post)


def effective_weights(dense_base: Float[Array, "n_pre n_post"], store: sd.DeltaStore):
    """Dense base weights plus the stored deltas (for tests and small networks)."""
    pre, post, delta = (store.pre, store.post, store.delta)
    ok = pre != sd.EMPTY
    n_pre, n_post = dense_base.shape
    return dense_base.at[jnp.where(ok, pre, n_pre).astype(jnp.int32),
                         jnp.where(ok, post, n_post).astype(jnp.int32)].add(
        jnp.where(ok, delta, 0.0), mode="drop")
