"""Benchmark: the scaled COBA network (fan-out 80, ~50 Hz) from 4k to 4M neurons.

    jaxbrain run bench_coba_gpu [--set 'scales=[1,10,100,1000]'] [--set 'impls=["event"]']

Reports, per size and propagation implementation: wall time per biological second (after
compilation), real-time factor, synaptic events per second, peak device memory, the
bandwidth floor of one step, the ratio to brainevent (measured in the same run with form
``brainevent`` where brainevent imports, else its figure on the same GPU kind from
REFERENCE.md: brainevent 0.3.0, H100, JAX 0.11.2, 2026-11-23), and the board energy of the
timed run (NVML, :mod:`jaxbrain.energy`) per biological second and per synaptic event.

Form ``brainevent`` runs the same merged network (same synapse table, same neuron code,
delay one step) with brainevent's event-driven fixed-connection operator
(``BinaryArray(spikes) @ FixedNumPerPre``) doing the delivery, stepped by a ``lax.scan``, with
the same monitors (spike counts per neuron and per step).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxbrain import fused, propagation, step_kernel
from jaxbrain.energy import measure_energy, per_unit
from jaxbrain import simulate as sim
from jaxbrain.config import one_of, param, positive
from jaxbrain.models.coba_scaled import coba_scaled
from jaxbrain.runs import write_json

# brainevent, 10 s biological on the lent H100 (REFERENCE.md), per biological second
BRAINEVENT_H100_S_PER_BIO_S = {4_000: 0.105, 40_000: 0.128, 400_000: 0.257, 4_000_000: 1.096}
HBM_BYTES_PER_S = 2.2e12  # measured copy bandwidth of the lent H100 (REFERENCE.md)


@dataclasses.dataclass(frozen=True)
class Config:
    scales: tuple[float, ...] = param((1.0, 10.0, 100.0, 1000.0), positive, "network size / 4,000")
    impls: tuple[str, ...] = param(("event", "procedural"), doc="propagation implementations")
    kernels: tuple[str, ...] = param(("kernel",), doc="event delivery: 'kernel' (fused Pallas) and/or 'xla'")
    forms: tuple[str, ...] = param(("merged", "network"), one_of("merged", "kernel", "network", "brainevent"),
                                   "'merged' (jaxbrain.fused), 'kernel' (merged, stepped by jaxbrain.step_kernel: "
                                   "one or two kernels per step) and/or 'network'")
    duration_ms: float = param(1000.0, positive, "biological time per timed run, ms")
    chunk_steps: int = param(2000, positive, "steps per jitted scan")
    brainevent_backend: str = param("", one_of("", "cuda_raw", "pallas", "jax_raw"),
                                    "brainevent's GPU backend ('' = its default)")


def floor_bytes_per_step(n: int, rate_hz: float, fan_out: int, dt: float, impl: str) -> float:
    """Bytes one step must move at least: neuron state (v, g_ex, g_in float32 and an int16
    refractory counter: 14 B read + 14 B written; delays of one step need no input ring, as in
    step_kernel's direct form) and per synaptic event a 4 B atomic read-modify-write of the
    target (8 B) plus, if explicit, its 4 B index and 4 B weight."""
    events = n * rate_hz * dt * 1e-3 * fan_out
    per_event = 8 + (8 if impl == "event" else 0)
    return n * 28 + events * per_event


def brainevent_runner(fnet: fused.FusedNetwork):
    """The merged network stepped with brainevent doing the delivery (the peer form), built
    once: returns ``simulate(state, steps, chunk) -> (spike counts per neuron [N], spikes per
    step [steps])``."""
    import brainevent  # Python >= 3.12; on the GPU machine as carried wheels

    n = fnet.n
    ell = fnet.synapses.ell
    conn = brainevent.FixedNumPerPre((ell.weights, ell.targets), shape=(n, 2 * n + 1))  # + spare column

    @functools.partial(jax.jit, static_argnames="length")
    def chunk_run(conn, neurons, spikes, counts, length):
        def body(c, _):
            neurons, spikes, counts = c
            syn = brainevent.BinaryArray(spikes) @ conn  # [2N + 1]: ex columns, in columns, spare
            neurons, s = fnet.model.step(fnet.params, neurons, syn[:n], syn[n:2 * n], fnet.i_ext, fnet.dt)
            s = s != 0
            return (neurons, s, counts + s), jnp.sum(s, dtype=jnp.int32)
        return jax.lax.scan(body, (neurons, spikes, counts), None, length=length)

    def simulate(state: fused.FusedState, steps: int, chunk: int):
        carry = (state.neurons, jnp.zeros((n,), bool), jnp.zeros((n,), jnp.int32))
        per_step, done = [], 0
        while done < steps:
            length = min(chunk, steps - done)
            carry, totals = chunk_run(conn, *carry, length=length)
            per_step.append(totals)
            done += length
        return np.asarray(carry[2]), np.concatenate([np.asarray(x) for x in per_step])

    return simulate


def run(cfg: Config, out: Path) -> dict:
    dev = jax.devices()[0]
    peer_version = None
    if "brainevent" in cfg.forms:
        import brainevent
        brainevent.config.set_backend("gpu", cfg.brainevent_backend or None)
        peer_version = f"{brainevent.__version__}, gpu backend {cfg.brainevent_backend or 'default (cuda_raw)'}"
    rows, measured = [], {}  # measured: brainevent's s per bio-s in this run, by network size
    forms = sorted(cfg.forms, key=lambda f: f != "brainevent")  # the peer first at each size
    for scale, impl, method, form in itertools.product(cfg.scales, cfg.impls, cfg.kernels, forms):
        if form != "network" and impl != cfg.impls[0]:
            continue  # merged synapses are explicit whatever impl built them: one row suffices
        propagation.EVENT_KERNEL["method"] = method
        t0 = time.perf_counter()
        net, state = coba_scaled(scale, impl=impl)
        if form in ("merged", "kernel", "brainevent"):
            net = fused.fuse(net, rate_hz=60.0)
            state = fused.fuse_state(net, state)
        knet = step_kernel.prepare(net) if form == "kernel" else None
        jax.block_until_ready(state)
        build_s = time.perf_counter() - t0
        n = sum(p.n for p in net.populations.values())
        steps = int(round(cfg.duration_ms / net.dt))
        chunk = min(cfg.chunk_steps, steps)
        if form == "kernel":  # counts per neuron only (brainevent's benchmark keeps a spike sum)
            simulate = lambda: step_kernel.simulate(knet, state, steps, chunk_steps=chunk)
        elif form == "brainevent":
            peer_run = brainevent_runner(net)

            def simulate():
                counts, _ = peer_run(state, steps, chunk)
                return None, sim.Recording(net.dt, {}, {"all": counts})
        else:
            simulate = lambda: sim.run(net, state, steps, chunk_steps=chunk, progress=False)
        t1 = time.perf_counter()
        simulate()
        first_s = time.perf_counter() - t1
        t2 = time.perf_counter()
        with measure_energy() as energy:
            _, rec = simulate()
            jax.block_until_ready(rec.counts)
        wall = time.perf_counter() - t2
        rate = sum(rec.counts[k].sum() for k in rec.counts) / n / (cfg.duration_ms * 1e-3)
        events = float(sum(rec.counts[k].sum() for k in rec.counts)) * 80
        stats = dev.memory_stats() or {}
        per_bio_s = wall / (cfg.duration_ms * 1e-3)
        floor_s = floor_bytes_per_step(n, float(rate), 80, net.dt, impl) / HBM_BYTES_PER_S * 1e4
        if form == "brainevent":
            measured[n] = per_bio_s
        peer = measured.get(n, BRAINEVENT_H100_S_PER_BIO_S.get(n) if "H100" in dev.device_kind else None)
        row = {"n_neurons": n, "impl": impl if form == "network" else form, "delivery": method, "rate_hz": float(rate), "build_s": build_s,
               "compile_and_first_run_s": first_s, "wall_s_per_bio_s": per_bio_s,
               "real_time_factor": per_bio_s, "syn_events_per_s": events / wall,
               "peak_bytes": stats.get("peak_bytes_in_use"), "floor_s_per_bio_s": floor_s,
               "brainevent_s_per_bio_s": peer,
               "brainevent_source": "same run" if n in measured else "REFERENCE.md" if peer else None,
               "speedup_vs_brainevent": (peer / per_bio_s) if peer and form != "brainevent" else None,
               "energy_method": energy.method, "mean_watts": energy.mean_watts,
               **per_unit(energy, bio_second=cfg.duration_ms * 1e-3, synaptic_event=events)}
        rows.append(row)
        print(f"n={n:>9,d} {row['impl']:10s} {method:6s} rate {rate:6.2f} Hz  {per_bio_s:8.3f} s/bio-s  "
              f"{events / wall:9.3e} ev/s  floor {floor_s:.3f}  "
              f"peak {row['peak_bytes'] or 0:,}  x brainevent {row['speedup_vs_brainevent'] or float('nan'):.2f}  "
              f"{row['joules_per_bio_second'] or float('nan'):.1f} J/bio-s  {energy.mean_watts or float('nan'):.0f} W",
              flush=True)
    result = {"device": dev.device_kind, "jax": jax.__version__, "date": time.strftime("%Y-%m-%d"),
              "brainevent": peer_version, "rows": rows}
    write_json(out / "bench_coba_gpu.json", result)
    return {"rows": rows, "device": dev.device_kind}
