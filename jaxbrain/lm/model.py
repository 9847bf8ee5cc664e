"""The modular spiking language model: embedding -> six spiking modules -> decoder.

Per token ``x_t`` (for a batch of sequences; neuron state is neuron-major (N, B)):

1. neuromodulators (DA, NE, 5-HT) from the previous prediction and ``x_t``
   (:mod:`jaxbrain.lm.neuromodulation`);
2. token drive ``d = emb[x_t] @ W_in`` into the Thalamus, constant over the token;
3. ``substeps`` updates of all modules (:func:`network_substep`; pipelined, or in
   feed-forward stages with ``spec.feedforward = "sequential"``), the input current of
   module m scaled by its modulatory gain;
4. decoder ``logits = z_out @ W_dec + b_dec`` from the readout trace ``z`` of the first
   ``out_dim`` Broca neurons, and ``log_softmax``.

Training is surrogate-gradient BPTT through ``lax.scan`` over tokens, with
``jax.checkpoint`` on each token so memory grows with the number of tokens, not substeps.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from ..config import ConfigError
from . import neuromodulation as nm
from .modules import (MODULES, TAU_M, BrainSpec, alif_update, Connectivity, EventPlan, ModState,
                      LANES, NeuronConsts, build_connectivity, flat_weights, fused_input,
                      init_state, local_sources, make_event_plan, neuron_consts, pack_spikes,
                      projection_columns, rounded, stage_input, substep, synaptic_input,
                      unpack_spikes)
from .gather_kernel import alif_substep, slot_input

__all__ = ["SpikingLM", "make_model", "with_events", "with_fused", "measure_activity",
           "event_capacities", "init_params", "calibrate", "param_count", "Carry", "init_carry",
           "network_substep", "token_step", "GenState", "init_gen_carry", "gen_weights",
           "gen_token_step", "generation_nll", "pad_batch",
           "sequence_metrics", "batch_metrics", "loss_fn", "ALL_MODULATORS"]

ALL_MODULATORS = jnp.ones((3,), jnp.float32)
RATE0 = 0.1   # firing probability per substep assumed when scaling initial weights
READOUT_V = 1.0
SUBSTEP_UNROLL = 1   # lax.scan unroll of the substeps within a token


class SpikingLM(NamedTuple):
    """Static parts of the model: spec, vocabulary size, connectivity and neuron constants.

    ``spec`` and ``vocab_size`` are Python values; ``conn`` / ``consts`` hold arrays that are
    regenerated from ``spec.seed`` (never stored in checkpoints)."""
    spec: BrainSpec
    vocab_size: int
    conn: Connectivity
    consts: NeuronConsts
    compute_dtype: str = "float32"
    events: EventPlan | None = None   # event-driven propagation (None: dense gather)
    fused: tuple | None = None        # generation on the fused path: local_sources(spec, conn)
    packed: bool = False              # fused path with spikes packed 32 columns to a word
    kernel: bool = False              # fused path: one Pallas kernel per module substep


_MODELS: dict = {}


def make_model(spec: BrainSpec, vocab_size: int, compute_dtype: str = "float32") -> SpikingLM:
    """The model for (spec, vocab, dtype); the same object is returned for the same key, so
    jitted functions built on it are reused within a process."""
    if vocab_size < 2:
        raise ValueError(f"vocab_size {vocab_size} must be >= 2")
    if compute_dtype not in ("float32", "bfloat16"):
        raise ValueError(f"compute_dtype {compute_dtype!r}; allowed: ['float32', 'bfloat16']")
    key = (spec, int(vocab_size), compute_dtype)
    if key not in _MODELS:
        _MODELS[key] = SpikingLM(spec, int(vocab_size), build_connectivity(spec),
                                 neuron_consts(spec), compute_dtype)
    return _MODELS[key]


@functools.partial(jax.jit, static_argnums=(0, 1))
def _init(spec: BrainSpec, v: int, key) -> dict:
    keys = jax.random.split(key, 8)
    weights = []
    for mi, m in enumerate(MODULES):
        k = spec.fan_in(m)
        a = math.exp(-1.0 / TAU_M[m])
        # membrane std ~0.8 threshold: per-step input std 0.8 * sqrt(1 - alpha^2)
        scale = 0.8 * math.sqrt(1.0 - a * a) / math.sqrt(k * RATE0)
        weights.append(scale * jax.random.normal(jax.random.fold_in(keys[0], mi),
                                                 (spec.size(m), k)))
    n_thal = spec.size("thalamus")
    a_thal = math.exp(-1.0 / TAU_M["thalamus"])
    return {
        "w": tuple(weights),
        "bias": jnp.zeros((spec.n,), jnp.float32),
        "emb": jax.random.normal(keys[1], (v, spec.emb_dim)),
        "w_in": jax.random.normal(keys[2], (spec.emb_dim, n_thal))
                * (1.5 * math.sqrt(1 - a_thal ** 2) / math.sqrt(spec.emb_dim)),
        "w_dec": 0.01 * jax.random.normal(keys[3], (spec.out_dim, v)),
        "b_dec": jnp.zeros((v,), jnp.float32),
        "neuromod": nm.init_coefficients(),
    }


def init_params(model: SpikingLM, key) -> dict:
    """Learned parameters: sparse weights per target module (n_m, K_m), per-neuron biases,
    embedding (V, emb_dim), Thalamus input (emb_dim, n_thal), decoder (out_dim, V) and
    (V,), neuromodulator coefficients (3, 6)."""
    return _init(model.spec, model.vocab_size, key)


def calibrate(model: SpikingLM, params: dict, input_ids: Int[Array, "B T"],
              target_rate: float, iters: int = 40, verbose: bool = False) -> tuple[dict, np.ndarray]:
    """Data-driven initial scaling (LSUV-like): rescale each module's incoming weights until
    every module past the Thalamus fires at about ``target_rate`` spikes per neuron per
    substep on ``input_ids``. Returns the new params and the final rates (6,).

    The random init assumes a source rate; the real rates of the deep modules come out far
    lower (0.2-0.5 % per substep), which starves the decoder and the working memory of
    spikes. This fixes the operating point before training, as e-prop / LSNN do by choosing
    input weights for 10-20 Hz."""
    run = jax.jit(lambda p, x: batch_metrics(model, p, x, x, remat=False)[2])
    x = jnp.asarray(input_ids)
    rates = np.asarray(run(params, x))
    for it in range(iters):
        # small multiplicative steps: the recurrent loops make the rate a steep function of
        # the gain (large steps jump between silence and runaway activity)
        # the gain towards the (optimal) rate; the Thalamus (the input layer, driven by the
        # token) keeps its init.
        f = np.clip((target_rate / np.maximum(rates, 1e-4)) ** 0.3, 0.85, 1.2)
        f[0] = 1.0
        if verbose:
            print(f"calibrate {it}: rates {np.round(rates, 4).tolist()}", flush=True)
        if np.all(np.abs(np.log(np.maximum(rates[1:], 1e-6) / target_rate)) < np.log(1.2)):
            break
        params = {**params, "w": tuple(w * float(fi) for w, fi in zip(params["w"], f))}
        rates = np.asarray(run(params, x))
    return params, rates


def param_count(params) -> int:
    return int(sum(np.prod(x.shape) for x in jax.tree_util.tree_leaves(params)))


class Carry(NamedTuple):
    """Recurrent state of a batch of B sequences between tokens."""
    neurons: ModState          # (N, B) arrays
    logp: Float[Array, "B V"]  # previous prediction
    mod: nm.ModulatorState     # (B,) arrays


def init_carry(model: SpikingLM, batch: int) -> Carry:
    v = model.vocab_size
    m0 = nm.init(v)
    return Carry(init_state(model.spec, batch), jnp.full((batch, v), -np.log(v), jnp.float32),
                 nm.ModulatorState(jnp.full((batch,), m0.baseline), jnp.full((batch,), m0.reward)))


def token_step(model: SpikingLM, params: dict, carry: Carry, tokens: Int[Array, "B"],
               mask: Float[Array, "3"] = ALL_MODULATORS, probe: bool = False):
    """Advance a batch by one token. Returns ``(carry, logp)``, ``logp`` (B, V) the
    log-probabilities of the next token (``probe``: also the spiking neurons per module
    that each substep propagated, (substeps, 6, B))."""
    spec = model.spec
    dtype = jnp.bfloat16 if model.compute_dtype == "bfloat16" else jnp.float32
    sig, mod = jax.vmap(nm.signals, in_axes=(0, 0, 0, None))(carry.logp, tokens, carry.mod, mask)
    g_in, g_beta = nm.gains(spec, params["neuromod"], sig)
    drive = (params["emb"][tokens] @ params["w_in"]).T                 # (n_thal, B)
    n_thal = spec.size("thalamus")
    ext = jnp.concatenate([drive, jnp.zeros((spec.n - n_thal, drive.shape[1]), drive.dtype)],
                          axis=0) + params["bias"][:, None]
    wflat = flat_weights(params["w"]) if model.events is not None else None   # once a token
    def one(state, _):
        new = network_substep(model, params["w"], state, ext, g_in, g_beta, dtype, wflat)
        return new, (_module_counts(spec, state.s) if probe else None)
    state, counts = jax.lax.scan(one, carry.neurons, None, length=spec.substeps,
                                 unroll=SUBSTEP_UNROLL)
    b0 = spec.offset("broca")
    logp = _decode(spec, params, state.z[b0:b0 + spec.out_dim], state.v[b0:b0 + spec.out_dim])
    if probe:
        return Carry(state, logp, mod), logp, counts
    return Carry(state, logp, mod), logp


def network_substep(model: SpikingLM, weights, state: ModState, ext: Float[Array, "N B"],
                    g_in: Float[Array, "N B"], g_beta: Float[Array, "N B"], dtype,
                    wflat=None) -> ModState:
    """One 1 ms substep of all N neurons for a batch of B: the input current
    ``g_in * (synaptic input + ext)`` (dimensionless, threshold 1) and the adaptive-LIF
    update (:func:`jaxbrain.lm.modules.substep`). Pipelined: every module reads the previous
    substep's spikes ``state.s``. Sequential: the stages of ``spec.stages`` in turn, each
    reading the spike vector in which the stages before it already hold this substep's
    spikes (feed-forward projections: no latency) and the rest the previous substep's
    (recurrent, lateral and feedback projections). ``wflat``: the event path's flat weights."""
    spec = model.spec
    decay_out = float(np.exp(-1.0 / spec.tau_out))
    if spec.feedforward == "pipelined":
        cur = synaptic_input(weights, model.conn, state.s, dtype, model.events, wflat) + ext
        return substep(model.consts, state, g_in * cur, g_beta, decay_out,
                       surrogate_scale=spec.surrogate_scale)
    s, parts = state.s, []
    for k, (m0, m1) in enumerate(spec.stages):
        r = spec.rows(m0, m1)
        cur = stage_input(weights, model.conn, k, s, dtype) + ext[r]
        new = substep(NeuronConsts(*(c[r] for c in model.consts)),
                      ModState(*(x[r] for x in state)), g_in[r] * cur, g_beta[r], decay_out,
                      surrogate_scale=spec.surrogate_scale)
        s = s.at[r].set(new.s)                      # later stages read these spikes
        parts.append((r.start, new))
    parts = [p for _, p in sorted(parts, key=lambda x: x[0])]
    return ModState(*(jnp.concatenate(f, axis=0) for f in zip(*parts)))


