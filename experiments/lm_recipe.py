"""Controlled comparison of training recipes for the spiking LM (issue 6, "make it learn").

Each variant trains the same model size on the same batches (a pure function of (seed,
step)) for the same number of steps and is evaluated on the same held-out windows; the
bigram and the GRU of the same parameter count are trained on the same tokens for the same
steps. Per variant it records validation nats/char, per-module firing rates (at init and at
the end), gradient norms per parameter group (at the first and the last step) and the
validation loss per position in the window (a model that carries context gets better later
in the window; the bigram is flat). Writes recipe.json.

    python experiments/lm_recipe.py --variants base,trace --steps 300 --out /tmp/recipe
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxbrain.config import from_dict, param, positive
from jaxbrain.lm import baselines as bl
from jaxbrain.lm.model import (ALL_MODULATORS, batch_metrics, calibrate, init_carry,
                               init_params, make_model, param_count, token_step)
from jaxbrain.lm.modules import MODULES, BrainSpec
from jaxbrain.lm.train import (TrainConfig, batch_at, load_corpus, make_optimizer,
                               make_train_step, train_neural_baseline, valid_windows)

__all__ = ["VARIANTS", "Config", "run", "run_variant"]

# name -> (BrainSpec overrides, TrainConfig overrides, calibration target rate (0: none))
VARIANTS = {
    # the first recipe: 4 substeps, undamped surrogate, membrane read-out
    "base": ({"surrogate_scale": 1.0}, {"substeps": 4}, 0.0),
    "damp": ({"surrogate_scale": 0.3}, {"substeps": 4}, 0.0),
    "trace": ({"surrogate_scale": 1.0, "readout": "trace", "tau_out": 10.0}, {"substeps": 4}, 0.0),
    "calib05": ({"surrogate_scale": 1.0}, {"substeps": 4}, 0.05),
    "lr3e-3": ({"surrogate_scale": 1.0}, {"substeps": 4, "lr": 3e-3}, 0.0),
    "lsnn": ({"surrogate_scale": 0.3, "readout": "trace", "tau_out": 10.0}, {"substeps": 4}, 0.05),
    "lsnn_membrane": ({"surrogate_scale": 0.3}, {"substeps": 4}, 0.05),
    "damp_calib02": ({"surrogate_scale": 0.3}, {"substeps": 4}, 0.02),
    "damp_lr5e-3": ({"surrogate_scale": 0.3}, {"substeps": 4, "lr": 5e-3}, 0.0),
    "sub8": ({"surrogate_scale": 1.0}, {"substeps": 8}, 0.0),
    # the new default: 8 substeps, surrogate dampened by 0.3
    "damp_sub8": ({"surrogate_scale": 0.3}, {"substeps": 8}, 0.0),
    "damp_sub8_trace": ({"surrogate_scale": 0.3, "readout": "trace", "tau_out": 10.0},
                        {"substeps": 8}, 0.0),
    "damp_sub8_calib": ({"surrogate_scale": 0.3}, {"substeps": 8}, 0.05),
    "damp_sub16": ({"surrogate_scale": 0.3}, {"substeps": 16}, 0.0),
    "damp015_sub8": ({"surrogate_scale": 0.15}, {"substeps": 8}, 0.0),
    "damp_sub8_tau8": ({"surrogate_scale": 0.3, "tau_out": 8.0}, {"substeps": 8}, 0.0),
    "damp_sub8_lr3e-2": ({"surrogate_scale": 0.3}, {"substeps": 8, "lr": 3e-2}, 0.0),
    "damp_sub8_bf16": ({"surrogate_scale": 0.3}, {"substeps": 8, "compute_dtype": "bfloat16"}, 0.0),
    # feed-forward stages within a substep (no pipeline latency; docs/lm.md, "Feed-forward")
    "damp_seq": ({"surrogate_scale": 0.3, "feedforward": "sequential"}, {"substeps": 4}, 0.0),
    "damp_sub8_seq": ({"surrogate_scale": 0.3, "feedforward": "sequential"}, {"substeps": 8}, 0.0),
}


@dataclasses.dataclass(frozen=True)
class Config:
    train: TrainConfig = param(TrainConfig(max_chars=300000, remat=False), None,
                               "data, batch and optimiser settings shared by all variants")
    variants: tuple[str, ...] = param(("base",), None, "variant names (see VARIANTS)")
    gru: bool = param(True, None, "train the GRU baseline for the same steps")


def grad_norms(model, params, x, y):
    g = jax.grad(lambda p: batch_metrics(model, p, x, y, remat=False)[0] / x.size)(params)
    out = {f"w_{m}": float(jnp.linalg.norm(w)) for m, w in zip(MODULES, g["w"])}
    for k in ("bias", "emb", "w_in", "w_dec", "b_dec", "neuromod"):
        out[k] = float(jnp.linalg.norm(g[k]))
    return out


def per_position_nll(model, params, vx, vy):
    @jax.jit
    def f(p, x, y):
        def body(c, xy):
            c, lp = token_step(model, p, c, xy[0])
            return c, -jnp.take_along_axis(lp, xy[1][:, None], 1)[:, 0]
        _, nll = jax.lax.scan(body, init_carry(model, x.shape[0]), (x.T, y.T))
        return jnp.mean(nll, axis=1)
    return np.asarray(f(params, jnp.asarray(vx), jnp.asarray(vy)))


def run_variant(name, tc: TrainConfig, corpus, vx, vy, spec_kw, train_kw, rate, log=print):
    tc = dataclasses.replace(tc, **train_kw)
    spec = BrainSpec.scale(tc.scale, substeps=tc.substeps, seed=tc.seed, **spec_kw)
    model = make_model(spec, corpus.tokenizer.vocab_size, tc.compute_dtype)
    params = init_params(model, jax.random.key(tc.seed))
    t0 = time.perf_counter()
    if rate:
        xc, _ = batch_at(corpus.train_ids, 10**6, 8, tc.seq_len, tc.seed)
        params, r = calibrate(model, params, xc, rate)
    ev = jax.jit(lambda p, x, y: batch_metrics(model, p, x, y, remat=False))
    _, _, r0 = ev(params, jnp.asarray(vx[:16]), jnp.asarray(vy[:16]))
    x1, y1 = batch_at(corpus.train_ids, 0, tc.batch_size, tc.seq_len, tc.seed)
    g0 = grad_norms(model, params, jnp.asarray(x1), jnp.asarray(y1))
    opt, _ = make_optimizer(tc)
    ost = opt.init(params)
    step = make_train_step(model, opt, remat=tc.remat, modulators=tc.modulators)
    curve = []
    for s in range(tc.steps):
        x, y = batch_at(corpus.train_ids, s, tc.batch_size, tc.seq_len, tc.seed)
        o = step(params, ost, jnp.asarray(x), jnp.asarray(y))
        params, ost = o.params, o.opt_state
        if (s + 1) % max(1, tc.steps // 8) == 0 or s == 0:
            curve.append({"step": s + 1, "loss": float(o.loss), "grad_norm": float(o.grad_norm),
                          "rates": np.round(np.asarray(o.rates), 4).tolist()})
            log(f"  {name} step {s + 1} loss {float(o.loss):.3f} |g| {float(o.grad_norm):.2f} "
                f"rates {np.round(np.asarray(o.rates), 3).tolist()}")
            if not math.isfinite(float(o.loss)):
                break
    train_s = time.perf_counter() - t0
    nll = cor = 0.0
    for i in range(0, len(vx), 64):
        a, b, r1 = ev(params, jnp.asarray(vx[i:i + 64]), jnp.asarray(vy[i:i + 64]))
        nll, cor = nll + float(a), cor + float(b)
    g1 = grad_norms(model, params, jnp.asarray(x), jnp.asarray(y))
    pos = per_position_nll(model, params, vx, vy)
    return {"name": name, "spec": spec_kw, "train": train_kw, "calibrate_rate": rate,
            "val_nll": nll / vy.size, "val_accuracy": cor / vy.size,
            "n_params": param_count(params), "train_s": train_s,
            "rates_init": np.round(np.asarray(r0), 4).tolist(),
            "rates_end": np.round(np.asarray(r1), 4).tolist(),
            "grad_norms_first": g0, "grad_norms_last": g1, "curve": curve,
            "nll_by_position": np.round(pos, 3).tolist()}


def run(cfg: Config, out: Path, log=print) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tc = cfg.train
    corpus = load_corpus(tc)
    vx, vy = valid_windows(corpus.valid_ids, tc.seq_len, tc.eval_windows)
    v = corpus.tokenizer.vocab_size
    path = out / "recipe.json"
    res = json.loads(path.read_text()) if path.is_file() else {"variants": {}}
    res["setup"] = {"scale": tc.scale, "steps": tc.steps, "batch_size": tc.batch_size,
                    "seq_len": tc.seq_len, "valid_windows": int(len(vx)), "seed": tc.seed}
    res["bigram"] = float(bl.bigram_nll(corpus.train_ids, v, vx, vy).mean())
    for name in cfg.variants:
        spec_kw, train_kw, rate = VARIANTS[name]
        log(f"variant {name}: {spec_kw} {train_kw} calibrate {rate}")
        r = run_variant(name, tc, corpus, vx, vy, spec_kw, train_kw, rate, log)
        res["variants"][name] = r
        log(f"variant {name}: val {r['val_nll']:.3f} (bigram {res['bigram']:.3f}) acc "
            f"{r['val_accuracy']:.3f} rates {r['rates_end']} in {r['train_s']:.0f} s")
        path.write_text(json.dumps(res, indent=1))
    if cfg.gru and "gru" not in res:
        n = next(iter(res["variants"].values()))["n_params"]
        res["gru"] = train_neural_baseline("gru", tc, corpus, n, vx, vy, tc.steps)
        log(f"gru: {res['gru']}")
    path.write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", default="base")
    ap.add_argument("--out", default="/tmp/recipe")
    ap.add_argument("--gru", action="store_true")
    ap.add_argument("--set", nargs="*", default=[], help="TrainConfig key=value")
    a = ap.parse_args()
    kw = {"max_chars": 300000, "remat": False, "lr": 1.5e-2}
    for s in a.set:
        k, val = s.split("=", 1)
        kw[k] = json.loads(val) if val[:1] in "0123456789-[tf" else val
    tc = from_dict(TrainConfig, kw)
    run(Config(tc, tuple(a.variants.split(",")), a.gru), Path(a.out))
