"""The six cortical modules of the spiking LM: populations, wiring, neurons, one substep.

Modules (seed order): Thalamus, Wernicke, Broca, Hippocampus, PFC, Basal Ganglia. All neurons
are concatenated into one vector of ``N = sum(sizes)`` (module ``m`` owns a contiguous slice),
so a substep is six gather-reduce kernels (one per target module) and one elementwise update.

Wiring (source -> targets; the seeds' Thalamus -> Wernicke -> working memory (PFC,
Hippocampus) and action selection (Basal Ganglia) -> Broca -> decoder, plus recurrence and
the classic loops):

    thalamus      -> wernicke
    wernicke      -> wernicke, pfc, hippocampus, basal_ganglia, broca (arcuate fasciculus)
    pfc           -> pfc, broca, hippocampus, basal_ganglia, thalamus (top-down)
    hippocampus   -> hippocampus, pfc
    basal_ganglia -> basal_ganglia, broca, thalamus (gating loop)
    broca         -> broca, wernicke (efference copy)

Connectivity is sparse and fixed, drawn from the counter-based RNG (:mod:`jaxbrain.rng`) on
global ids (seed, projection, target, slot), so the same seed gives the same synapses on any
device or batch. A neuron of module ``m`` has ``fanout[m]`` outgoing synapses in expectation,
split evenly over its target projections; we store them by *target* (fixed fan-in
``K_p = round(share * fanout * n_src / n_dst)`` with sources drawn uniformly with
replacement), which gives each source a Binomial out-degree of the stated mean and turns
propagation into a gather (coalesced on GPU, no atomics in the forward pass). The weights are
learned; the sparsity pattern is not.

Neuron (dimensionless adaptive LIF, "LSNN" form; dt = 1 ms per substep; threshold 1):

    v   <- alpha * v + I - theta_prev * s_prev            alpha = exp(-dt / tau_m)
    a   <- rho * a + (1 - rho) * s_prev                    rho   = exp(-dt / tau_a)
    theta = 1 + beta * a
    s   = H(v - theta)          (spike_fn: Heaviside, fast-sigmoid surrogate gradient
                                  dampened by ``surrogate_scale``, 0.3 as in LSNN)

``I`` is the synaptic input (sum over the module's incoming sparse projections of
``w * s_src``), plus a learned bias, plus the token drive for the Thalamus. The reset is
soft (subtract the threshold) and excluded from the gradient, as usual for surrogate BPTT.

``feedforward`` (:class:`BrainSpec`) says which spikes a projection reads:

* ``"pipelined"`` (default, the seeds' mode): all modules advance together from the
  *previous* substep's spikes. That costs one substep per synaptic hop (the token reaches
  Broca on the third substep), hence 8 substeps per token by default (4 learned far less:
  docs/lm.md).
* ``"sequential"``: within a substep the modules update in feed-forward stages
  (:data:`SEQUENTIAL_STAGES`: Thalamus, Wernicke, PFC / Hippocampus / Basal Ganglia,
  Broca). A projection from an earlier stage reads the spikes its source emitted in *this*
  substep; recurrent, lateral (same stage) and feedback projections read the previous
  substep's. The token reaches Broca and the decoder in its first substep, with the same
  synapses and the same synaptic operations.

The backward pass of the sparse gather is a gather too: over a source-major copy of the
synapse table (``Connectivity.out_pos`` / ``out_row``), instead of XLA's scatter-add.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .. import rng
from ..config import ConfigError

__all__ = ["MODULES", "WIRING", "FEEDFORWARD", "SEQUENTIAL_STAGES", "BrainSpec", "SCALES",
           "Connectivity", "build_connectivity",
           "NeuronConsts", "neuron_consts", "ModState", "init_state", "substep",
           "synaptic_input", "stage_input", "EventPlan", "make_event_plan", "projection_columns",
           "active_lists", "event_overflow", "flat_weights", "local_sources", "LANES", "pack_spikes",
           "unpack_spikes", "fused_input", "alif_update", "rounded"]

MODULES = ("thalamus", "wernicke", "broca", "hippocampus", "pfc", "basal_ganglia")

WIRING = {
    "thalamus": ("wernicke",),
    "wernicke": ("wernicke", "pfc", "hippocampus", "basal_ganglia", "broca"),
    "broca": ("broca", "wernicke"),
    "hippocampus": ("hippocampus", "pfc"),
    "pfc": ("pfc", "broca", "hippocampus", "basal_ganglia", "thalamus"),
    "basal_ganglia": ("basal_ganglia", "broca", "thalamus"),
}

# membrane / adaptation time constants (ms) and adaptation strength per module:
# fast sensory and language areas, slow working memory (PFC, Hippocampus).
TAU_M = {"thalamus": 2.0, "wernicke": 5.0, "broca": 5.0, "hippocampus": 20.0, "pfc": 20.0,
         "basal_ganglia": 5.0}
TAU_A = {"thalamus": 20.0, "wernicke": 50.0, "broca": 50.0, "hippocampus": 400.0,
         "pfc": 400.0, "basal_ganglia": 50.0}
BETA = {"thalamus": 0.2, "wernicke": 0.5, "broca": 0.5, "hippocampus": 1.0, "pfc": 1.0,
        "basal_ganglia": 0.5}

READOUTS = ("membrane", "trace")
FEEDFORWARD = ("pipelined", "sequential")
# the order in which "sequential" updates the modules within a substep (each stage a
# contiguous run of MODULES); a projection reads this substep's spikes iff its source is in
# an earlier stage than its target
SEQUENTIAL_STAGES = (("thalamus",), ("wernicke",), ("hippocampus", "pfc", "basal_ganglia"),
                     ("broca",))

# the seeds' sizes (Thalamus, Wernicke, Broca, Hippocampus, PFC, Basal Ganglia), fan-outs,
# embedding width and Broca output width; "tiny" is ours, for CPU tests.
SCALES = {
    "tiny": dict(sizes=(64, 128, 128, 64, 128, 32), fanout=(24, 24, 24, 24, 24, 24),
                 emb_dim=32, out_dim=64),
    "small": dict(sizes=(512, 4096, 4096, 2048, 4096, 1024), fanout=(48, 64, 64, 64, 96, 64),
                  emb_dim=256, out_dim=1024),
    "current": dict(sizes=(1024, 10240, 10240, 5120, 10240, 2560),
                    fanout=(48, 64, 64, 64, 96, 64), emb_dim=512, out_dim=2560),
    "4x": dict(sizes=(4096, 40960, 40960, 20480, 40960, 10240),
               fanout=(64, 96, 96, 96, 128, 96), emb_dim=1024, out_dim=8192),
}


@dataclasses.dataclass(frozen=True)
class BrainSpec:
    """Static description of the modular network (hashable: a jit static argument).

    Attributes:
        sizes: neurons per module, in :data:`MODULES` order.
        fanout: mean out-degree of a neuron of each module (all its projections together).
        emb_dim: token embedding width (drives the Thalamus through a learned matrix).
        out_dim: number of Broca neurons read by the decoder.
        substeps: neural substeps (1 ms each) per token.
        tau_out: readout trace time constant, ms.
        seed: connectivity seed.
        readout: what the decoder reads of Broca's read-out neurons: ``"membrane"`` (spike
            trace ``z`` plus membrane ``v``, the first version) or ``"trace"`` (only the
            leaky trace ``z`` of their spikes: non-spiking leaky-integrator output neurons,
            as in LSNN / e-prop).
        surrogate_scale: dampening factor on the surrogate derivative (0.3 in Bellec et al.
            2018); 1 leaves it undamped.
        feedforward: ``"pipelined"`` (all modules from the previous substep's spikes) or
            ``"sequential"`` (feed-forward stages within a substep; module doc).
    """
    sizes: tuple = SCALES["tiny"]["sizes"]
    fanout: tuple = SCALES["tiny"]["fanout"]
    emb_dim: int = 32
    out_dim: int = 64
    substeps: int = 8
    tau_out: float = 2.0
    seed: int = 0
    readout: str = "membrane"
    surrogate_scale: float = 0.3
    feedforward: str = "pipelined"

    def __post_init__(self):
        if len(self.sizes) != len(MODULES) or len(self.fanout) != len(MODULES):
            raise ConfigError(f"sizes and fanout need {len(MODULES)} entries ({MODULES}); got "
                              f"{self.sizes} and {self.fanout}")
        if min(self.sizes) < 1 or min(self.fanout) < 1:
            raise ConfigError(f"sizes {self.sizes} and fanout {self.fanout} must be >= 1")
        if not 1 <= self.out_dim <= self.sizes[2]:
            raise ConfigError(f"out_dim {self.out_dim} must be in [1, Broca size {self.sizes[2]}]")
        if self.substeps < 1:
            raise ConfigError(f"substeps {self.substeps} must be >= 1")
        if self.readout not in READOUTS:
            raise ConfigError(f"readout {self.readout!r}; allowed: {list(READOUTS)}")
        if self.feedforward not in FEEDFORWARD:
            raise ConfigError(f"feedforward {self.feedforward!r}; allowed: {list(FEEDFORWARD)}")
        if not 0.0 < self.surrogate_scale <= 1.0 or not self.tau_out > 0:
            raise ConfigError(f"surrogate_scale {self.surrogate_scale} must be in (0, 1] and "
                              f"tau_out {self.tau_out} > 0")

    @classmethod
    def scale(cls, name: str, **kw) -> "BrainSpec":
        if name not in SCALES:
            raise ConfigError(f"unknown scale {name!r}; allowed: {list(SCALES)}")
        return cls(**{**SCALES[name], **kw})

    @property
    def n(self) -> int:
        return int(sum(self.sizes))

    def offset(self, m: str) -> int:
        i = MODULES.index(m)
        return int(sum(self.sizes[:i]))

    def size(self, m: str) -> int:
        return int(self.sizes[MODULES.index(m)])

    @property
    def stages(self) -> tuple:
        """Module index ranges ``(m0, m1)`` in update order within a substep: one stage of
        all modules (pipelined), or :data:`SEQUENTIAL_STAGES` (sequential)."""
        if self.feedforward == "pipelined":
            return ((0, len(MODULES)),)
        idx = [[MODULES.index(m) for m in st] for st in SEQUENTIAL_STAGES]
        return tuple((min(i), max(i) + 1) for i in idx)

    def rows(self, m0: int, m1: int) -> slice:
        """The neurons of modules ``m0 .. m1 - 1`` in the (N,) concatenation."""
        lo = int(sum(self.sizes[:m0]))
        return slice(lo, lo + int(sum(self.sizes[m0:m1])))

    def projections(self) -> list[tuple[str, str, int]]:
        """``(source, target, fan_in)`` of every projection."""
        out = []
        for src, targets in WIRING.items():
            f = self.fanout[MODULES.index(src)] / len(targets)
            for dst in targets:
                k = max(1, int(round(f * self.size(src) / self.size(dst))))
                out.append((src, dst, k))
        return out

    def fan_in(self, dst: str) -> int:
        return sum(k for _, d, k in self.projections() if d == dst)

    @property
    def n_synapses(self) -> int:
        return sum(self.size(d) * k for _, d, k in self.projections())


class Connectivity(NamedTuple):
    """Per target module: ``idx[m]`` (n_m, K_m) int32 global source ids, and the source
    module id of each slot (for per-projection initial scales).

    ``out_pos`` / ``out_row`` (N, D) are the same synapses seen from the source (the
    transpose, for the backward pass): for global source ``i``, the flat positions of its
    out-synapses in the concatenation of all modules' weights and their global target rows,
    padded to the largest out-degree ``D`` with position ``n_synapses`` (a zero weight).

    ``stages`` / ``stage_tables`` (sequential feed-forward only, else empty): per stage of
    :attr:`BrainSpec.stages`, its module range ``(m0, m1)`` and the same (N, D_k) tables
    restricted to the stage's target modules (positions in the concatenation of their
    weights, rows counted from the stage's first neuron): :func:`stage_input`'s backward."""
    idx: tuple
    src_module: tuple
    out_pos: Array | None = None
    out_row: Array | None = None
    stages: tuple = ()
    stage_tables: tuple = ()


@functools.partial(jax.jit, static_argnums=0)
def _draw_sources(spec: BrainSpec):
    """Global source ids per target module, one jitted draw (uniform with replacement)."""
    idx = []
    proj = spec.projections()
    for dst in MODULES:
        n_dst = spec.size(dst)
        cols = []
        for pi, (src, d, k) in enumerate(proj):
            if d != dst:
                continue
            j = jnp.arange(n_dst, dtype=jnp.uint32)[:, None]
            slot = jnp.arange(k, dtype=jnp.uint32)[None, :]
            u = rng.uniform(spec.seed, pi, j, slot)
            local = jnp.minimum((u * spec.size(src)).astype(jnp.int32), spec.size(src) - 1)
            cols.append(spec.offset(src) + local)
        idx.append(jnp.concatenate(cols, axis=1))
    return tuple(idx)


def build_connectivity(spec: BrainSpec) -> Connectivity:
    """Draw the fixed sparse source lists (deterministic in ``spec.seed``)."""
    srcm = []
    for dst in MODULES:
        srcm.append(np.concatenate([np.full((k,), MODULES.index(src), np.int32)
                                    for src, d, k in spec.projections() if d == dst]))
    idx = _draw_sources(spec)
    pos, row = _transposed(idx, spec.n)
    stages = spec.stages if len(spec.stages) > 1 else ()
    tables = tuple(_transposed(idx[m0:m1], spec.n) for m0, m1 in stages)
    return Connectivity(idx, tuple(srcm), pos, row, stages, tables)


def _transposed(idx: tuple, n: int):
    """Source-major table ``(pos, row)``, (n, D) int32, of the synapses of the target
    modules ``idx`` (their (n_t, K_t) global source ids, consecutive modules): for each of
    the ``n`` sources, the flat positions of its out-synapses in the concatenation of these
    modules' weights and their target rows counted from the first of them, padded to the
    largest out-degree ``D`` with the position one past the end (a zero weight) and row 0."""
    flat = np.concatenate([np.asarray(i).reshape(-1) for i in idx])
    rows = np.repeat(np.arange(sum(i.shape[0] for i in idx)),
                     np.concatenate([np.full(i.shape[0], i.shape[1]) for i in idx]))
    order = np.argsort(flat, kind="stable")
    deg = np.bincount(flat, minlength=n)
    d_max = max(int(deg.max()), 1)
    start = np.concatenate([[0], np.cumsum(deg)[:-1]])
    slot = np.arange(len(flat)) - np.repeat(start, deg)
    pos = np.full((n, d_max), len(flat), np.int32)
    row = np.zeros((n, d_max), np.int32)
    pos[flat[order], slot] = order
    row[flat[order], slot] = rows[order]
    return jnp.asarray(pos), jnp.asarray(row)


class NeuronConsts(NamedTuple):
    """Per-neuron constants, shape (N,): membrane and adaptation decays, adaptation strength."""
    alpha: Float[Array, "N"]
    rho: Float[Array, "N"]
    beta: Float[Array, "N"]


def neuron_consts(spec: BrainSpec, dt: float = 1.0) -> NeuronConsts:
    def per(d):
        return np.concatenate([np.full(spec.size(m), d[m], np.float32) for m in MODULES])
    return NeuronConsts(jnp.asarray(np.exp(-dt / per(TAU_M))), jnp.asarray(np.exp(-dt / per(TAU_A))),
                        jnp.asarray(per(BETA)))


class ModState(NamedTuple):
    """State of all N neurons for a batch of B sequences, neuron-major (N, B) so that the
    sparse gather reads contiguous rows of B values: membrane v, adaptation a, last spikes s,
    readout trace z (float32)."""
    v: Float[Array, "N B"]
    a: Float[Array, "N B"]
    s: Float[Array, "N B"]
    z: Float[Array, "N B"]


def init_state(spec: BrainSpec, batch: int) -> ModState:
    z = jnp.zeros((spec.n, batch), jnp.float32)
    return ModState(z, z, z, z)


def rounded(x, dtype) -> Array:
    """``x`` rounded to ``dtype``'s precision, as float32. The dense path multiplies in
    ``dtype`` (bf16 or f32) and accumulates in f32; the event and fused paths add the same
    rounded weights in f32, and the weights go to the GPU kernel rounded this way too.
    ``reduce_precision``, not a cast there and back: XLA on the GPU removes such cast pairs
    (excess precision) and the paths then disagreed."""
    x = x.astype(jnp.float32)
    if jnp.dtype(dtype) == jnp.float32:
        return x
    fi = jnp.finfo(dtype)
    return jax.lax.reduce_precision(x, exponent_bits=fi.nexp, mantissa_bits=fi.nmant)


def _gather_sum_xla(w, idx, x):
    wf = w.astype(jnp.float32)
    out = wf[:, 0, None] * x[idx[:, 0]].astype(jnp.float32)
    for k in range(1, w.shape[1]):
        out = out + wf[:, k, None] * x[idx[:, k]].astype(jnp.float32)
    return out


def _gather_sum_gpu(w, idx, x):
    from .gather_kernel import gather_sum
    return gather_sum(w.T, idx.T, x)


def _gather_sum(w: Float[Array, "n K"], idx, x: Float[Array, "M B"]) -> Float[Array, "n B"]:
    """``out[j, b] = sum_k w[j, k] x[idx[j, k], b]`` in float32, the K slots summed in order.

    On the GPU one Pallas kernel (:func:`jaxbrain.lm.gather_kernel.gather_sum`; not
    differentiable: used inside custom VJPs only); elsewhere K row gathers summed in XLA.
    Both gather rows of B contiguous values. The einsum ``"jk,jkb->jb"`` became a reduce
    over k after a transpose on the H100 and ran 4.8-10x slower; XLA's chain of K gathers
    split into hundreds of kernels per substep inside the training step (docs/lm.md,
    "Training throughput")."""
    return jax.lax.platform_dependent(w, idx, x, cuda=_gather_sum_gpu, default=_gather_sum_xla)


def _gather_input(weights, idx, s, dtype, kernel=False):
    # kernel: the GPU kernel where the result is not differentiated (custom_vjp primals)
    s, gsum = s.astype(dtype), _gather_sum if kernel else _gather_sum_xla
    return jnp.concatenate([gsum(rounded(w, dtype), i, s) for w, i in zip(weights, idx)], axis=0)


@functools.partial(jax.custom_vjp, nondiff_argnums=(5,))
def _input_transposed_bwd(weights, idx, out_pos, out_row, s, dtype):
    return _gather_input(weights, idx, s, dtype, kernel=True)


def _itb_fwd(weights, idx, out_pos, out_row, s, dtype):
    return _gather_input(weights, idx, s, dtype, kernel=True), (weights, idx, out_pos, out_row, s)


def _dense_dw(weights, idx, s, g, dtype):
    sd, gd = s.astype(dtype), g.astype(dtype)
    dw, lo = [], 0
    for w, i in zip(weights, idx):
        n = w.shape[0]
        dw.append(jnp.einsum("jb,jkb->jk", gd[lo:lo + n], sd[i],
                             preferred_element_type=jnp.float32).astype(w.dtype))
        lo += n
    return tuple(dw)


def _transposed_ds(wflat, out_pos, out_row, s, g, dtype):
    # d s[i, b] = sum over i's out-synapses of w * g[target]: a gather over the transposed
    # (source-major) table of the flat weights (flat_weights) instead of XLA's scatter-add
    return _gather_sum(rounded(wflat, dtype)[out_pos], out_row, g.astype(dtype)).astype(s.dtype)


def _itb_bwd(dtype, res, g):
    weights, idx, out_pos, out_row, s = res
    return (_dense_dw(weights, idx, s, g, dtype), None, None, None,
            _transposed_ds(flat_weights(weights), out_pos, out_row, s, g, dtype))


_input_transposed_bwd.defvjp(_itb_fwd, _itb_bwd)


def synaptic_input(weights, conn: Connectivity, s: Float[Array, "N B"], dtype=jnp.float32,
                   events: "EventPlan | None" = None, wflat=None):
    """Sparse propagation: for each target module, ``I[j, b] = sum_k w[j,k] s[idx[j,k], b]``.

    Returns the (N, B) input current (float32). ``dtype`` is the gather/multiply dtype
    (bfloat16 is exact for spikes; accumulation stays float32). The backward pass gathers
    over the transposed table ``conn.out_pos`` / ``conn.out_row`` (where present) rather
    than scatter-adding into ``s``.

    With ``events`` (an :class:`EventPlan`) the forward pass is event-driven (scatter of the
    spiking sources' out-synapses, exact: dense fallback on overflow) and the weight
    gradient is scattered from the same active lists; the spike gradient stays the dense
    transposed gather. ``wflat`` (:func:`flat_weights` of ``weights``, optional) lets a
    caller build the flat weights once for many substeps."""
    if events is not None:
        if wflat is None:
            wflat = flat_weights(weights)
        return _input_events(wflat, tuple(conn.idx), conn.out_pos, conn.out_row, s, events,
                             dtype)
    if conn.out_pos is None:
        return _gather_input(tuple(weights), conn.idx, s, dtype)
    return _input_transposed_bwd(tuple(weights), tuple(conn.idx), conn.out_pos, conn.out_row,
                                 s, dtype)


def stage_input(weights, conn: Connectivity, k: int, s: Float[Array, "N B"],
                dtype=jnp.float32) -> Float[Array, "n_k B"]:
    """:func:`synaptic_input` of the target modules of stage ``k`` only (sequential
    feed-forward: ``conn.stages[k]``), from the spikes ``s`` (N, B) of all sources. Returns
    (n_k, B) float32, n_k the stage's neurons; dense gather, the backward a gather over the
    stage's transposed table ``conn.stage_tables[k]`` (where ``conn.out_pos`` is present)."""
    m0, m1 = conn.stages[k]
    w, idx = tuple(weights[m0:m1]), tuple(conn.idx[m0:m1])
    if conn.out_pos is None:
        return _gather_input(w, idx, s, dtype)
    return _input_transposed_bwd(w, idx, *conn.stage_tables[k], s, dtype)


# --- event-driven propagation -------------------------------------------------------------

@jax.tree_util.register_pytree_node_class
class EventPlan:
    """Event-driven propagation over the sources that spiked (per batch column).

    For each *source* module ``m`` with ``caps[m] > 0``: ``pos[m]`` / ``row[m]``
    (n_m + 1, D_m) int32 are its neurons' out-synapses (flat positions in the concatenated
    weights, padded with ``n_synapses``, a zero weight; global target rows, padded with
    ``N``, out of range, so padded slots are dropped by the scatter). Row ``n_m`` is a dummy
    source whose slots are all padding: it fills the unused part of an active list.

    Each substep compacts, per batch column, the indices of module ``m``'s spiking neurons
    into a list of ``caps[m]`` slots and scatter-adds their out-synapses' weights into the
    targets' input. Source modules with ``caps[m] == 0`` keep the dense gather over their
    slot columns (the Thalamus, which fires ~26 % per substep, is cheaper dense). If any
    column of any module has more spikes than its capacity, the whole substep falls back
    to the dense gather (``lax.cond``), so no spike is ever dropped; :func:`event_overflow`
    counts how often that happens. ``caps`` and the column ranges are static (pytree aux
    data), the tables are arrays."""

    def __init__(self, pos, row, caps, cols, sizes, n_syn):
        self.pos, self.row = tuple(pos), tuple(row)
        self.caps = tuple(int(c) for c in caps)
        self.cols = cols          # per target module: ((source module, start, stop), ...)
        self.sizes = tuple(int(x) for x in sizes)
        self.n, self.n_syn = sum(self.sizes), int(n_syn)

    def tree_flatten(self):
        return (self.pos, self.row), (self.caps, self.cols, self.sizes, self.n_syn)

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(children[0], children[1], *aux)

    @property
    def dense_sources(self) -> tuple:
        return tuple(m for m, c in enumerate(self.caps) if c == 0)


def projection_columns(spec: BrainSpec) -> tuple:
    """Per target module, the slot-column range of each incoming projection:
    ``((source module index, start, stop), ...)`` in the order of ``Connectivity.idx``."""
    out = []
    for dst in MODULES:
        lo, rng_ = 0, []
        for src, d, k in spec.projections():
            if d == dst:
                rng_.append((MODULES.index(src), lo, lo + k))
                lo += k
        out.append(tuple(rng_))
    return tuple(out)


def make_event_plan(spec: BrainSpec, conn: Connectivity, caps) -> EventPlan:
    """Per-source-module transposed tables for :class:`EventPlan`; ``caps`` (6,) active-list
    capacities (neurons per batch column and substep; 0: dense gather for that source)."""
    if conn.out_pos is None:
        raise ValueError("the event plan needs the source-major table (conn.out_pos)")
    caps = tuple(min(int(c), spec.size(m)) for c, m in zip(caps, MODULES))
    if len(caps) != len(MODULES) or min(caps) < 0:
        raise ConfigError(f"event capacities {caps} need {len(MODULES)} entries >= 0")
    pos_all, row_all = np.asarray(conn.out_pos), np.asarray(conn.out_row)
    n_syn = spec.n_synapses
    pos, row = [], []
    for mi, m in enumerate(MODULES):
        if not caps[mi]:
            pos.append(np.zeros((1, 1), np.int32))
            row.append(np.full((1, 1), spec.n, np.int32))
            continue
        o, n = spec.offset(m), spec.size(m)
        p = pos_all[o:o + n]
        d = max(int((p < n_syn).sum(axis=1).max()), 1)   # this module's largest out-degree
        p = p[:, :d]
        r = np.where(p < n_syn, row_all[o:o + n, :d], spec.n)
        pos.append(np.concatenate([p, np.full((1, d), n_syn, np.int32)]).astype(np.int32))
        row.append(np.concatenate([r, np.full((1, d), spec.n, np.int32)]).astype(np.int32))
    return EventPlan(tuple(jnp.asarray(p) for p in pos), tuple(jnp.asarray(r) for r in row),
                     caps, projection_columns(spec), spec.sizes, n_syn)


def flat_weights(weights):
    """The float32 concatenation of all modules' weights plus one zero (the padding slot of
    the transposed tables): what the event path reads. Built once per token, outside the
    substep loop."""
    return jnp.concatenate([w.reshape(-1).astype(jnp.float32) for w in weights]
                           + [jnp.zeros((1,), jnp.float32)])


def _unflatten(wflat, idx):
    out, lo = [], 0
    for i in idx:
        n, k = i.shape
        out.append(wflat[lo:lo + n * k].reshape(n, k))
        lo += n * k
    return tuple(out)


_BLOCK = 128


def _prefix_count(sm):
    """Inclusive prefix count of a 0/1 (n, B) array along axis 0, exact, as two small
    triangular matmuls (within blocks of 128, then over the block totals): one pass over the
    spikes on tensor cores instead of the log(n) passes of an associative scan."""
    n, b = sm.shape
    nb = -(-n // _BLOCK)
    x = jnp.pad(sm.astype(jnp.bfloat16), ((0, nb * _BLOCK - n), (0, 0))).reshape(nb, _BLOCK, b)
    tri = jnp.tril(jnp.ones((_BLOCK, _BLOCK), jnp.bfloat16))
    within = jnp.einsum("ij,kjb->kib", tri, x, preferred_element_type=jnp.float32)
    tot = within[:, -1, :]                                          # (nb, B), exact <= 128
    trib = jnp.tril(jnp.ones((nb, nb), jnp.float32), -1)
    before = jnp.einsum("kl,lb->kb", trib, tot, precision=jax.lax.Precision.HIGHEST)
    c = (within + before[:, None, :]).reshape(nb * _BLOCK, b)[:n]
    return c.astype(jnp.int32)


def active_lists(plan: EventPlan, s):
    """Per event module: the (cap, B) local indices of its spiking neurons per column, in
    increasing order, padded with the dummy source ``n_m``; and whether any column had more
    spikes than the capacity (then the lists are incomplete)."""
    b = s.shape[1]
    acts, over, o = [], jnp.zeros((), bool), 0
    cols = jnp.arange(b, dtype=jnp.int32)[None, :]
    for n, cap in zip(plan.sizes, plan.caps):
        if not cap:
            acts.append(None)
            o += n
            continue
        sm = s[o:o + n] > 0
        o += n
        c = _prefix_count(sm)
        src = jnp.broadcast_to(jnp.arange(n, dtype=jnp.int32)[:, None], sm.shape)
        slot = jnp.where(sm, c - 1, cap + src)             # non-spikes: distinct, dropped
        acts.append(jnp.full((cap, b), n, jnp.int32).at[slot, cols].set(
            src, mode="drop", unique_indices=True))
        over = over | jnp.any(c[-1] > cap)
    return tuple(acts), over


def _dense_columns(weights, idx, s, plan: EventPlan, dtype, sources):
    """Dense gather restricted to the slot columns whose source module is in ``sources``."""
    sd = s.astype(dtype)
    parts = []
    for w, i, cols in zip(weights, idx, plan.cols):
        acc = jnp.zeros((w.shape[0], s.shape[1]), jnp.float32)
        for m, a, z in cols:
            if m in sources:
                acc = acc + jnp.einsum("jk,jkb->jb", w[:, a:z].astype(dtype), sd[i[:, a:z]],
                                       preferred_element_type=jnp.float32)
        parts.append(acc)
    return jnp.concatenate(parts, axis=0)


def _event_input(wflat, idx, s, plan: EventPlan, dtype, acts):
    """Scatter-add of the active sources' out-synapses (+ the dense-source columns)."""
    b = s.shape[1]
    flat = jnp.zeros((plan.n * b,), jnp.float32)
    bcol = jnp.arange(b, dtype=jnp.int32)[None, :, None]
    for m, act in enumerate(acts):
        if act is None:
            continue
        tgt = plan.row[m][act] * b + bcol                         # (cap, B, D); pad >= N*B
        flat = flat.at[tgt].add(rounded(wflat[plan.pos[m][act]], dtype), mode="drop")
    cur = flat.reshape(plan.n, b)
    if plan.dense_sources:
        cur = cur + _dense_columns(_unflatten(wflat, idx), idx, s, plan, dtype,
                                   plan.dense_sources)
    return cur


def _event_or_dense(wflat, idx, s, plan, dtype):
    acts, over = active_lists(plan, s)
    cur = jax.lax.cond(over, lambda: _gather_input(_unflatten(wflat, idx), idx, s, dtype),
                       lambda: _event_input(wflat, idx, s, plan, dtype, acts))
    return cur, acts, over


def _event_dw(plan: EventPlan, g, dtype, acts, idx, s):
    """Weight gradient (flat) over the active sources only: ``dw[pos] += g[row, b]`` for
    every active (source, b) and out-synapse; dense columns for the dense sources."""
    b = g.shape[1]
    gflat = rounded(g, dtype).reshape(-1)
    dflat = jnp.zeros((plan.n_syn + 1,), jnp.float32)
    bcol = jnp.arange(b, dtype=jnp.int32)[None, :, None]
    for m, act in enumerate(acts):
        if act is None:
            continue
        src = plan.row[m][act] * b + bcol
        dflat = dflat.at[plan.pos[m][act]].add(gflat.at[src].get(mode="fill", fill_value=0.0))
    if not plan.dense_sources:
        return dflat.at[-1].set(0.0)
    dw = list(_unflatten(dflat, idx))
    gd, sd = g.astype(dtype), s.astype(dtype)
    lo = 0
    for k, (i, cols) in enumerate(zip(idx, plan.cols)):
        n = i.shape[0]
        for m, a, z in cols:
            if m in plan.dense_sources:
                dw[k] = dw[k].at[:, a:z].add(jnp.einsum(
                    "jb,jkb->jk", gd[lo:lo + n], sd[i[:, a:z]],
                    preferred_element_type=jnp.float32))
        lo += n
    return flat_weights(dw)


@functools.partial(jax.custom_vjp, nondiff_argnums=(6,))
def _input_events(wflat, idx, out_pos, out_row, s, plan, dtype):
    return _event_or_dense(wflat, idx, s, plan, dtype)[0]


def _ie_fwd(wflat, idx, out_pos, out_row, s, plan, dtype):
    cur, acts, over = _event_or_dense(wflat, idx, s, plan, dtype)
    return cur, (wflat, idx, out_pos, out_row, s, plan, acts, over)


def _ie_bwd(dtype, res, g):
    wflat, idx, out_pos, out_row, s, plan, acts, over = res
    # ds is dense (the surrogate derivative is non-zero below threshold too); dw only has
    # terms where the source spiked, so it is scattered from the same active lists
    ds = _transposed_ds(wflat, out_pos, out_row, s, g, dtype)
    dw = jax.lax.cond(over,
                      lambda: flat_weights(_dense_dw(_unflatten(wflat, idx), idx, s, g, dtype)),
                      lambda: _event_dw(plan, g, dtype, acts, idx, s))
    return dw, None, None, None, ds, None


_input_events.defvjp(_ie_fwd, _ie_bwd)


def event_overflow(plan: EventPlan, s):
    """Active neurons per module (6, B) of spikes ``s`` and whether the substep overflows."""
    offs = np.concatenate([[0], np.cumsum(plan.sizes)])
    counts = jnp.stack([jnp.sum(s[o:o + n] > 0, axis=0) for o, n in zip(offs, plan.sizes)])
    caps = jnp.asarray([c if c else 1 << 30 for c in plan.caps])
    return counts, jnp.any(counts > caps[:, None])


# --- fused propagation (generation) ------------------------------------------------------

def local_sources(spec: BrainSpec, conn: Connectivity) -> tuple:
    """Per target module, the (K_t, n_t) int32 source of every slot as an index into its own
    source module (:func:`projection_columns` says which module each slot column reads):
    ``conn.idx`` transposed, so that slot ``k`` is one contiguous row."""
    out = []
    for i, cols in zip(conn.idx, projection_columns(spec)):
        i = np.asarray(i)
        loc = np.empty(i.shape, np.int32)
        for m, a, z in cols:
            loc[:, a:z] = i[:, a:z] - spec.offset(MODULES[m])
        out.append(jnp.asarray(np.ascontiguousarray(loc.T)))
    return tuple(out)


def _rows(x, idx):
    """``x[idx]`` for in-range int32 ``idx`` (n,): one gather of whole rows, without the
    negative-index fix-up (a compare and select per index) that ``x[idx]`` adds."""
    dn = jax.lax.GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,),
                                        start_index_map=(0,))
    return jax.lax.gather(x, idx[:, None], dn, (1, x.shape[1]),
                          mode=jax.lax.GatherScatterMode.PROMISE_IN_BOUNDS)


LANES = 32   # batch columns per packed spike word


def pack_spikes(s):
    """(n, B) bool -> (n, B / 32) uint32: bit i of word w is column 32 w + i."""
    n, b = s.shape
    lane = jnp.arange(LANES, dtype=jnp.uint32)[None, None, :]
    return jnp.sum(s.reshape(n, b // LANES, LANES).astype(jnp.uint32) << lane, axis=-1,
                   dtype=jnp.uint32)


def unpack_spikes(p):
    """Inverse of :func:`pack_spikes`: (n, W) uint32 -> (n, 32 W) bool."""
    bits = (p[:, :, None] >> jnp.arange(LANES, dtype=jnp.uint32)[None, None, :]) & 1
    return bits.astype(bool).reshape(p.shape[0], -1)


def fused_input(spec: BrainSpec, t: int, wt: Float[Array, "K n"], src, s: tuple):
    """Synaptic input of target module ``t`` (n_t, B) float32 from the spikes ``s`` (one
    array per module: (n_m, B) bool, or (n_m, B / 32) uint32 words of :func:`pack_spikes`),
    for the forward pass only.

    ``wt`` (K_t, n_t) are the module's weights transposed and already rounded to the gather
    dtype (float32 values); ``src`` (K_t, n_t) its :func:`local_sources`. The sum runs over
    the slots in order, ``acc + where(spike(s[m_k][src[k]]), wt[k], 0)``: the dense gather's
    terms, with no (n, K, B) intermediate, so XLA emits one loop fusion whose threads each
    read ``K_t`` spike rows (1 byte per column, or 1 bit packed)."""
    packed = s[0].dtype == jnp.uint32
    n, w = wt.shape[1], s[0].shape[1]
    lane = jnp.arange(LANES, dtype=jnp.uint32)[None, None, :]
    acc = jnp.zeros((n, w * LANES) if packed else (n, w), jnp.float32)
    for m, a, z in projection_columns(spec)[t]:
        for k in range(a, z):
            if packed:   # column 32 i + l is bit l of word i
                spike = ((_rows(s[m], src[k])[:, :, None] >> lane) & 1 != 0).reshape(n, -1)
            else:
                spike = _rows(s[m], src[k])
            acc = acc + jnp.where(spike, wt[k][:, None], 0.0)
    return acc


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def spike_fn(x: Array, slope: float = 5.0, scale: float = 1.0) -> Array:
    """Heaviside ``x >= 0``; the backward pass uses the fast-sigmoid surrogate
    ``scale / (1 + slope |x|)^2`` (Zenke & Ganguli 2018; ``scale`` < 1 is the dampening
    factor of Bellec et al. 2018). ``x`` is the distance to threshold over the threshold."""
    return (x >= 0).astype(jnp.result_type(x, jnp.float32))


def _spike_fwd(x, slope, scale):
    return spike_fn(x, slope, scale), x


def _spike_bwd(slope, scale, x, g):
    return (g * scale / (1.0 + slope * jnp.abs(x)) ** 2,)


spike_fn.defvjp(_spike_fwd, _spike_bwd)


def substep(consts: NeuronConsts, state: ModState, current: Float[Array, "N B"],
            gain_beta: Float[Array, "N B"], decay_out: float, slope: float = 5.0,
            surrogate_scale: float = 1.0):
    """One 1 ms update of N neurons (all of them, or one feed-forward stage's rows).

    Arguments:
        consts: per-neuron decays, (N,).
        state: previous state, (N, B).
        current: total input current this substep (dimensionless; threshold = 1), (N, B).
        gain_beta: multiplicative factor on the adaptation strength (serotonin), (N, B).
        decay_out: readout trace decay exp(-dt / tau_out).
    Returns:
        the new :class:`ModState`.
    """
    beta = consts.beta[:, None] * gain_beta
    v, a, theta = alif_update(consts.alpha[:, None], consts.rho[:, None], beta,
                              state.v, state.a, state.s, current)
    s = spike_fn((v - theta) / theta, slope, surrogate_scale)
    z = decay_out * state.z + s
    return ModState(v, a, s, z)


def alif_update(alpha, rho, beta, v, a, s, current):
    """The adaptive-LIF equations of one substep (broadcasting arrays): membrane ``v``
    decays by ``alpha``, adds ``current`` and is reset by the previous threshold where the
    previous spikes ``s`` (float) fired; adaptation ``a`` decays by ``rho`` towards ``s``;
    returns ``(v, a, theta)`` with the new threshold ``theta = 1 + beta a``. The reset is
    outside the gradient (the surrogate flows through ``a`` only)."""
    theta_prev = jax.lax.stop_gradient(1.0 + beta * a)
    v = alpha * v + current - theta_prev * jax.lax.stop_gradient(s)
    a = rho * a + (1.0 - rho) * s
    return v, a, 1.0 + beta * a


def projection_table(spec: BrainSpec) -> list[dict]:
    """Human-readable table of the projections (for docs and run summaries)."""
    return [{"source": s, "target": d, "fan_in": k,
             "mean_fan_out": k * spec.size(d) / spec.size(s), "synapses": k * spec.size(d)}
            for s, d, k in spec.projections()]