def _decode(spec: BrainSpec, params: dict, z_out, v_out):
    """log p(next token) (B, V) from the read-out neurons' trace and membrane (out_dim, B)."""
    readout = z_out
    if spec.readout == "membrane":
        readout = readout + READOUT_V * v_out
    logits = readout.T @ params["w_dec"] + params["b_dec"][None, :]
    return jax.nn.log_softmax(logits, axis=-1)


# --- generation on the fused path ---------------------------------------------------------

class GenState(NamedTuple):
    """Network state of a batch for generation on the fused path: per module (tuples of 6)
    membrane ``v`` and adaptation ``a`` (n_m, B) float32 and last spikes ``s`` (n_m, B) bool
    (packed: (n_m, B / 32) uint32, :func:`jaxbrain.lm.modules.pack_spikes`); the read-out
    trace ``z`` (out_dim, B) float32 of Broca's read-out neurons only, the one part of the
    trace the decoder reads. The same numbers as :class:`ModState`, without the (N, B)
    float32 spikes and the unread traces."""
    v: tuple
    a: tuple
    s: tuple
    z: Float[Array, "out B"]


def with_fused(model: SpikingLM, on: bool = True, packed: bool = False,
               kernel: bool = False) -> SpikingLM:
    """The same model whose :func:`jaxbrain.lm.generate.generate_ids` runs on the fused path
    (:func:`gen_token_step`: the dense gather's sum as one loop fusion per module over 1-byte
    spikes, no event lists, no capacities); training and :func:`token_step` are unchanged.
    Replaces the event path; ``on=False`` turns it off. ``packed``: spikes stored 32 batch
    columns to a uint32 word (8x less spike memory to gather from; the batch is padded to a
    multiple of 32), the same results. ``kernel``: each module's substep (input and adaptive-LIF update) as one Pallas kernel
    (:func:`jaxbrain.lm.gather_kernel.alif_substep`, 1-byte spikes; on a CPU it runs in the
    Pallas interpreter, for tests), the same operations in the same order."""
    if not on:
        return model._replace(fused=None, packed=False, kernel=False)
    if packed and kernel:
        raise ValueError("with_fused: packed=True and kernel=True exclude each other "
                         "(the kernel gathers 1-byte spikes)")
    return model._replace(events=None, fused=local_sources(model.spec, model.conn),
                          packed=bool(packed), kernel=bool(kernel))


