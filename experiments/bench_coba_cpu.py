"""Benchmark: Brette 2007 COBA / CUBA (4,000 neurons, 1 s) in jaxbrain and in Brian2, same run.

    jaxbrain run bench_coba_cpu [--set peer_python=/path/to/python-with-brian2]

For each network and seed it reports firing rates, ISI CV and wall time of the 1 s run
after compilation (jaxbrain: the second call of the compiled scan; Brian2: after its cython
code objects are built), and the ratio Brian2 / jaxbrain. Brian2 runs in a subprocess of
``peer_python`` (default: this Python if it can import brian2; skipped otherwise).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from jaxbrain import analysis
from jaxbrain import simulate as sim
from jaxbrain.config import param, positive
from jaxbrain.models import brette2007
from jaxbrain.runs import write_json

PEER = Path(__file__).parent / "peers" / "brian2_brette2007.py"


@dataclasses.dataclass(frozen=True)
class Config:
    networks: tuple[str, ...] = param(("coba", "cuba"), doc="networks to run: coba, cuba")
    seeds: tuple[int, ...] = param((0, 1, 2), doc="seeds (each a different network)")
    duration_ms: float = param(1000.0, positive, "biological time per run, ms")
    peer_python: str = param("", doc="python with brian2 (empty: this one, if it has brian2)")

    def check(self):
        from jaxbrain.config import ConfigError
        for n in self.networks:
            if n not in ("coba", "cuba"):
                raise ConfigError(f"config key 'networks': value {n!r} is not allowed; allowed: coba, cuba")


def _jaxbrain(network: str, seed: int, duration_ms: float) -> dict:
    t0 = time.perf_counter()
    net, state = getattr(brette2007, network)(seed=seed)
    n_steps = int(round(duration_ms / net.dt))
    mon = sim.Monitor(raster={"E": 320, "I": 80})
    t1 = time.perf_counter()
    sim.run(net, state, n_steps, mon, chunk_steps=n_steps, progress=False)  # compile + run
    t2 = time.perf_counter()
    _, rec = sim.run(net, state, n_steps, mon, chunk_steps=n_steps, progress=False)
    t3 = time.perf_counter()
    rates = sim.rates_hz(rec)
    cv = np.concatenate([analysis.isi_cv(r, net.dt) for r in rec.raster.values()])
    return {"network": network, "seed": seed, "rate_E_hz": rates["E"], "rate_I_hz": rates["I"],
            "isi_cv": float(cv.mean()), "build_s": t1 - t0, "compile_s": (t2 - t1) - (t3 - t2),
            "run_s": t3 - t2}


def _brian2(python: str, network: str, seed: int, duration_ms: float) -> dict | None:
    r = subprocess.run([python, str(PEER), "--network", network, "--seed", str(seed),
                        "--duration-ms", str(duration_ms)], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"brian2 failed: {r.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


def run(cfg: Config, out: Path) -> dict:
    python = cfg.peer_python or (sys.executable if importlib.util.find_spec("brian2") else "")
    rows = []
    for network in cfg.networks:
        for seed in cfg.seeds:
            jb = _jaxbrain(network, seed, cfg.duration_ms)
            b2 = _brian2(python, network, seed, cfg.duration_ms) if python else None
            rows.append({"jaxbrain": jb, "brian2": b2})
            line = (f"{network} seed {seed}: jaxbrain E {jb['rate_E_hz']:.2f} Hz I {jb['rate_I_hz']:.2f} Hz "
                    f"run {jb['run_s']:.2f} s")
            if b2:
                line += (f" | brian2 E {b2['rate_E_hz']:.2f} Hz I {b2['rate_I_hz']:.2f} Hz run "
                         f"{b2['run_s']:.2f} s | brian2/jaxbrain time {b2['run_s'] / jb['run_s']:.2f}x")
            print(line, flush=True)
    summary = {}
    for network in cfg.networks:
        sel = [r for r in rows if r["jaxbrain"]["network"] == network]
        s = {"jaxbrain_rate_E_hz": [r["jaxbrain"]["rate_E_hz"] for r in sel],
             "jaxbrain_run_s_median": float(np.median([r["jaxbrain"]["run_s"] for r in sel]))}
        if all(r["brian2"] for r in sel):
            s["brian2_rate_E_hz"] = [r["brian2"]["rate_E_hz"] for r in sel]
            s["brian2_run_s_median"] = float(np.median([r["brian2"]["run_s"] for r in sel]))
            s["speedup_vs_brian2"] = s["brian2_run_s_median"] / s["jaxbrain_run_s_median"]
        summary[network] = s
    write_json(out / "bench_coba_cpu.json", {"rows": rows, "summary": summary})
    print(f"{'network':8s} {'jaxbrain s':>11s} {'brian2 s':>9s} {'speed-up':>9s}")
    for k, s in summary.items():
        print(f"{k:8s} {s['jaxbrain_run_s_median']:11.2f} {s.get('brian2_run_s_median', float('nan')):9.2f} "
              f"{s.get('speedup_vs_brian2', float('nan')):9.2f}")
    return summary
