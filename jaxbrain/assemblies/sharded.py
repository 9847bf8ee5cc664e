"""NEMO areas sharded along the neuron axis with ``jax.shard_map``.

Each of ``D`` devices owns a contiguous slice of ``n / D`` neurons of every area. For a
projection into area ``t`` every device

1. computes the input of its own targets only: the implicit (hashed) synapses from the firing
   sources are regenerated for its target ids, stimulus counts are drawn for its ids, and the
   learned deltas of its targets are read back from the (replicated) stores;
2. keeps its ``k`` local top candidates (value, global id);

then one ``all_gather`` of ``D * k`` candidates gives the global k-cap. Local ``top_k``
orders candidates by (input descending, id ascending), and the gathered list keeps device
order (lower ids first), so the global ``top_k`` keeps the same tie rule as
:func:`.kcap.k_cap` (lower index wins): the winners equal the one-device result exactly.

Everything that is O(k^2) or O(learned synapses) (winners, stores, the Hebbian update,
support tracking) is replicated and runs as in :func:`.brain.project`. Per device the O(n)
work and memory of an input vector is ``n / D``; the exchange is ``D * k`` (value, id) pairs
per target area and projection. (``track_support`` keeps a replicated bool[n] per area; turn
it off for the largest areas.)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec as P

from .. import sparse_delta as sd
from . import brain, implicit

__all__ = ["sharded_cap", "project"]


def _local_input(spec, state, f, lo, n_loc):
    """float32[n_loc]: input of fibre ``f`` to targets ``lo .. lo + n_loc - 1`` (learned
    deltas of other devices' targets are left out)."""
    store = state.stores[f.key]
    if spec.is_stimulus(f.src):
        ids = lo + jnp.arange(n_loc, dtype=jnp.int32)
        c = implicit.stim_counts_at(spec.seed, f.fid, spec.stimulus(f.src).k, f.p, ids)
        return c * (1.0 + sd.sum_into_post(store, jnp.zeros((1,), jnp.uint32), n_loc, post_offset=lo))
    src = state.areas[f.src]
    valid = jnp.arange(spec.area(f.src).k) < src.n_winners
    c = implicit.area_input(spec.seed, f.fid, f.p, src.winners, valid, n_loc, dst_offset=lo)
    return c + sd.sum_into_post(store, src.winners, n_loc, post_offset=lo)


def sharded_cap(mesh: jax.sharding.Mesh, axis: str = "neurons"):
    """A ``cap`` for :func:`.brain.project` that shards every target area over ``axis`` of
    ``mesh`` (module doc). Areas must have ``n`` divisible by the axis size ``D`` and
    ``k <= n / D``."""
    n_dev = mesh.shape[axis]

    def cap(spec, state, target, fibres):
        a = spec.area(target)
        if spec.law != "hash":
            raise ValueError(f"sharded NEMO: law {spec.law!r}; only 'hash' is sharded")
        if a.n % n_dev or a.k > a.n // n_dev:
            raise ValueError(f"sharded NEMO: area {target!r} has n={a.n}, k={a.k}; n must be a "
                             f"multiple of the {n_dev} devices on axis {axis!r} and k <= n / {n_dev}")
        n_loc = a.n // n_dev
        fires = {f.key: brain.fibre_fires(spec, state, f) for f in fibres}

        def local(state, fires):
            lo = (jax.lax.axis_index(axis) * n_loc).astype(jnp.int32)
            x = jnp.zeros((n_loc,), jnp.float32)
            for f in fibres:
                x = x + jnp.where(fires[f.key], _local_input(spec, state, f, lo, n_loc), 0.0)
            v, i = jax.lax.top_k(x, a.k)
            vals = jax.lax.all_gather(v, axis, tiled=True)
            ids = jax.lax.all_gather(lo + i.astype(jnp.int32), axis, tiled=True)
            _, sel = jax.lax.top_k(vals, a.k)
            return jnp.sort(ids[sel])

        win = jax.shard_map(local, mesh=mesh, in_specs=(P(), P()), out_specs=P(),
                            check_vma=False)(state, fires)
        fires_any = jnp.bool_(False)
        for f in fibres:
            fires_any = fires_any | fires[f.key]
        return win, fires_any, {f.key: (fires[f.key], None) for f in fibres}

    return cap


def project(spec, state, mesh, stimuli=None, areas=None, learn: bool = True, axis: str = "neurons"):
    """:func:`.brain.project` with every target area sharded over ``axis`` of ``mesh``."""
    return brain.project(spec, state, stimuli, areas, learn, cap=sharded_cap(mesh, axis))