def init_gen_carry(model: SpikingLM, batch: int) -> Carry:
    """:func:`init_carry` for the fused path (a :class:`GenState` at rest); packed spikes
    need ``batch`` to be a multiple of 32."""
    spec, c = model.spec, init_carry(model, batch)
    if model.packed and batch % LANES:
        raise ValueError(f"packed spikes need a batch that is a multiple of {LANES}; got {batch}")
    zeros = tuple(jnp.zeros((n, batch), jnp.float32) for n in spec.sizes)
    off = tuple(jnp.zeros((n, batch // LANES), jnp.uint32) if model.packed else
                jnp.zeros((n, batch), jnp.int8 if model.kernel else bool) for n in spec.sizes)
    return c._replace(neurons=GenState(zeros, zeros, off,
                                       jnp.zeros((spec.out_dim, batch), jnp.float32)))


def gen_weights(model: SpikingLM, params: dict):
    """Per-call constants of the fused path: the weights rounded to the gather dtype and
    transposed (K_t, n_t) float32, and the source tables behind an optimisation barrier (so
    that XLA slices them inside the fusion instead of folding one constant per slot)."""
    dtype = jnp.bfloat16 if model.compute_dtype == "bfloat16" else jnp.float32
    wt = tuple(rounded(w, dtype).T for w in params["w"])
    return wt, jax.lax.optimization_barrier(model.fused)


def gen_token_step(model: SpikingLM, params: dict, weights, carry: Carry,
                   tokens: Int[Array, "B"], mask: Float[Array, "3"] = ALL_MODULATORS):
    """:func:`token_step` on the fused path for a :class:`GenState` carry (``weights``:
    :func:`gen_weights`). Returns ``(carry, logp)``; ``logp`` (B, V) equals
    :func:`token_step`'s up to the order of the synaptic sum (bit-identical where the dense
    gather also sums the slots in order, as XLA's CPU dot does). Both feed-forward modes
    (``spec.stages``; the kernel and packed variants too)."""
    spec, consts = model.spec, model.consts
    wt, src = weights
    sig, mod = jax.vmap(nm.signals, in_axes=(0, 0, 0, None))(carry.logp, tokens, carry.mod, mask)
    g_in, g_beta = nm.module_gains(params["neuromod"], sig)                 # (6, B)
    drive = (params["emb"][tokens] @ params["w_in"]).T                      # (n_thal, B)
    offs = [spec.offset(m) for m in MODULES]
    bias = [params["bias"][o:o + n, None] for o, n in zip(offs, spec.sizes)]
    ext = [drive + bias[0]] + bias[1:]
    per = [tuple(np.asarray(c)[o] for c in (consts.alpha, consts.rho, consts.beta))
           for o in offs]
    decay_out = float(np.exp(-1.0 / spec.tau_out))
    n_out = spec.out_dim
    cols = projection_columns(spec)
    interpret = jax.default_backend() != "gpu"

    def module(st: GenState, read: tuple, t: int):
        """New (v, a, spikes) of module t from the spikes ``read`` (st.s, or for a later
        feed-forward stage the spikes already updated this substep)."""
        alpha, rho, beta0 = per[t]
        if model.kernel and cols[t] and t > 0:   # input and update in one kernel
            return alif_substep(
                tuple(cols[t]), wt[t], src[t], read, t, st.v[t], st.a[t], bias[t][:, 0],
                g_in[t], g_beta[t], alpha=float(alpha), rho=float(rho), beta0=float(beta0),
                interpret=interpret)
        if not cols[t]:
            syn = 0.0
        elif model.kernel:      # the thalamus: its input adds the token drive
            syn = slot_input(tuple(cols[t]), wt[t], src[t], read, interpret=interpret)
        else:
            syn = fused_input(spec, t, wt[t], src[t], read)
        current = g_in[t][None, :] * (syn + ext[t])
        s_prev = (unpack_spikes(st.s[t]) if model.packed else st.s[t]).astype(jnp.float32)
        v, a, theta = alif_update(alpha, rho, beta0 * g_beta[t][None, :], st.v[t], st.a[t],
                                  s_prev, current)
        spike = (v - theta) / theta >= 0
        return v, a, spike.astype(jnp.int8) if model.kernel else spike

    def one(st: GenState, _):
        vs, as_, ss, read = list(st.v), list(st.a), list(st.s), st.s
        for m0, m1 in spec.stages:          # pipelined: one stage, all read st.s
            for t in range(m0, m1):
                vs[t], as_[t], spike = module(st, read, t)
                if t == 2:
                    z = decay_out * st.z + spike[:n_out].astype(jnp.float32)
                ss[t] = pack_spikes(spike) if model.packed else spike
            read = tuple(ss)
        return GenState(tuple(vs), tuple(as_), tuple(ss), z), None

    state, _ = jax.lax.scan(one, carry.neurons, None, length=spec.substeps,
                            unroll=SUBSTEP_UNROLL)
    logp = _decode(spec, params, state.z, state.v[2][:n_out])
    return Carry(state, logp, mod), logp


def generation_nll(model: SpikingLM, params: dict, input_ids: Int[Array, "B T"],
                   target_ids: Int[Array, "B T"], mask=ALL_MODULATORS) -> Float[Array, "B"]:
    """Summed next-token cross-entropy (nats) per sequence, teacher-forced from rest, through
    the step that :func:`jaxbrain.lm.generate.generate_ids` runs for this model (the fused
    path's :func:`gen_token_step` or :func:`token_step`): checks that paths agree."""
    x, y = jnp.asarray(input_ids), jnp.asarray(target_ids)
    b = x.shape[0]
    if model.fused is not None:
        x, y = pad_batch(model, x), pad_batch(model, y)
        weights = gen_weights(model, params)
        step, carry = (lambda c, x: gen_token_step(model, params, weights, c, x, mask),
                       init_gen_carry(model, x.shape[0]))
    else:
        step, carry = (lambda c, x: token_step(model, params, c, x, mask),
                       init_carry(model, b))

    def body(c, xy):
        c, logp = step(c, xy[0])
        return c, -jnp.take_along_axis(logp, xy[1][:, None], axis=1)[:, 0]
    _, nll = jax.lax.scan(body, carry, (x.T, y.T))
    return jnp.sum(nll, axis=0)[:b]


def pad_batch(model: SpikingLM, x):
    """``x`` (B, ...) padded with zero rows to the batch the model generates with (a
    multiple of 32 for packed spikes; sequences are independent, so padding changes none)."""
    pad = -x.shape[0] % LANES if model.packed else 0
    return jnp.pad(x, ((0, pad),) + ((0, 0),) * (x.ndim - 1)) if pad else x


def _module_counts(spec: BrainSpec, s):
    """Spiking neurons per module and batch column (6, B) of the spikes a substep reads."""
    return jnp.stack([jnp.sum(s[spec.offset(m):spec.offset(m) + spec.size(m)] > 0, axis=0)
                      for m in MODULES])


def measure_activity(model: SpikingLM, params: dict, input_ids: Int[Array, "B T"],
                     mask=ALL_MODULATORS) -> np.ndarray:
    """Spiking neurons per module that each substep propagates, (T, substeps, 6, B), for
    teacher-forced ``input_ids`` from rest (sizes the event lists: :func:`event_capacities`)."""
    def body(carry, x):
        carry, _, counts = token_step(model, params, carry, x, mask, probe=True)
        return carry, counts
    x = jnp.asarray(input_ids)
    run = jax.jit(lambda p, x: jax.lax.scan(body, init_carry(model, x.shape[0]), x.T)[1])
    return np.asarray(run(params, x))


def event_capacities(counts: np.ndarray, spec: BrainSpec, headroom: float = 1.5,
                     dense_rate: float = 0.15) -> tuple:
    """Active-list capacity per source module from measured counts (``measure_activity``):
    ``headroom`` x the largest count seen in any column and substep, plus 16, capped at
    the module size. A module whose mean rate exceeds ``dense_rate`` is left on the dense
    gather (capacity 0): at that density the scatter does not pay (the Thalamus, ~26 %)."""
    counts = np.asarray(counts)
    peak = counts.max(axis=(0, 1, 3))
    mean_rate = counts.mean(axis=(0, 1, 3)) / np.asarray(spec.sizes)
    return tuple(0 if r > dense_rate else int(min(n, np.ceil(headroom * p) + 16))
                 for p, r, n in zip(peak, mean_rate, spec.sizes))


def with_events(model: SpikingLM, caps) -> SpikingLM:
    """The same model with event-driven propagation (capacities ``caps`` per source module,
    0 = dense for that module; see :class:`jaxbrain.lm.modules.EventPlan`). Same results as
    the dense gather up to the float summation order; ``caps=None`` turns it off."""
    if caps is None:
        return model._replace(events=None)
    if model.spec.feedforward != "pipelined":
        raise ConfigError(f"with_events: the event path supports feedforward='pipelined' only, "
                          f"not {model.spec.feedforward!r}; train on the dense path (the "
                          "default) and generate on it or with with_fused")
    return model._replace(events=make_event_plan(model.spec, model.conn, caps), fused=None)


def batch_metrics(model: SpikingLM, params: dict, input_ids: Int[Array, "B T"],
                  target_ids: Int[Array, "B T"], mask: Float[Array, "3"] = ALL_MODULATORS,
                  remat: bool = True, return_predictions: bool = False):
    """Summed cross-entropy (nats), number of correct argmax predictions, and mean firing
    rate per module (6,), for a batch of sequences each started from rest (plus the (B, T)
    argmax predictions if ``return_predictions``)."""
    input_ids = jnp.asarray(input_ids)
    if input_ids.ndim != 2 or input_ids.shape != jnp.shape(target_ids):
        raise ValueError(f"input_ids {input_ids.shape} and target_ids {jnp.shape(target_ids)} "
                         "must both be (batch, time)")

    def body(carry, xy):
        x, y = xy
        carry, logp = token_step(model, params, carry, x, mask)
        nll = -jnp.take_along_axis(logp, y[:, None], axis=1)[:, 0]
        correct = (jnp.argmax(logp, axis=-1) == y).astype(jnp.float32)
        rate = jnp.mean(carry.neurons.s, axis=1)
        return carry, (jnp.sum(nll), jnp.sum(correct), rate, jnp.argmax(logp, axis=-1))

    if remat:
        body = jax.checkpoint(body)
    _, (nll, correct, rates, preds) = jax.lax.scan(body, init_carry(model, input_ids.shape[0]),
                                                   (input_ids.T, jnp.asarray(target_ids).T))
    spec = model.spec
    r = jnp.mean(rates, axis=0)
    rate_mod = jnp.stack([jnp.mean(r[spec.offset(m):spec.offset(m) + spec.size(m)])
                          for m in MODULES])
    if return_predictions:
        return jnp.sum(nll), jnp.sum(correct), rate_mod, preds.T
    return jnp.sum(nll), jnp.sum(correct), rate_mod


def sequence_metrics(model, params, input_ids: Int[Array, "T"], target_ids: Int[Array, "T"],
                     mask=ALL_MODULATORS, remat: bool = True):
    """One sequence: :func:`batch_metrics` on a batch of one."""
    return batch_metrics(model, params, jnp.asarray(input_ids)[None], jnp.asarray(target_ids)[None],
                         mask, remat)


def loss_fn(params, model, input_ids, target_ids, mask=ALL_MODULATORS, remat: bool = True):
    """Mean next-token cross-entropy (nats/token) and aux ``(accuracy, rates)``."""
    nll, correct, rates = batch_metrics(model, params, input_ids, target_ids, mask, remat)
    n = input_ids.size
    return nll / n, (correct / n, rates)
