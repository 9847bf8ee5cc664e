"""Diehl & Cook (2015) unsupervised STDP digit classifier (Front. Comput. Neurosci. 9:99).

784 Poisson inputs (rate = pixel * ``input_scale`` * intensity Hz, pixel in 0..255; the
paper's pixel / 4 Hz is ``input_scale = 1/8`` at the initial intensity 2) project all-to-all
with plastic weights (:data:`~jaxbrain.plasticity.diehl_cook_stdp`) onto ``n_e``
conductance-based LIF excitatory neurons with adaptive thresholds (threshold
``v_th + theta - theta_offset``, ``theta += theta_plus`` per spike while learning, decaying
to 0 with ``tau_theta``; theta starts at ``theta_init`` = 20 mV = ``theta_offset``, as in the
paper's code, so the decay of the initial 20 mV lowers the threshold over training); each
excitatory neuron drives one inhibitory neuron (weight ``w_ei``), which inhibits all other
excitatory neurons (``w_ie``): soft winner-take-all. Conductances are in units of the leak
conductance (``c_m = tau_m`` so ``g_L = 1``), as in the paper's Brian code.

Per image (:func:`present`): the input weights are normalised to sum ``norm_total`` per
excitatory neuron, then the image is shown for ``t_present`` ms; if the excitatory layer fires
fewer than ``min_spikes`` spikes the image is shown again with intensity + 1 (at most
``max_tries`` presentations). Differences from the paper's code, chosen for speed and stated
here once:

* by default (``rest = "reset"``) the 150 ms rest between images is replaced by resetting
  membrane, conductances and traces to rest (the threshold theta is kept, with its exact
  decay); ``rest = "decay"`` lets the excitatory membrane relax over the rest as in the paper
  and carries it into the next presentation (:func:`_relax`; conductances, traces and the
  inhibitory neurons are back at rest after 150 ms to within exp(-7.5));
* within one presentation the STDP changes are accumulated and applied at its end (the rule
  is exactly the online rule with the weights held fixed over the 350 ms; see
  :func:`jaxbrain.plasticity.accumulate`); the threshold theta adapts online, per spike;
* theta decays exactly with ``tau_theta`` (1e7 ms) during presentations and rests, computed
  in closed form with ``expm1`` (:func:`_dynamics`). A per-step float32 ``theta *=
  exp(-dt / tau_theta)`` cannot represent the decay (the factor rounds to 1 - 2**-24, or to
  1.0 where the device's exp is approximate): before this was fixed theta lost one ulp per
  step on the CPU (1.2-2.4 times the paper's decay, depending on theta's binade) and,
  with the parameters traced into a module-level jit, possibly none at all on a GPU, so
  the result depended on the platform and on whether the parameters were compile-time
  constants;
* the paper's random axonal delays (0-10 ms input to excitatory) are left out;
* synapses without delay, in Brian's order (every group integrates, then every spike of the
  step increments its targets' conductances): an excitatory spike at step ``t`` acts on its
  inhibitory partner from step ``t + 1``, whose spike at ``t + 1`` acts on the other
  excitatory neurons from ``t + 2``. (An earlier version took one step more on the I -> E
  leg, which let more excitatory neurons fire before the inhibition arrived: 1,600 neurons
  lost 2.5 pp; docs/plasticity.md.)

Everything is a pure function of ``(params, state, image, seed, counters)``: Poisson input
spikes come from the counter-based RNG keyed by (seed, stream, image id, attempt, step,
input), so a run resumed from a checkpoint continues exactly, and networks with different
seeds or hyper-parameters run side by side under ``jax.vmap``.

Optional for evaluation: ``quant_bits`` < 24 runs the input weights through
:func:`jaxbrain.quantization.fake_quant` (per post neuron) in the forward pass (QAT when
learning, PTQ when frozen), and ``stp_on=True`` multiplies each input spike by its
Tsodyks-Markram release times ``stp_gain`` (default ``1/U``: first spike of a train = the
learned weight).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.experimental import pallas as pl
from jaxtyping import Array, Float, Int

from .. import rng
from ..neurons import LIFParams, LIFState, lif_conductance, lif_conductance_euler
from ..plasticity.diehl_cook import DiehlCookParams
from ..plasticity.stp import STPParams, tsodyks_markram
from ..plasticity.traces import bounded_change
from ..quantization import fake_quant

__all__ = ["DCParams", "DCState", "init", "present", "train_chunk", "respond", "train_networks",
           "nu_schedule", "respond_jit",
           "assign_labels", "predict", "field_sharpness", "last_spike_trace", "stdp_window", "STREAM_TRAIN", "STREAM_LABEL",
           "STREAM_TEST"]

STREAM_TRAIN, STREAM_LABEL, STREAM_TEST = 0, 1, 2


def _exc() -> LIFParams:
    return LIFParams(v_rest=-65.0, v_th=-52.0, v_reset=-65.0, tau_m=100.0, c_m=100.0,
                     t_ref=5.0, tau_syn_ex=1.0, tau_syn_in=2.0, e_ex=0.0, e_in=-100.0)


def _inh() -> LIFParams:
    return LIFParams(v_rest=-60.0, v_th=-40.0, v_reset=-45.0, tau_m=10.0, c_m=10.0,
                     t_ref=2.0, tau_syn_ex=1.0, tau_syn_in=2.0, e_ex=0.0, e_in=-85.0)


@struct.dataclass
class DCParams:
    """Network parameters (paper values by default). Times in ms, potentials in mV,
    conductances in units of the leak conductance.

    Attributes:
        n_input, n_e: input and excitatory (= inhibitory) population sizes (static).
        unroll: ``lax.scan`` unroll of the scan dynamics (static).
        dynamics: ``"scan"`` (a ``lax.scan`` over the steps), ``"kernel"`` (one GPU kernel
            per presentation, :func:`_kernel_dynamics`) or ``"interpret"`` (that kernel in
            the Pallas interpreter; tests) (static).
        integration: ``"exponential_euler"`` (:data:`~jaxbrain.neurons.lif_conductance`) or
            ``"euler"`` (:data:`~jaxbrain.neurons.lif_conductance_euler`, the paper's Brian
            default: a conductance increment carries the charge ``tau_syn * w``, where the
            exponential-Euler step gives 1.27x that for E and 1.13x for I at dt 0.5 ms; but a
            large inhibitory volley makes Euler overshoot past E_in and the layer synchronises:
            400 neurons fall to chance within 500 images, docs/plasticity.md) (static).
        rest: ``"reset"`` (every presentation starts from rest) or ``"decay"`` (the paper's
            ``t_rest`` without input: the excitatory membrane relaxes from where the
            presentation left it and carries over, :func:`_relax`) (static).
        dt: time step, ms.
        n_steps: steps per presentation (static; 700 = 350 ms at dt 0.5).
        exc, inh: LIF parameters; ``exc.v_th`` is the base threshold (``theta - theta_offset``
            adds to it).
        w_ei: E -> I one-to-one weight; w_ie: I -> E all-but-own weight.
        stdp: the input -> E rule.
        theta_plus, tau_theta: adaptive threshold increment per spike (mV) and decay (ms).
        theta_init, theta_offset: initial theta and the offset subtracted from it in the
            threshold ``exc.v_th + theta - theta_offset`` (the paper's code: 20 mV and 20 mV;
            theta decays towards 0, so the threshold decays towards ``v_th - theta_offset``).
        norm_total: sum of input weights per excitatory neuron.
        input_scale: Hz per pixel unit per intensity unit (1/8: pixel/4 Hz at intensity 2).
        intensity0: initial intensity; min_spikes, max_tries: the re-presentation rule.
        t_rest: rest between images over which theta decays (ms; state is reset).
        w_init: initial weights uniform in [0.01, 1.01) * w_init (the paper: 0.3).
        quant_bits: forward-pass weight bits (>= 24: float).
        nu_scale: multiplier on the STDP rates ``stdp.nu_pre`` and ``stdp.nu_post`` (1: the
            paper's rates; a training schedule lowers it, see :func:`nu_schedule`).
        stp: Tsodyks-Markram parameters for the inputs; stp_on: use them (static).
        stp_gain: input spike weight = w * release * stp_gain (0: ``1 / U``, so the first
            spike of a train has the learned weight).
    """
    n_input: int = struct.field(pytree_node=False, default=784)
    n_e: int = struct.field(pytree_node=False, default=400)
    n_steps: int = struct.field(pytree_node=False, default=700)
    max_tries: int = struct.field(pytree_node=False, default=5)
    unroll: int = struct.field(pytree_node=False, default=1)
    dynamics: str = struct.field(pytree_node=False, default="scan")
    integration: str = struct.field(pytree_node=False, default="exponential_euler")
    rest: str = struct.field(pytree_node=False, default="reset")
    dt: float = 0.5
    exc: LIFParams = struct.field(default_factory=_exc)
    inh: LIFParams = struct.field(default_factory=_inh)
    w_ei: float = 10.4
    w_ie: float = 17.0
    stdp: DiehlCookParams = struct.field(default_factory=DiehlCookParams)
    theta_plus: float = 0.05
    tau_theta: float = 1e7
    theta_init: float = 20.0
    theta_offset: float = 20.0
    norm_total: float = 78.0
    input_scale: float = 0.125
    intensity0: float = 2.0
    min_spikes: float = 5.0
    t_rest: float = 150.0
    w_init: float = 0.3
    quant_bits: float = 32.0
    nu_scale: float = 1.0
    stp: STPParams = struct.field(default_factory=STPParams)
    stp_on: bool = struct.field(pytree_node=False, default=False)
    stp_gain: float = 0.0


class DCState(NamedTuple):
    """Learned state: input weights ``w`` (n_input, n_e) and adaptive thresholds ``theta``
    (n_e,) mV (the paper's theta: the threshold is ``exc.v_th + theta - theta_offset``);
    with ``rest = "decay"`` also ``v`` (n_e,) mV, the excitatory membrane at the start of the
    next presentation (``None`` otherwise)."""
    w: Float[Array, "n_input n_e"]
    theta: Float[Array, "n_e"]
    v: Float[Array, "n_e"] | None = None


def init(params: DCParams, seed) -> DCState:
    """Initial weights ``w_init * (U[0,1) + 0.01)`` from the counter RNG, theta = ``theta_init``."""
    i = jnp.arange(params.n_input, dtype=jnp.uint32)[:, None]
    j = jnp.arange(params.n_e, dtype=jnp.uint32)[None, :]
    w = params.w_init * (rng.uniform(seed, 7, i, j) + 0.01)
    v = jnp.full((params.n_e,), params.exc.v_rest, jnp.float32) if params.rest == "decay" else None
    return DCState(w.astype(jnp.float32), jnp.full((params.n_e,), params.theta_init, jnp.float32), v)


def last_spike_trace(spikes: Float[Array, "T n"], tau, dt) -> Float[Array, "T n"]:
    """Nearest-spike trace at each step, decayed over the step and before that step's spike:
    ``exp(-(t - t_last) dt / tau)`` with ``t_last`` the last spike strictly before ``t``
    (0 if none). Equals stepping :func:`~jaxbrain.plasticity.traces.decay` / ``bump``."""
    T = spikes.shape[0]
    t = jnp.arange(T, dtype=jnp.float32)[:, None]
    marked = jnp.where(spikes > 0, t, -jnp.inf)
    last = jax.lax.cummax(marked, axis=0)
    last_before = jnp.concatenate([jnp.full_like(last[:1], -jnp.inf), last[:-1]], axis=0)
    return jnp.exp(-(t - last_before) * dt / tau)


def _normalised(params: DCParams, w):
    """Input weights scaled to sum ``norm_total`` per excitatory neuron."""
    return w * (params.norm_total / jnp.sum(w, axis=0, keepdims=True))


def _effective_weights(params: DCParams, w):
    w = _normalised(params, w)
    fq = fake_quant(w, jnp.minimum(params.quant_bits, 16.0), 0)
    return w, jnp.where(params.quant_bits >= 24.0, w, fq)


def _input_spikes(params: DCParams, image, intensity, seed, stream, image_id, attempt):
    rate = image.astype(jnp.float32) * (params.input_scale * intensity)        # (n_input,) Hz
    t = jnp.arange(params.n_steps, dtype=jnp.uint32)[:, None]
    i = jnp.arange(params.n_input, dtype=jnp.uint32)[None, :]
    u = rng.uniform(seed, stream, image_id, attempt, t, i)
    return (u < rate[None, :] * (params.dt * 1e-3)).astype(jnp.float32)        # (T, n_input)


def _stp_release(params: DCParams, s_in):
    def body(s, x):
        r, s = tsodyks_markram.update(params.stp, s, x, params.dt)
        return s, r
    _, rel = jax.lax.scan(body, tsodyks_markram.init(params.stp, params.n_input), s_in)
    gain = jnp.where(params.stp_gain > 0, params.stp_gain, 1.0 / params.stp.U)
    return rel * gain


def _theta_decay(theta, t_ms, tau):
    """``theta * exp(-t_ms / tau)`` to float32 accuracy for ``t_ms << tau``: the decrement
    ``theta * expm1(-t / tau)`` is computed on its own scale (``exp(-0.5 / 1e7)`` itself is not
    representable: it rounds to 1 - 2**-24, or to 1.0 where the device's exp is approximate)."""
    return theta + theta * jnp.expm1(-t_ms / tau)


def _neuron(params: DCParams):
    return lif_conductance_euler if params.integration == "euler" else lif_conductance


def _step(params: DCParams, theta, learn: bool, carry, d, dec, i_total=None):
    """One time step of E and I: ``d`` the input drive (n_e,), ``dec`` the decay
    ``expm1(-t dt / tau_theta)`` of theta since the presentation began, ``i_total`` the
    number of inhibitory spikes of the previous step (default: the sum of ``carry``'s;
    a kernel whose programs each hold a slice of the neurons passes the total of all).
    Shared by the scan (:func:`_scan_dynamics`) and the GPU kernel (:func:`_kernel_dynamics`)."""
    e, i, s_i, inc = carry
    exc, inh = params.exc, params.inh
    z = jnp.zeros_like(d)
    th = theta + theta * dec + inc - params.theta_offset
    # the previous step's inhibitory spikes act on E in this step, as E's act on I
    # (Brian's order: every group integrates, then every spike increments its targets)
    i_total = jnp.sum(s_i) if i_total is None else i_total
    e = e._replace(g_in=e.g_in + params.w_ie * (i_total - s_i))
    neuron = _neuron(params)
    e, s_e = neuron.step(exc.replace(v_th=exc.v_th + th), e, d, z, 0.0, params.dt)
    i, s_i = neuron.step(inh, i, params.w_ei * s_e, z, 0.0, params.dt)
    if learn:
        inc = inc + params.theta_plus * s_e
    return (e, i, s_i, inc), s_e


def _carry0(params: DCParams, v0):
    """Start of a presentation: all at rest, conductances and counts zero, the excitatory
    membrane at ``v0`` (n,)."""
    n = v0.shape[0]
    z = jnp.zeros((n,), jnp.float32)
    return lif_conductance.init(params.exc, n, v0), lif_conductance.init(params.inh, n), z, z


def _scan_dynamics(params: DCParams, drive, theta, dk, learn: bool, v0):
    def body(carry, x):
        return _step(params, theta, learn, carry, *x)
    (e, _, _, _), s_e = jax.lax.scan(body, _carry0(params, v0), (drive, dk), unroll=params.unroll)
    return s_e, e


KERNEL_BLOCK = 256   # neurons per program of the training kernel (H100: 25 programs at 6,400)
MAX_PROGRAMS = 128   # programs of all networks together that must be resident at once


def _dynamics_kernel(p_ref, dk_ref, theta_ref, drive_ref, count_ref, *refs, treedef, n_leaves,
                     learn, block, programs, carry_state):
    """Program ``pid`` advances neurons ``[pid * block, (pid + 1) * block)`` over the whole
    presentation, their state in registers. After each step it adds its inhibitory spike
    count (times 256) plus one to ``count[t]`` and waits until all ``programs`` have arrived:
    the total is the next step's inhibitory input. With ``carry_state`` (``rest = "decay"``)
    the refs are ``v0, s, count, v, g_ex, g_in, refractory``: the excitatory membrane starts
    at ``v0`` and its end state is written out; otherwise ``s, count`` and it starts at rest."""
    from jax.experimental.pallas import triton as plt
    s_ref = refs[1] if carry_state else refs[0]   # (the count output is count_ref's buffer)
    params = jax.tree.unflatten(treedef, [p_ref[k] for k in range(n_leaves)])
    cols = pl.ds(pl.program_id(0) * block, block)
    theta = theta_ref[cols]

    def body(t, c):
        carry, i_total = c
        carry, s_e = _step(params, theta, learn, carry, drive_ref[t, cols], dk_ref[t], i_total)
        s_ref[t, cols] = s_e
        mine = jnp.sum(carry[2]).astype(jnp.int32)
        if programs == 1:
            return carry, mine.astype(jnp.float32)
        arrived = plt.atomic_add(count_ref, t, mine * 256 + 1) + mine * 256 + 1
        arrived = jax.lax.while_loop(lambda v: (v & 255) < programs,
                                     lambda v: plt.atomic_add(count_ref, t, 0), arrived)
        return carry, (arrived >> 8).astype(jnp.float32)

    v0 = refs[0][cols] if carry_state else jnp.full((block,), params.exc.v_rest, jnp.float32)
    (e, _, _, _), _ = jax.lax.fori_loop(0, drive_ref.shape[0], body,
                                        (_carry0(params, v0), jnp.float32(0.0)))
    if carry_state:
        for ref, x in zip(refs[3:], (e.v, e.g_ex, e.g_in, e.refractory)):
            ref[cols] = x


def _kernel_dynamics(params: DCParams, drive, theta, dk, learn: bool, v0):
    """:func:`_scan_dynamics` as one Pallas (Triton) kernel per network and presentation: the
    700 steps in one launch, the E and I state in registers, instead of a few kernel
    launches per step (the scan is launch-bound on a GPU). Learning, the neurons are split
    over programs of ``KERNEL_BLOCK`` that meet at a barrier (an atomic counter) after each
    step to sum the inhibitory spikes, so all programs of all networks trained together must
    be resident at once (``train_networks`` checks ``MAX_PROGRAMS``); frozen (``respond``,
    many images side by side) one program holds all neurons. Arrays are padded to whole
    programs (powers of two); padded neurons get no drive and never fire. ``dynamics =
    "interpret"`` runs one program in the Pallas interpreter (CPU tests): the operations of
    the scan, so the same spikes to the bit. On a GPU the kernel's ``exp`` and division may
    round differently from XLA's."""
    from jax.experimental.pallas import triton as plt

    n = params.n_e
    interpret = params.dynamics == "interpret"
    if not interpret and jax.default_backend() != "gpu":
        raise ValueError(f"DCParams.dynamics = 'kernel' needs a GPU, not {jax.default_backend()!r}; "
                         f"allowed here: 'scan', or 'interpret' (slow, for tests)")
    block, programs = _kernel_layout(n, learn and not interpret)
    n_pad = block * programs
    leaves, treedef = jax.tree.flatten(params)
    pvec = jnp.stack([jnp.asarray(x, jnp.float32) for x in leaves])
    pvec = jnp.pad(pvec, (0, (1 << (len(leaves) - 1).bit_length()) - len(leaves)))
    drive = jnp.pad(drive, ((0, 0), (0, n_pad - n)))
    theta = jnp.pad(theta, (0, n_pad - n), constant_values=params.theta_offset)
    # the barrier's counters (one per step), made from a per-network value so that under
    # vmap every network gets its own
    count = jnp.zeros(drive.shape[:1], jnp.int32) + (theta[0] * 0).astype(jnp.int32)
    carry_state = params.rest == "decay"
    v0 = jnp.pad(v0, (0, n_pad - n), constant_values=params.exc.v_rest) if carry_state else None
    kernel = functools.partial(_dynamics_kernel, treedef=treedef, n_leaves=len(leaves), learn=learn,
                               block=block, programs=programs, carry_state=carry_state)
    f32 = jax.ShapeDtypeStruct((n_pad,), jnp.float32)
    end = (f32, f32, f32, jax.ShapeDtypeStruct((n_pad,), jnp.int32)) if carry_state else ()
    out = pl.pallas_call(
        kernel, grid=(programs,), interpret=interpret,
        out_shape=(jax.ShapeDtypeStruct(drive.shape, jnp.float32),
                   jax.ShapeDtypeStruct(count.shape, jnp.int32)) + end,
        input_output_aliases={4: 1},
        compiler_params=None if interpret else plt.CompilerParams(
            num_warps=min(32, max(4, block // 256)), num_stages=1),
    )(pvec, dk, theta, drive, count, *((v0,) if carry_state else ()))
    e_end = LIFState(*(x[:n] for x in out[2:])) if carry_state else None
    return out[0][:, :n], e_end


def _kernel_layout(n: int, split: bool) -> tuple[int, int]:
    """(neurons per program, programs) of the kernel dynamics for ``n`` neurons."""
    if split and n > KERNEL_BLOCK:
        programs = -(-n // KERNEL_BLOCK)
        if programs > MAX_PROGRAMS:  # the barrier counts arrivals in 8 bits, and all must be resident
            raise ValueError(f"DCParams.n_e = {n} needs {programs} kernel programs of {KERNEL_BLOCK}; "
                             f"allowed: n_e <= {MAX_PROGRAMS * KERNEL_BLOCK} with dynamics='kernel'")
        return KERNEL_BLOCK, programs
    return max(32, 1 << (n - 1).bit_length()), 1


def _dynamics(params: DCParams, drive, theta, learn: bool, v0=None):
    """Run E and I populations over one presentation from the excitatory membrane ``v0``
    (default: rest); returns (E spikes (T, n_e), theta, the E state at the end).

    Learning: the threshold at step ``t`` is ``theta0 exp(-t dt / tau_theta)`` plus
    ``theta_plus`` per spike fired so far in this presentation; the returned theta is the
    exact ``theta_T = theta0 d**T + theta_plus * sum_t s_t d**(T-1-t)`` (``d = exp(-dt /
    tau_theta)``), i.e. the per-step recursion ``theta <- theta d + theta_plus s`` evaluated in
    closed form (the recursion itself cannot be run in float32: ``theta * 5e-8`` is below
    half an ulp of theta, so each step rounds to one ulp or to nothing). The in-presentation
    decay of this presentation's own increments (< 0.05 mV * 3.5e-5) is left out of the
    threshold only."""
    t = jnp.arange(params.n_steps, dtype=jnp.float32)
    # expm1(-t dt / tau): the decay of theta0 up to step t (exact on its own scale)
    dk = jnp.expm1(-t * params.dt / params.tau_theta) if learn else jnp.zeros_like(t)
    if params.dynamics not in ("scan", "kernel", "interpret"):
        raise ValueError(f"DCParams.dynamics = {params.dynamics!r} is not allowed; "
                         f"allowed: 'scan', 'kernel', 'interpret'")
    if params.integration not in ("exponential_euler", "euler"):
        raise ValueError(f"DCParams.integration = {params.integration!r} is not allowed; "
                         f"allowed: 'exponential_euler', 'euler'")
    if params.rest not in ("reset", "decay"):
        raise ValueError(f"DCParams.rest = {params.rest!r} is not allowed; allowed: 'reset', 'decay'")
    if v0 is None:
        v0 = jnp.full((params.n_e,), params.exc.v_rest, jnp.float32)
    run = _scan_dynamics if params.dynamics == "scan" else _kernel_dynamics
    s_e, e_end = run(params, drive, theta, dk, learn, v0)
    if learn:
        T = params.n_steps
        late = jnp.expm1(-(T - 1 - t) * params.dt / params.tau_theta)   # (T,) decay after step t
        inc = params.theta_plus * (jnp.sum(s_e, axis=0) + jnp.sum(s_e * late[:, None], axis=0))
        theta = _theta_decay(theta, T * params.dt, params.tau_theta) + inc
    return s_e, theta, e_end


def present(params: DCParams, state: DCState, image: Int[Array, "n_input"], seed, stream,
            image_id, attempt, intensity, learn: bool):
    """One presentation of ``image`` (uint8 pixels) at ``intensity``.

    Returns ``(counts (n_e,), state)``; with ``learn`` the weights get the presentation's
    summed STDP change and theta adapts, otherwise ``state`` is returned unchanged.
    """
    w_norm, w_fwd = _effective_weights(params, state.w)
    s_in = _input_spikes(params, image, intensity, seed, stream, image_id, attempt)
    x_in = s_in * _stp_release(params, s_in) if params.stp_on else s_in
    drive = jnp.matmul(x_in, w_fwd, precision=jax.lax.Precision.HIGHEST)      # (T, n_e)
    s_e, theta, e_end = _dynamics(params, drive, state.theta, learn, state.v)
    counts = jnp.sum(s_e, axis=0)
    if not learn:
        return counts, state
    pot, dep = stdp_window(params.stdp, s_in, s_e, params.dt)
    w = w_norm + bounded_change(w_norm, params.nu_scale * pot, params.nu_scale * dep, params.stdp)
    return counts, DCState(w, theta, _relax(params, e_end) if params.rest == "decay" else None)


def stdp_window(p: DiehlCookParams, s_in: Float[Array, "T n_pre"], s_e: Float[Array, "T n_post"],
                dt) -> tuple[Array, Array]:
    """Summed potentiation and depression ``(n_pre, n_post)`` of the (nearest-spike) Diehl &
    Cook rule over a window, with traces in closed form (no scan); equals
    :func:`jaxbrain.plasticity.accumulate` with :data:`~jaxbrain.plasticity.diehl_cook_stdp`."""
    x_pre = last_spike_trace(s_in, p.tau_pre, dt)
    post1 = last_spike_trace(s_e, p.tau_post1, dt)
    post2 = last_spike_trace(s_e, p.tau_post2, dt)
    hi = jax.lax.Precision.HIGHEST
    pot = p.nu_post * jnp.einsum("ti,tj->ij", x_pre, s_e * post2, precision=hi)
    dep = p.nu_pre * jnp.einsum("ti,tj->ij", s_in, post1, precision=hi)
    return pot, dep


def _rest(params: DCParams, state: DCState) -> DCState:
    return state._replace(theta=_theta_decay(state.theta, params.t_rest, params.tau_theta))


REST_STEPPED_MS = 20.0   # of the rest, stepped while the synaptic conductances decay


def _relax(params: DCParams, e: LIFState) -> Float[Array, "n_e"]:
    """The excitatory membrane after ``t_rest`` ms without input (``rest = "decay"``), from
    the state ``e`` at the end of a presentation: the first ``REST_STEPPED_MS`` stepped with
    the conductances decaying (refractory neurons held at reset; no spikes: the threshold is
    not tested during the rest), then the leak alone in closed form (the conductances are
    down to exp(-20) of their end value by then)."""
    p = params.exc
    n_step = jnp.round(jnp.minimum(REST_STEPPED_MS, params.t_rest) / params.dt).astype(jnp.int32)
    quiet = p.replace(v_th=jnp.inf)
    z = jnp.zeros_like(e.v)
    step = _neuron(params).step
    e = jax.lax.fori_loop(0, n_step, lambda _, st: step(quiet, st, z, z, 0.0, params.dt)[0], e)
    left = params.t_rest - n_step * params.dt
    return p.v_rest + (e.v - p.v_rest) * jnp.exp(-left / p.tau_m)


def _show(params: DCParams, state: DCState, image, seed, stream, image_id, learn: bool):
    """Present until the E layer fires ``min_spikes`` (intensity + 1 per retry)."""
    def cond(c):
        counts, _, attempt = c
        return (jnp.sum(counts) < params.min_spikes) & (attempt < params.max_tries)

    def body(c):
        _, st, attempt = c
        intensity = params.intensity0 + attempt.astype(jnp.float32)
        counts, st = present(params, st, image, seed, stream, image_id, attempt, intensity, learn)
        return counts, _rest(params, st) if learn else st, attempt + 1

    counts0 = jnp.zeros((params.n_e,), jnp.float32)
    counts, state, attempt = jax.lax.while_loop(cond, body, (counts0, state, jnp.int32(0)))
    return counts, state, attempt


def train_chunk(params: DCParams, state: DCState, images: Int[Array, "K n_input"],
                image_ids: Int[Array, "K"], seed):
    """Learn from ``K`` images in order. Returns ``(state, counts (K, n_e), attempts (K,))``."""
    def body(st, x):
        img, iid = x
        counts, st, attempt = _show(params, st, img, seed, STREAM_TRAIN, iid, True)
        return st, (counts, attempt)

    state, (counts, attempts) = jax.lax.scan(body, state, (images, image_ids))
    return state, counts, attempts


def respond(params: DCParams, state: DCState, images: Int[Array, "B n_input"],
            image_ids: Int[Array, "B"], seed, stream: int):
    """Spike counts ``(B, n_e)`` of the frozen network to each image (images in parallel)."""
    def one(img, iid):
        counts, _, _ = _show(params, state, img, seed, stream, iid, False)
        return counts
    return jax.vmap(one)(images, image_ids)


def nu_schedule(nu_final, images_done, images_total, start: float = 0.0):
    """STDP-rate multiplier after ``images_done`` of ``images_total`` training images: 1 (the
    paper's rates) until the fraction ``start`` of training, then linear to ``nu_final`` at
    the end (``nu_final = 1``: the paper's constant rates). Works on floats and arrays (one
    ``nu_final`` per network)."""
    frac = min(max((images_done / images_total - start) / (1.0 - start), 0.0), 1.0)
    return 1.0 - (1.0 - nu_final) * frac


@jax.jit
def train_networks(params: DCParams, quant_bits: Float[Array, "M"], seeds, state: DCState,
                   images: Int[Array, "K n_input"], image_ids: Int[Array, "K"],
                   theta_plus: Float[Array, "M"] | None = None,
                   nu_scale: Float[Array, "M"] | None = None):
    """``M`` networks side by side (vmap over forward-pass bits, state (leading axis M),
    seed and, if given, the threshold increment ``theta_plus`` in mV and the STDP-rate
    multiplier ``nu_scale``) learn the same ``K`` images. Returns ``(state, counts (M, K,
    n_e), attempts)``. Jitted at module level so repeated runs in one process share the
    compilation."""
    if theta_plus is None:
        theta_plus = jnp.full(quant_bits.shape, params.theta_plus, jnp.float32)
    if nu_scale is None:
        nu_scale = jnp.full(quant_bits.shape, params.nu_scale, jnp.float32)
    if params.dynamics == "kernel":
        programs = quant_bits.shape[0] * _kernel_layout(params.n_e, True)[1]
        if programs > MAX_PROGRAMS:
            raise ValueError(f"train_networks: {quant_bits.shape[0]} networks of n_e = {params.n_e} need "
                             f"{programs} kernel programs resident at once; allowed: at most {MAX_PROGRAMS} "
                             f"(train fewer networks together, or use dynamics='scan')")

    def one(qb, tp, nu, st, sd):
        return train_chunk(params.replace(quant_bits=qb, theta_plus=tp, nu_scale=nu), st, images,
                           image_ids, sd)
    return jax.vmap(one)(quant_bits, theta_plus, nu_scale, state, seeds)


@jax.jit
def respond_jit(params: DCParams, state: DCState, images, image_ids, seed):
    """:func:`respond` (stream 0: put the stream in ``image_ids``), jitted at module level."""
    return respond(params, state, images, image_ids, seed, 0)


def field_sharpness(params: DCParams, state: DCState, top: int = 100) -> dict:
    """How the learned receptive fields are spread: per excitatory neuron, the share of its
    normalised input weight in its ``top`` strongest inputs (a crisp digit is about 0.7, the
    faint average digit of a neuron that rarely wins about 0.4), and its threshold theta
    (mV; once theta0 has decayed, ``theta_plus`` times its recently decayed spike count).
    Returns percentiles (10, 25, 50, 75, 90) of both and their correlation."""
    w = np.asarray(_normalised(params, state.w))
    share = np.sort(w, axis=0)[-top:].sum(0) / params.norm_total
    theta = np.asarray(state.theta)
    q = (10, 25, 50, 75, 90)
    return {f"top{top}_share_percentiles": np.percentile(share, q).round(4).tolist(),
            "theta_mV_percentiles": np.percentile(theta, q).round(3).tolist(),
            "correlation": float(np.corrcoef(share, theta)[0, 1]) if theta.std() > 0 else None}


def assign_labels(counts: Float[Array, "N n_e"], labels: Int[Array, "N"], n_classes: int = 10):
    """Each neuron's label: the class with the highest mean response (training data only)."""
    onehot = jax.nn.one_hot(labels, n_classes, dtype=jnp.float32)              # (N, C)
    per_class = jnp.einsum("nc,ne->ce", onehot, counts) / jnp.maximum(onehot.sum(0), 1.0)[:, None]
    return jnp.argmax(per_class, axis=0).astype(jnp.int32)


def predict(counts: Float[Array, "N n_e"], assignments: Int[Array, "n_e"], n_classes: int = 10):
    """Class with the highest mean count over the neurons assigned to it (classes with no
    neuron never win)."""
    onehot = jax.nn.one_hot(assignments, n_classes, dtype=jnp.float32)         # (n_e, C)
    n_assigned = onehot.sum(0)
    mean = (counts @ onehot) / jnp.maximum(n_assigned, 1.0)[None, :]
    mean = jnp.where(n_assigned[None, :] > 0, mean, -1.0)
    return jnp.argmax(mean, axis=1).astype(jnp.int32)
