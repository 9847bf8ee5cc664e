"""Diehl & Cook (2015) unsupervised STDP classifier on the real MNIST.

Protocol: several networks (one per seed, plus one per QAT bit width and per extra
``theta_plus``, all of it again per extra STDP-rate schedule ``nu_final``) learn side by side
under ``jax.vmap`` from the same ``n_train`` training images per epoch (a seeded shuffle of
the 60,000), with no labels. Then, weights and thresholds frozen, each network's responses
to the first ``n_label`` TRAINING images assign every excitatory neuron a label, and the
class with the highest mean response of its neurons is the prediction on the first
``n_test`` test images (all 10,000 by default). The same frozen networks are evaluated with
post-training quantised weights (PTQ) and with Tsodyks-Markram input synapses (STP), each
with its own label assignment from the training images.

Training stops early (after a chunk) when ``max_train_s`` is exceeded; the number of images
actually learned is reported. Checkpoints (orbax) every ``checkpoint_every`` images under
``out/ckpt``; a rerun with the same ``out`` resumes from the latest one.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxbrain.config import at_least, in_range, one_of, param, positive
from jaxbrain.plasticity.stp import STPParams
from jaxbrain.quantization import memory_bytes


@dataclasses.dataclass(frozen=True)
class Config:
    n_e: int = param(400, at_least(1), "excitatory (= inhibitory) neurons")
    n_train: int = param(60000, at_least(1), "training images per epoch (<= 60000)")
    epochs: int = param(1, at_least(1), "passes over the n_train images")
    n_label: int = param(10000, at_least(10), "training images used to assign labels")
    n_test: int = param(10000, at_least(1), "test images evaluated (<= 10000)")
    seeds: tuple[int, ...] = param((0,), None, "one float network per seed (vmapped)")
    qat_bits: tuple[int, ...] = param((), None, "extra networks trained with fake-quantised weights")
    theta_plus: tuple[float, ...] = param((0.05,), None, "adaptive-threshold increment per spike, "
                                          "mV (paper 0.05); values after the first train extra "
                                          "float networks side by side (first seed)")
    nu_final: tuple[float, ...] = param((1.0,), None, "STDP rates at the end of training as a "
                                        "fraction of the paper's, reached linearly from 1 over all "
                                        "planned images (1: constant, the paper); each further "
                                        "value trains a copy of every network with it")
    nu_anneal_from: float = param(0.0, in_range(0.0, 0.99), "fraction of the planned images after "
                                  "which the STDP rates start falling towards nu_final")
    ptq_bits: tuple[int, ...] = param((8, 4, 2), None, "post-training quantisation bit widths")
    eval_stp: bool = param(True, None, "evaluate frozen networks with Tsodyks-Markram inputs")
    t_present: float = param(350.0, positive, "presentation time, ms")
    dt: float = param(0.5, positive, "time step, ms")
    chunk: int = param(100, at_least(1), "images per jitted training call")
    checkpoint_every: int = param(2000, at_least(1), "images between checkpoints")
    infer_batch: int = param(500, at_least(1), "images per batched inference call")
    unroll: int = param(1, at_least(1), "lax.scan unroll of the neuron dynamics")
    dynamics: str = param("auto", one_of("auto", "scan", "kernel"),
                          "neuron dynamics: a lax.scan, or one GPU kernel per presentation "
                          "(auto: the kernel on a GPU)")
    integration: str = param("exponential_euler", one_of("exponential_euler", "euler"),
                             "membrane and conductance step: exponential Euler, or forward "
                             "Euler (the paper's Brian default)")
    rest: str = param("reset", one_of("reset", "decay"),
                      "between images: reset to rest, or the paper's 150 ms rest without input "
                      "(the membrane relaxes and carries over while training; evaluation starts "
                      "from rest)")
    max_train_s: float = param(1e9, positive, "stop training after this many seconds")
    data_seed: int = param(0, None, "seed of the training-image shuffle")
    evaluate: bool = param(True, None, "label, test and plot after training (false: train only)")

    def check(self):
        from jaxbrain.config import ConfigError
        if self.n_train > 60000:
            raise ConfigError(f"config key 'n_train': value {self.n_train} is not allowed; allowed: <= 60000")
        if self.n_test > 10000:
            raise ConfigError(f"config key 'n_test': value {self.n_test} is not allowed; allowed: <= 10000")
        if self.n_label > 60000:
            raise ConfigError(f"config key 'n_label': value {self.n_label} is not allowed; allowed: <= 60000")
        if not self.seeds:
            raise ConfigError("config key 'seeds': value () is not allowed; allowed: at least one seed")
        if not self.nu_final or min(self.nu_final) < 0 or len(set(self.nu_final)) < len(self.nu_final):
            raise ConfigError(f"config key 'nu_final': value {self.nu_final} is not allowed; "
                              f"allowed: one or more distinct values >= 0 (fractions of the paper's rates)")
        if not self.theta_plus or min(self.theta_plus) < 0:
            raise ConfigError(f"config key 'theta_plus': value {self.theta_plus} is not allowed; "
                              f"allowed: one or more values >= 0 (mV)")
        for b in self.qat_bits + self.ptq_bits:
            if b not in (1, 2, 4, 8):
                raise ConfigError(f"config key 'qat_bits'/'ptq_bits': value {b} is not allowed; "
                                  f"allowed: 1, 2, 4, 8")
        steps = self.t_present / self.dt
        if abs(steps - round(steps)) > 1e-6:
            raise ConfigError(f"config key 't_present': value {self.t_present} is not a multiple "
                              f"of dt = {self.dt}")


def _rate_matched_gain(sp, rate_hz: float = 32.0) -> float:
    """Gain making the steady-state release of a regular ``rate_hz`` train equal to 1 (so the
    mean drive of an input firing at ~half the maximal pixel rate is that of the frozen
    network): 1 / (u* x*) with the TM fixed point for inter-spike interval T."""
    import math
    T = 1000.0 / rate_hz
    F = math.exp(-T / sp.tau_f) if sp.tau_f > 0 else 0.0
    D = math.exp(-T / sp.tau_d)
    u = sp.U / (1.0 - (1.0 - sp.U) * F)
    x = (1.0 - D) / (1.0 - (1.0 - u) * D)
    return 1.0 / (u * x)


def _progress(total, initial):
    try:
        from tqdm import tqdm
        return tqdm(total=total, initial=initial, unit="img", mininterval=5.0, smoothing=0.1)
    except ImportError:  # pragma: no cover
        class _P:
            def update(self, n): pass
            def set_postfix(self, **kw): pass
            def close(self): pass
        return _P()


def _saved(state) -> dict:
    """What a checkpoint holds: the learned state's arrays (``v`` only with the decaying rest)."""
    return {k: v for k, v in state._asdict().items() if v is not None}


