"""Benchmark: Brette 2007 COBA / CUBA (4,000 neurons, 1 s) in jaxbrain, Brian2 and BrainPy, same run.

    jaxbrain run bench_coba_cpu [--set peer_python=PYTHON_WITH_BRIAN2] [--set peer_brainpy=PYTHON_WITH_BRAINPY]

For each network and seed it reports firing rates, ISI CV and wall time of the 1 s run
after compilation (jaxbrain: the second call of the compiled scan; Brian2: after its cython
code objects are built; BrainPy: the second call of its compiled run from the same initial
state), and the ratio peer / jaxbrain. Each peer runs in a subprocess of its own Python
(experiments/peers/{brian2,brainpy}_brette2007.py; Brian2 defaults to this Python if it can
import brian2; a peer without a Python is skipped).
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

PEERS = {"brian2": Path(__file__).parent / "peers" / "brian2_brette2007.py",
         "brainpy": Path(__file__).parent / "peers" / "brainpy_brette2007.py"}


@dataclasses.dataclass(frozen=True)
class Config:
    networks: tuple[str, ...] = param(("coba", "cuba"), doc="networks to run: coba, cuba")
    seeds: tuple[int, ...] = param((0, 1, 2), doc="seeds (each a different network)")
    duration_ms: float = param(1000.0, positive, "biological time per run, ms")
    peer_python: str = param("", doc="python with brian2 (empty: this one, if it has brian2)")
    peer_brainpy: str = param("", doc="python with brainpy 2.6 + brainpylib (empty: skip BrainPy)")

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


def _peer(name: str, python: str, network: str, seed: int, duration_ms: float) -> dict | None:
    r = subprocess.run([python, str(PEERS[name]), "--network", network, "--seed", str(seed),
                        "--duration-ms", str(duration_ms)], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"{name} failed: {r.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


def run(cfg: Config, out: Path) -> dict:
    pythons = {"brian2": cfg.peer_python or (sys.executable if importlib.util.find_spec("brian2") else ""),
               "brainpy": cfg.peer_brainpy}
    pythons = {k: v for k, v in pythons.items() if v}
    rows = []
    for network in cfg.networks:
        for seed in cfg.seeds:
            row = {"jaxbrain": _jaxbrain(network, seed, cfg.duration_ms)}
            row.update({k: _peer(k, py, network, seed, cfg.duration_ms) for k, py in pythons.items()})
            rows.append(row)
            jb = row["jaxbrain"]
            line = (f"{network} seed {seed}: jaxbrain E {jb['rate_E_hz']:.2f} Hz I {jb['rate_I_hz']:.2f} Hz "
                    f"run {jb['run_s']:.2f} s")
            for k in pythons:
                if row[k]:
                    line += (f" | {k} E {row[k]['rate_E_hz']:.2f} Hz I {row[k]['rate_I_hz']:.2f} Hz run "
                             f"{row[k]['run_s']:.2f} s ({row[k]['run_s'] / jb['run_s']:.2f}x jaxbrain's time)")
            print(line, flush=True)
    summary = {}
    for network in cfg.networks:
        sel = [r for r in rows if r["jaxbrain"]["network"] == network]
        s = {"jaxbrain_rate_E_hz": [r["jaxbrain"]["rate_E_hz"] for r in sel],
             "jaxbrain_run_s_median": float(np.median([r["jaxbrain"]["run_s"] for r in sel]))}
        for k in pythons:
            if all(r[k] for r in sel):
                s[f"{k}_rate_E_hz"] = [r[k]["rate_E_hz"] for r in sel]
                s[f"{k}_run_s_median"] = float(np.median([r[k]["run_s"] for r in sel]))
                s[f"speedup_vs_{k}"] = s[f"{k}_run_s_median"] / s["jaxbrain_run_s_median"]
        summary[network] = s
    write_json(out / "bench_coba_cpu.json", {"rows": rows, "summary": summary})
    print(f"{'network':8s} {'jaxbrain s':>11s} " + " ".join(f"{k + ' s':>10s} {'x ' + k:>10s}" for k in pythons))
    for k, s in summary.items():
        print(f"{k:8s} {s['jaxbrain_run_s_median']:11.2f} " + " ".join(
            f"{s.get(p + '_run_s_median', float('nan')):10.2f} {s.get('speedup_vs_' + p, float('nan')):10.2f}"
            for p in pythons))
    return summary
