"""GPU energy measurement: a context manager that returns the joules a block of work used.

Sources, tried in order:

1. NVML through ``ctypes`` on ``libnvidia-ml.so.1``: the board's cumulative energy counter
   (``nvmlDeviceGetTotalEnergyConsumption``, mJ, Volta and newer), read before and after;
   power (``nvmlDeviceGetPowerUsage``, mW) is also sampled in a background thread for the
   mean and peak watts. Where the counter is missing, the sampled power is integrated.
2. ``nvidia-smi --query-gpu=power.draw`` sampled in a background thread and integrated
   (coarser: the query takes tens of ms and the reading is averaged by the driver).
3. Nothing (CPU, no driver): ``available`` is False, ``joules`` is None and ``reason`` says
   why; the block still runs and is timed.

Usage::

    with measure_energy() as m:
        run_benchmark(); jax.block_until_ready(result)
    print(m.joules, m.mean_watts, m.seconds, m.method)

Only board power is measured (GPU plus its memory), not the host. Block on the device work
(``jax.block_until_ready``) inside the context, or its energy falls outside it.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import threading
import time

__all__ = ["EnergyMeasurement", "measure_energy", "nvml_available", "per_unit"]


class _NVML:
    """Minimal NVML binding: init, handle, energy counter, power, name."""

    def __init__(self, library: str = "libnvidia-ml.so.1", index: int = 0):
        self.lib = ctypes.CDLL(library)
        rc = self.lib.nvmlInit_v2()
        if rc != 0:
            raise OSError(f"nvmlInit_v2 returned {rc}")
        self.handle = ctypes.c_void_p()
        rc = self.lib.nvmlDeviceGetHandleByIndex_v2(ctypes.c_uint(index), ctypes.byref(self.handle))
        if rc != 0:
            self.lib.nvmlShutdown()
            raise OSError(f"nvmlDeviceGetHandleByIndex_v2({index}) returned {rc}")

    def energy_mj(self) -> int | None:
        e = ctypes.c_ulonglong()
        rc = self.lib.nvmlDeviceGetTotalEnergyConsumption(self.handle, ctypes.byref(e))
        return int(e.value) if rc == 0 else None

    def power_mw(self) -> int | None:
        p = ctypes.c_uint()
        rc = self.lib.nvmlDeviceGetPowerUsage(self.handle, ctypes.byref(p))
        return int(p.value) if rc == 0 else None

    def name(self) -> str:
        buf = ctypes.create_string_buffer(96)
        rc = self.lib.nvmlDeviceGetName(self.handle, buf, ctypes.c_uint(96))
        return buf.value.decode() if rc == 0 else "unknown"

    def close(self):
        try:
            self.lib.nvmlShutdown()
        except Exception:  # pragma: no cover
            pass


def nvml_available(library: str = "libnvidia-ml.so.1") -> bool:
    """Whether NVML loads and sees a GPU."""
    try:
        _NVML(library).close()
        return True
    except (OSError, AttributeError):
        return False


class EnergyMeasurement:
    """Result of :func:`measure_energy` (filled in when the ``with`` block exits).

    Attributes:
        available: whether any energy source worked.
        method: 'nvml_energy_counter', 'nvml_power_sampling', 'nvidia_smi_sampling' or None.
        joules: energy of the block (J), None when not available.
        seconds: wall time of the block.
        mean_watts, peak_watts: from the power samples (None without samples).
        n_samples: power samples taken. device: GPU name. reason: why not available.
    """

    def __init__(self):
        self.available = False
        self.method: str | None = None
        self.joules: float | None = None
        self.seconds = 0.0
        self.mean_watts: float | None = None
        self.peak_watts: float | None = None
        self.n_samples = 0
        self.device: str | None = None
        self.reason = ""

    def as_dict(self) -> dict:
        return dict(vars(self))

    def __repr__(self):
        if not self.available:
            return f"EnergyMeasurement(not available: {self.reason}; {self.seconds:.3f} s)"
        return (f"EnergyMeasurement({self.joules:.3f} J in {self.seconds:.3f} s, "
                f"mean {self.mean_watts} W, {self.method}, {self.device})")


class _Sampler(threading.Thread):
    def __init__(self, read_watts, interval_s):
        super().__init__(daemon=True)
        self.read, self.interval = read_watts, interval_s
        self.samples: list[tuple[float, float]] = []
        self.stop_event = threading.Event()

    def run(self):
        while not self.stop_event.is_set():
            w = self.read()
            if w is not None:
                self.samples.append((time.perf_counter(), w))
            self.stop_event.wait(self.interval)

    def finish(self):
        self.stop_event.set()
        self.join(timeout=5.0)
        return self.samples


def _integrate(samples, t0, t1) -> float | None:
    """Trapezoid integral of power samples over [t0, t1] (held constant at the ends)."""
    if not samples:
        return None
    ts = [t0] + [t for t, _ in samples] + [t1]
    ws = [samples[0][1]] + [w for _, w in samples] + [samples[-1][1]]
    return sum(0.5 * (ws[i] + ws[i + 1]) * (ts[i + 1] - ts[i]) for i in range(len(ts) - 1))


def _smi_reader(smi: str, index: int):
    def read():
        try:
            out = subprocess.run([smi, "--query-gpu=power.draw", "--format=csv,noheader,nounits",
                                  "-i", str(index)], capture_output=True, text=True, timeout=5)
            return float(out.stdout.strip().splitlines()[0])
        except Exception:
            return None
    return read


class measure_energy:
    """Context manager measuring the GPU energy of its block; yields an
    :class:`EnergyMeasurement` (see the module docstring for the sources).

    Arguments:
        index: GPU index (NVML / nvidia-smi numbering).
        interval_s: power sampling interval, s.
        library: NVML shared library name or path.
        smi: the nvidia-smi executable (name or path) for the fallback.
    """

    def __init__(self, index: int = 0, interval_s: float = 0.05,
                 library: str = "libnvidia-ml.so.1", smi: str = "nvidia-smi"):
        self.index, self.interval, self.library, self.smi = index, interval_s, library, smi
        self.m = EnergyMeasurement()
        self._nvml = None
        self._sampler = None
        self._e0 = None

    def __enter__(self) -> EnergyMeasurement:
        reasons = []
        try:
            self._nvml = _NVML(self.library, self.index)
            self.m.device = self._nvml.name()
            self._e0 = self._nvml.energy_mj()
            nv = self._nvml
            self._sampler = _Sampler(lambda: (lambda p: None if p is None else p / 1000.0)(nv.power_mw()),
                                     self.interval)
            self.m.method = "nvml_energy_counter" if self._e0 is not None else "nvml_power_sampling"
        except (OSError, AttributeError) as e:
            reasons.append(f"NVML: {e}")
            self._nvml = None
            exe = shutil.which(self.smi)
            if exe is not None:
                reader = _smi_reader(exe, self.index)
                if reader() is not None:
                    self._sampler = _Sampler(reader, max(self.interval, 0.1))
                    self.m.method = "nvidia_smi_sampling"
                else:
                    reasons.append(f"{self.smi} gives no power reading")
            else:
                reasons.append(f"no {self.smi} on PATH")
        self.m.reason = "; ".join(reasons)
        self._t0 = time.perf_counter()
        if self._sampler is not None:
            self._sampler.start()
        return self.m

    def __exit__(self, *exc):
        t1 = time.perf_counter()
        m = self.m
        m.seconds = t1 - self._t0
        samples = self._sampler.finish() if self._sampler is not None else []
        m.n_samples = len(samples)
        if samples:
            ws = [w for _, w in samples]
            m.mean_watts = sum(ws) / len(ws)
            m.peak_watts = max(ws)
        if self._nvml is not None:
            e1 = self._nvml.energy_mj() if self._e0 is not None else None
            if e1 is not None and e1 > self._e0:
                m.joules = (e1 - self._e0) / 1000.0
            else:  # no counter, or it did not advance (blocks shorter than its update interval)
                if e1 is not None:
                    m.method = "nvml_power_sampling"
                    m.reason = "the NVML energy counter did not advance over the block"
                m.joules = _integrate(samples, self._t0, t1)
            self._nvml.close()
        elif samples:
            m.joules = _integrate(samples, self._t0, t1)
        m.available = m.joules is not None
        if not m.available and not m.reason:
            m.reason = "no power samples were taken"
        if m.available and m.mean_watts is None and m.seconds > 0:
            m.mean_watts = m.joules / m.seconds
        return False


def per_unit(m: EnergyMeasurement, **units: float) -> dict:
    """Energy per unit of work, e.g. ``per_unit(m, bio_second=0.6, synaptic_event=3e8)``
    -> {'joules_per_bio_second': ..., 'joules_per_synaptic_event': ...} (None if not
    available or the count is 0)."""
    out = {}
    for name, count in units.items():
        out[f"joules_per_{name}"] = (m.joules / count) if (m.available and count) else None
    return out