def train_order(cfg: Config) -> np.ndarray:
    """Indices of the training images in learning order (all epochs concatenated)."""
    return np.concatenate([np.random.default_rng([cfg.data_seed, e]).permutation(60000)[:cfg.n_train]
                           for e in range(cfg.epochs)])


def run(cfg: Config, out: Path) -> dict:
    from jaxbrain.checkpoint import Checkpointer
    from jaxbrain.datasets.mnist import load_mnist
    from jaxbrain.models import diehl_cook as dc

    x_train, y_train = load_mnist("train")
    x_test, y_test = load_mnist("test", n=cfg.n_test)
    dynamics = cfg.dynamics if cfg.dynamics != "auto" else (
        "kernel" if jax.default_backend() == "gpu" else "scan")
    p = dc.DCParams(n_e=cfg.n_e, dt=cfg.dt, n_steps=int(round(cfg.t_present / cfg.dt)),
                    unroll=cfg.unroll, dynamics=dynamics, integration=cfg.integration, rest=cfg.rest)
    tp0, nu0, s0 = cfg.theta_plus[0], cfg.nu_final[0], cfg.seeds[0]
    base = ([(s, 32, tp0) for s in cfg.seeds] + [(s0, b, tp0) for b in cfg.qat_bits]
            + [(s0, 32, tp) for tp in cfg.theta_plus[1:]])
    nets = [(s, b, tp, nu) for nu in cfg.nu_final for s, b, tp in base]
    names = [f"seed{s}" + (f"-qat{b}" if b != 32 else "") + (f"-theta_plus{tp:g}" if tp != tp0 else "")
             + (f"-nu_final{nu:g}" if nu != nu0 else "") for s, b, tp, nu in nets]
    seeds = jnp.asarray([n[0] for n in nets], jnp.uint32)
    qbits = jnp.asarray([n[1] for n in nets], jnp.float32)
    tplus = jnp.asarray([n[2] for n in nets], jnp.float32)
    nu_final = np.asarray([n[3] for n in nets], np.float32)
    M = len(nets)

    state = jax.vmap(lambda s: dc.init(p, s))(seeds)
    order = train_order(cfg)
    total = len(order)
    ckpt = Checkpointer(Path(out).absolute() / "ckpt", max_to_keep=2)
    meta = {"nets": names, "n_e": cfg.n_e, "order_seed": cfg.data_seed, "n_train": cfg.n_train,
            "epochs": cfg.epochs, "t_present": cfg.t_present, "dt": cfg.dt,
            "theta": "paper: init 20 mV, offset 20 mV, exact decay", "theta_plus": list(cfg.theta_plus)}  # older: theta from 0
    for key, default in (("integration", "exponential_euler"), ("rest", "reset"), ("nu_final", (1.0,)),
                         ("nu_anneal_from", 0.0)):
        if getattr(cfg, key) != default:   # (absent from checkpoints made before the option)
            value = getattr(cfg, key)
            meta[key] = list(value) if isinstance(value, tuple) else value
    done = 0
    if ckpt.latest_step() is not None:
        saved = json.loads((Path(out) / "ckpt_meta.json").read_text())
        if saved != meta:
            raise ValueError(f"checkpoint in {out}/ckpt was made by another config: {saved} != {meta}")
        restored = ckpt.restore(_saved(state))
        state = dc.DCState(**{k: jnp.asarray(a) for k, a in restored.items()})
        done = int(ckpt.latest_step())
        print(f"resumed from image {done} of {total}")
    (Path(out) / "ckpt_meta.json").write_text(json.dumps(meta))

    def train(state, images, ids, done):
        nu = jnp.asarray(dc.nu_schedule(nu_final, done, total, cfg.nu_anneal_from), jnp.float32)
        return dc.train_networks(p, qbits, seeds, state, images, ids, tplus, nu)

    # ---- training ---------------------------------------------------------------------
    bar = _progress(total, done)
    t_start = time.perf_counter()
    t_compile = None
    timed_images, timed_s = 0, 0.0
    attempts_sum, stopped_early = 0.0, False
    last_ckpt = start = done
    while done < total:
        k = min(cfg.chunk, total - done)
        idx = order[done:done + k]
        t0 = time.perf_counter()
        state, counts, attempts = train(state, jnp.asarray(x_train[idx]),
                                        jnp.asarray(done + np.arange(k), jnp.uint32), done)
        jax.block_until_ready(state)
        dt_chunk = time.perf_counter() - t0
        if t_compile is None:
            t_compile = dt_chunk
        elif k == cfg.chunk:
            timed_images += k
            timed_s += dt_chunk
        attempts_sum += float(jnp.mean(attempts)) * k
        done += k
        bar.update(k)
        bar.set_postfix(spikes=f"{float(jnp.mean(jnp.sum(counts, -1))):.1f}",
                        theta=f"{float(jnp.mean(state.theta)):.2f}")
        if done - last_ckpt >= cfg.checkpoint_every or done == total:
            ckpt.save(done, _saved(state))
            last_ckpt = done
        if time.perf_counter() - t_start > cfg.max_train_s and done < total:
            ckpt.save(done, _saved(state))
            stopped_early = True
            break
    bar.close()
    train_s = time.perf_counter() - t_start
    img_per_s = timed_images / timed_s if timed_s > 0 else float("nan")

    n_trained = done
    protocol = {
        "train_images_learned": n_trained, "train_images_planned": total,
        "epochs_planned": cfg.epochs, "stopped_early_by_time_budget": stopped_early,
        "label_images": cfg.n_label, "label_source": "training set (first n_label images)",
        "test_images": cfg.n_test, "t_present_ms": cfg.t_present, "dt_ms": cfg.dt,
        "rest": ("state reset between images (theta kept)" if cfg.rest == "reset" else
                 "150 ms without input: the membrane relaxes and carries over (training); "
                 "evaluation from rest"), "input_rate": "pixel/4 Hz at intensity 2",
        "integration": cfg.integration,
        "stdp_rates": f"paper's nu_pre, nu_post times a factor falling linearly from 1 to each "
                      f"network's nu_final from {cfg.nu_anneal_from:g} of the planned images to the end",
        "train_images_this_call": n_trained - start,
        "mean_presentations_per_image_this_call": attempts_sum / max(n_trained - start, 1),
    }
    timing = {
        "train_s": train_s, "first_chunk_s_with_compile": t_compile,
        "train_images_per_s_measured": img_per_s, "networks_in_parallel": M, "dynamics": dynamics,
        "epoch_60k_s_extrapolated": 60000.0 / img_per_s if img_per_s == img_per_s else None,
    }
    if not cfg.evaluate:
        return {"networks": names, "protocol": protocol, "timing": timing}

    # ---- evaluation (frozen) -----------------------------------------------------------
    responses_fn = dc.respond_jit
    def responses(pp, st, sd, images, stream):
        out_counts = []
        for a in range(0, len(images), cfg.infer_batch):
            b = images[a:a + cfg.infer_batch]
            ids = jnp.asarray(stream * 1_000_000 + a + np.arange(len(b)), jnp.uint32)
            out_counts.append(np.asarray(responses_fn(pp, st, jnp.asarray(b), ids, sd)))
        return np.concatenate(out_counts)

    x_lab, y_lab = x_train[:cfg.n_label], y_train[:cfg.n_label]

    def evaluate(pp, st, sd):
        t0 = time.perf_counter()
        cl = responses(pp, st, sd, x_lab, dc.STREAM_LABEL)
        ct = responses(pp, st, sd, x_test, dc.STREAM_TEST)
        assign = np.asarray(dc.assign_labels(jnp.asarray(cl), jnp.asarray(y_lab)))
        pred = np.asarray(dc.predict(jnp.asarray(ct), jnp.asarray(assign)))
        return {"accuracy": float(np.mean(pred == y_test)),
                "mean_test_spikes": float(ct.sum(1).mean()),
                "silent_test_images": int((ct.sum(1) == 0).sum()),
                "eval_s": time.perf_counter() - t0}, pred, assign

    results, preds = {}, {}
    t_eval = time.perf_counter()
    for m, (name, (sd, b, _, nu)) in enumerate(zip(names, nets)):
        st = dc.DCState(state.w[m], state.theta[m])
        res, pred, assign = evaluate(p.replace(quant_bits=float(b)), st, sd)
        res["bits_forward"] = b
        res["nu_final"] = nu
        res["field_sharpness"] = dc.field_sharpness(p, st)
        res["memory_bytes"] = memory_bytes((784, cfg.n_e), b, axis=0 if b < 32 else None)
        results[name] = res
        preds[name] = (pred, assign)
        print(f"{name}: test accuracy {res['accuracy']:.4f}")
        if b != 32:
            continue
        for pb in cfg.ptq_bits:
            r, _, _ = evaluate(p.replace(quant_bits=float(pb)), st, sd)
            r["memory_bytes"] = memory_bytes((784, cfg.n_e), pb, axis=0)
            results[f"{name}-ptq{pb}"] = r
            print(f"{name}-ptq{pb}: test accuracy {r['accuracy']:.4f}")
        if cfg.eval_stp:
            dep, fac = STPParams(U=0.5, tau_d=800.0, tau_f=0.0), STPParams(U=0.03, tau_d=130.0, tau_f=530.0)
            for sname, sp, gain in (("stp-depressing", dep, 0.0), ("stp-facilitating", fac, 0.0),
                                    ("stp-depressing-rate-matched", dep, _rate_matched_gain(dep)),
                                    ("stp-facilitating-rate-matched", fac, _rate_matched_gain(fac))):
                r, _, _ = evaluate(p.replace(stp=sp, stp_on=True, stp_gain=gain), st, sd)
                r["stp"] = dataclasses.asdict(sp)
                r["stp_gain"] = gain if gain > 0 else 1.0 / sp.U
                results[f"{name}-{sname}"] = r
                print(f"{name}-{sname}: test accuracy {r['accuracy']:.4f}")
    eval_s = time.perf_counter() - t_eval

    # ---- figures ------------------------------------------------------------------------
    first = names[0]
    _plot_fields(np.asarray(state.w[0]), preds[first][1], out / "receptive_fields.png")
    _plot_confusion(y_test, preds[first][0], out / "confusion.png",
                    f"{first}: test accuracy {results[first]['accuracy']:.3f}")

    timing["eval_s"] = eval_s
    return {"networks": names, "results": results, "accuracy": results[first]["accuracy"],
            "protocol": protocol, "timing": timing}


def _plot_fields(w, assign, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = w.shape[1]
    side = int(np.ceil(np.sqrt(n)))
    grid = np.zeros((side * 28, side * 28), np.float32)
    for j in range(n):
        r, c = divmod(j, side)
        grid[r * 28:(r + 1) * 28, c * 28:(c + 1) * 28] = w[:, j].reshape(28, 28)
    fig, ax = plt.subplots(figsize=(8, 8))
    im = ax.imshow(grid, cmap="hot_r", interpolation="nearest")
    ax.set_title(f"learned input weights of {n} excitatory neurons")
    ax.axis("off")
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def _plot_confusion(y, pred, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cm = np.zeros((10, 10), np.int64)
    np.add.at(cm, (y, pred), 1)
    fig, ax = plt.subplots(figsize=(6, 5))
    im = ax.imshow(cm, cmap="Blues")
    for i in range(10):
        for j in range(10):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_title(title)
    fig.colorbar(im, ax=ax)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
