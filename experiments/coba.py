"""The Vogels-Abbott / Brette 2007 networks (COBA, CUBA): raster, population rates, ISI CV.

    jaxbrain run                      # COBA, 4,000 neurons, 1 s (the default main job)
    jaxbrain run cuba --set seed=3
"""

from __future__ import annotations

import dataclasses
import time

from jaxbrain import analysis, plotting
from jaxbrain import simulate as sim
from jaxbrain.checkpoint import Checkpointer
from jaxbrain.config import ConfigError, nonnegative, one_of, param, positive, prob
from jaxbrain.models import brette2007
from jaxbrain.propagation import IMPLS


@dataclasses.dataclass(frozen=True)
class Config:
    network: str = param("coba", one_of("coba", "cuba"), "which Brette 2007 benchmark")
    n_exc: int = param(3200, positive, "excitatory neurons")
    n_inh: int = param(800, positive, "inhibitory neurons")
    p: float = param(0.02, prob, "connection probability")
    duration_ms: float = param(1000.0, positive, "biological time, ms")
    dt: float = param(0.1, positive, "time step, ms")
    seed: int = param(0, nonnegative, "seed of connectivity and initial state")
    impl: str = param("auto", one_of("auto", *IMPLS), "propagation implementation")
    raster_neurons: int = param(400, nonnegative, "neurons recorded per population (raster)")
    checkpoint_every_ms: float = param(0.0, nonnegative, "checkpoint interval, ms (0: at the end)")

    def check(self):
        if self.raster_neurons > min(self.n_exc, self.n_inh):
            raise ConfigError(f"config key 'raster_neurons': value {self.raster_neurons} is not "
                              f"allowed; allowed: <= min(n_exc, n_inh) = {min(self.n_exc, self.n_inh)}")
        if self.dt > self.duration_ms:
            raise ConfigError(f"config key 'dt': value {self.dt} is not allowed; allowed: <= duration_ms")


def run(cfg: Config, out) -> dict:
    build = brette2007.coba if cfg.network == "coba" else brette2007.cuba
    net, state = build(cfg.n_exc, cfg.n_inh, cfg.p, cfg.seed, cfg.dt, cfg.impl)
    n_steps = int(round(cfg.duration_ms / cfg.dt))
    chunk = 1000 if n_steps >= 1000 else n_steps
    every = int(round(cfg.checkpoint_every_ms / cfg.dt)) // chunk * chunk
    monitor = sim.Monitor(raster={"E": cfg.raster_neurons, "I": cfg.raster_neurons})
    ckpt = Checkpointer(out / "checkpoints", max_to_keep=2)
    t0 = time.perf_counter()
    state, rec = sim.run(net, state, n_steps, monitor, chunk_steps=chunk, checkpoint=ckpt,
                         checkpoint_every=every)
    wall = time.perf_counter() - t0
    rates = sim.rates_hz(rec)
    plotting.raster_and_rate(rec, out / "raster.png", title=f"{cfg.network.upper()} "
                             f"({cfg.n_exc + cfg.n_inh} neurons, seed {cfg.seed})", bin_ms=2.0)
    cv = {k: float(analysis.isi_cv(r, cfg.dt).mean()) for k, r in rec.raster.items()}
    metrics = {
        "rate_E_hz": rates["E"], "rate_I_hz": rates["I"],
        "isi_cv_E": cv["E"], "isi_cv_I": cv["I"],
        "n_synapses": int(sum(p.synapses.conn.n_pre * p.synapses.conn.mean_out
                              for p in net.projections.values())),
        "impl": {k: p.synapses.impl for k, p in net.projections.items()},
        "wall_s_including_compile": wall,
    }
    print(f"{cfg.network.upper()}: E {rates['E']:.2f} Hz, I {rates['I']:.2f} Hz, "
          f"ISI CV E {cv['E']:.2f}; {wall:.1f} s wall (incl. compile)")
    return metrics
