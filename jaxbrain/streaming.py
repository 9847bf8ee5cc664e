"""Streaming: region states that do not fit on the device live in host memory (or on disk)
and are paged through a fixed number of device slots with a least-recently-used policy.

:class:`RegionPager` holds one pytree per region (e.g. a detailed region's neuron state and
its recurrent weights). ``get(i)`` returns region i on the device, paging it in (and evicting
the least recently used resident region, written back to the store if it changed) when it is
not resident; ``put(i, item)`` replaces the device copy after a step and marks it dirty.
Counters (hits, misses, evictions, bytes and seconds moved each way) measure the cost of
paging; :func:`jaxbrain.multiscale.simulate_streamed` uses it to step detailed regions.

The pager is plain Python around ``jax.device_put`` / ``jax.device_get``: it runs between
jitted steps, not inside them.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

__all__ = ["RegionPager", "PagerStats", "tree_nbytes"]


def tree_nbytes(tree) -> int:
    """Total bytes of the array leaves of a pytree."""
    return int(sum(np.asarray(x).nbytes if not hasattr(x, "nbytes") else x.nbytes
                   for x in jax.tree.leaves(tree)))


class PagerStats:
    """Counters of a :class:`RegionPager` (bytes and wall seconds moved each way)."""

    def __init__(self):
        self.hits = self.misses = self.evictions = 0
        self.bytes_in = self.bytes_out = 0
        self.seconds_in = self.seconds_out = 0.0

    def as_dict(self) -> dict:
        return dict(vars(self))

    def __repr__(self):
        return f"PagerStats({self.as_dict()})"


class RegionPager:
    """LRU cache of region pytrees on ``device``, backed by host memory or a folder on disk.

    Arguments:
        items: one pytree per region (numpy or jax arrays; copied to the store).
        capacity: number of regions resident on the device at once (>= 1).
        device: target device (default: the first of ``jax.devices()``).
        spill_dir: if given, the store is ``.npy`` files in this folder instead of host RAM.
    """

    def __init__(self, items: list, capacity: int, device=None, spill_dir: str | Path | None = None):
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity = {capacity!r}; allowed: an integer >= 1 (device slots)")
        if len(items) == 0:
            raise ValueError("items: need at least one region to page")
        self.capacity = capacity
        self.device = device if device is not None else jax.devices()[0]
        self.n = len(items)
        self._treedef = jax.tree.structure(items[0])
        self.spill_dir = Path(spill_dir) if spill_dir is not None else None
        if self.spill_dir is not None:
            self.spill_dir.mkdir(parents=True, exist_ok=True)
        self._host: list = [None] * self.n
        for i, it in enumerate(items):
            if jax.tree.structure(it) != self._treedef:
                raise ValueError(f"items[{i}] has a different pytree structure than items[0]")
            self._store(i, [np.asarray(x) for x in jax.tree.leaves(it)])
        self._resident: collections.OrderedDict[int, Any] = collections.OrderedDict()
        self._dirty: set[int] = set()
        self.stats = PagerStats()

    # ---- store (host RAM or disk) ----
    def _store(self, i, leaves):
        if self.spill_dir is None:
            self._host[i] = leaves
        else:
            for j, x in enumerate(leaves):
                np.save(self.spill_dir / f"r{i}_{j}.npy", x)
            self._host[i] = len(leaves)

    def _load(self, i):
        if self.spill_dir is None:
            return self._host[i]
        return [np.load(self.spill_dir / f"r{i}_{j}.npy") for j in range(self._host[i])]

    def _check(self, i):
        if not isinstance(i, (int, np.integer)) or not 0 <= i < self.n:
            raise IndexError(f"region {i!r}; allowed: an integer in [0, {self.n})")

    # ---- paging ----
    def _evict_one(self):
        j, item = self._resident.popitem(last=False)
        self.stats.evictions += 1
        if j in self._dirty:
            t0 = time.perf_counter()
            leaves = [np.asarray(x) for x in jax.device_get(jax.tree.leaves(item))]
            self._store(j, leaves)
            self.stats.seconds_out += time.perf_counter() - t0
            self.stats.bytes_out += sum(x.nbytes for x in leaves)
            self._dirty.discard(j)

    def get(self, i: int):
        """Region i on the device (paged in on a miss, evicting the least recently used)."""
        self._check(i)
        if i in self._resident:
            self.stats.hits += 1
            self._resident.move_to_end(i)
            return self._resident[i]
        self.stats.misses += 1
        while len(self._resident) >= self.capacity:
            self._evict_one()
        t0 = time.perf_counter()
        leaves = self._load(i)
        dev = jax.device_put(leaves, self.device)
        jax.block_until_ready(dev)
        self.stats.seconds_in += time.perf_counter() - t0
        self.stats.bytes_in += sum(x.nbytes for x in leaves)
        item = jax.tree.unflatten(self._treedef, dev)
        self._resident[i] = item
        return item

    def put(self, i: int, item) -> None:
        """Replace region i's device copy (after a step); written back when evicted."""
        self._check(i)
        if jax.tree.structure(item) != self._treedef:
            raise ValueError(f"put({i}): the item's pytree structure differs from the store's")
        if i not in self._resident:
            while len(self._resident) >= self.capacity:
                self._evict_one()
        self._resident[i] = item
        self._resident.move_to_end(i)
        self._dirty.add(i)

    def flush(self) -> None:
        """Write every dirty resident region back to the store (they stay resident)."""
        for j in list(self._dirty):
            leaves = [np.asarray(x) for x in jax.device_get(jax.tree.leaves(self._resident[j]))]
            self._store(j, leaves)
            self.stats.bytes_out += sum(x.nbytes for x in leaves)
        self._dirty.clear()

    def host(self, i: int):
        """Region i as numpy arrays (the latest version, resident or stored)."""
        self._check(i)
        if i in self._resident:
            return jax.tree.map(np.asarray, jax.device_get(self._resident[i]))
        return jax.tree.unflatten(self._treedef, self._load(i))

    @property
    def resident(self) -> list[int]:
        """Resident regions, least recently used first."""
        return list(self._resident)
