"""Training the spiking LM: config, data windows, optax step, evaluation, the training loop.

``make_train_step(model, optimizer)`` gives the jitted
``train_step(params, opt_state, input_ids, target_ids) -> StepOutput(loss, accuracy, params,
opt_state, grad_norm, rates)``; :func:`train` is the full loop behind ``jaxbrain train CONFIG``
(progress bar, metrics.jsonl, dashboard, text samples, orbax checkpoints with resume,
Ctrl-C saves and exits, baselines and neuromodulator ablation at the end).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..config import ConfigError, at_least, in_range, one_of, param, positive, to_dict
from . import neuromodulation as nm
from .model import (ALL_MODULATORS, SpikingLM, batch_metrics, calibrate, init_params, loss_fn,
                    make_model, param_count)
from .modules import FEEDFORWARD, READOUTS, SCALES, BrainSpec
from .sampling import Sampling
from .tokenizers import TOKENIZERS, from_spec, make_tokenizer

__all__ = ["TrainConfig", "make_optimizer", "StepOutput", "make_train_step", "make_eval",
           "Corpus", "load_corpus", "batch_at", "valid_windows", "evaluate", "train",
           "CheckpointMismatch", "load_run"]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    scale: str = param("tiny", one_of(*SCALES), "network size: the seeds' small / current / 4x, or tiny (CPU)")
    substeps: int = param(8, in_range(1, 32), "neural substeps (1 ms) per token")
    readout: str = param("membrane", one_of(*READOUTS),
                         "decoder reads Broca's spike trace + membrane, or the spike trace only")
    tau_out: float = param(2.0, positive, "time constant (ms) of the read-out spike trace")
    surrogate_scale: float = param(0.3, in_range(0.01, 1.0),
                                   "dampening of the surrogate spike derivative (Bellec et al. 2018)")
    feedforward: str = param("pipelined", one_of(*FEEDFORWARD),
                             "modules advance together from the previous substep's spikes, or in "
                             "feed-forward stages within a substep (no latency)")
    calibrate_rate: float = param(0.0, in_range(0.0, 0.5),
                                  "scale initial weights to this firing rate per substep (0: off)")
    tokenizer: str = param("char", one_of(*TOKENIZERS), "char, bpe (trained here), gpt2 or sentencepiece")
    bpe_vocab: int = param(4096, at_least(256), "vocabulary of the locally trained BPE")
    valid_plays: tuple[str, ...] = param(("macbeth", "twelfth-night", "richard-ii"), None,
                                         "whole plays held out for validation")
    max_chars: int = param(0, at_least(0), "truncate train/valid text (0: full corpus)")
    batch_size: int = param(16, positive, "sequences per step")
    seq_len: int = param(32, positive, "tokens per training sequence (BPTT length)")
    steps: int = param(200, positive, "optimiser steps")
    time_limit_s: float = param(0.0, at_least(0.0), "stop training after this wall time (0: off)")
    lr: float = param(1e-2, positive, "peak learning rate (AdamW)")
    warmup: int = param(10, at_least(0), "linear warm-up steps")
    min_lr_ratio: float = param(0.1, in_range(0.0, 1.0), "final lr / peak lr (cosine decay)")
    clip: float = param(1.0, positive, "global gradient-norm clip")
    weight_decay: float = param(0.0, at_least(0.0), "AdamW weight decay")
    compute_dtype: str = param("float32", one_of("float32", "bfloat16"), "dtype of the spike gather")
    remat: bool = param(True, None, "recompute each token's substeps in the backward pass (memory)")
    modulators: tuple[float, ...] = param((1.0, 1.0, 1.0), in_range(0.0, 1.0),
                                          "dopamine, noradrenaline, serotonin on (1) / off (0) in training")
    seed: int = param(0, at_least(0), "init / data / connectivity seed")
    log_every: int = param(10, positive, "steps between metrics.jsonl rows")
    eval_every: int = param(100, positive, "steps between validation evaluations")
    eval_windows: int = param(64, positive, "validation windows (seq_len tokens each)")
    dashboard_every: int = param(100, positive, "steps between dashboard refreshes")
    sample_every: int = param(100, positive, "steps between text samples")
    sample_length: int = param(80, positive, "generated tokens per text sample")
    checkpoint_every: int = param(100, positive, "steps between checkpoints")
    keep_checkpoints: int = param(3, positive, "checkpoints kept")
    resume: bool = param(True, None, "continue from the latest checkpoint in the run folder")
    baselines: tuple[str, ...] = param(("uniform", "unigram", "bigram"), None,
                                       "baselines trained in the same run: uniform, unigram, bigram, gru, transformer")
    baseline_lr: float = param(3e-3, positive, "peak lr of the GRU / transformer baselines")
    ablation: bool = param(True, None, "evaluate with each neuromodulator switched off")
    progress: bool = param(True, None, "show a progress bar")

    def check(self):
        if len(self.modulators) != 3:
            raise ConfigError(f"config key 'modulators': value {list(self.modulators)} needs 3 "
                              "entries (dopamine, noradrenaline, serotonin)")
        bad = [b for b in self.baselines if b not in ("uniform", "unigram", "bigram", "gru", "transformer")]
        if bad:
            raise ConfigError(f"config key 'baselines': value {bad} not allowed; allowed: "
                              "['uniform', 'unigram', 'bigram', 'gru', 'transformer']")

    def spec(self) -> BrainSpec:
        return BrainSpec.scale(self.scale, substeps=self.substeps, seed=self.seed,
                               readout=self.readout, tau_out=self.tau_out,
                               surrogate_scale=self.surrogate_scale, feedforward=self.feedforward)


def make_optimizer(cfg: TrainConfig, lr: float | None = None, steps: int | None = None):
    """AdamW with linear warm-up, cosine decay and global-norm clipping; returns (opt, schedule)."""
    peak = cfg.lr if lr is None else lr
    steps = cfg.steps if steps is None else steps
    sched = optax.warmup_cosine_decay_schedule(0.0, peak, max(cfg.warmup, 1),
                                               max(steps, cfg.warmup + 1), peak * cfg.min_lr_ratio)
    return optax.chain(optax.clip_by_global_norm(cfg.clip),
                       optax.adamw(sched, weight_decay=cfg.weight_decay)), sched


class StepOutput(NamedTuple):
    loss: jax.Array
    accuracy: jax.Array
    params: dict
    opt_state: tuple
    grad_norm: jax.Array
    rates: jax.Array


_STEPS: dict = {}


def make_train_step(model: SpikingLM, optimizer, cache_key=None, remat: bool = True,
                    modulators=(1.0, 1.0, 1.0)):
    """Jitted ``train_step(params, opt_state, input_ids (B,T), target_ids (B,T))``.

    With ``cache_key`` (hashable, describing the optimiser), the same jitted function is
    returned for the same model and key (no recompilation when a run resumes in-process)."""
    if cache_key is not None:
        hit = _STEPS.get((id(model), cache_key))
        if hit is not None and hit[0] is model:
            return hit[1]
        step = make_train_step(model, optimizer, remat=remat, modulators=modulators)
        _STEPS[(id(model), cache_key)] = (model, step)
        return step

    mask = jnp.asarray(modulators, jnp.float32)

    @jax.jit
    def train_step(params, opt_state, input_ids, target_ids) -> StepOutput:
        (loss, (acc, rates)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            params, model, input_ids, target_ids, mask, remat)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return StepOutput(loss, acc, optax.apply_updates(params, updates), opt_state,
                          optax.global_norm(grads), rates)
    return train_step


_EVALS: dict = {}


def make_eval(model: SpikingLM):
    """Jitted ``eval(params, x, y, mask) -> (nll_sum, correct_sum, rates, predictions)``
    (no remat); one per model object."""
    hit = _EVALS.get(id(model))
    if hit is None or hit[0] is not model:
        hit = (model, jax.jit(lambda p, x, y, mask: batch_metrics(model, p, x, y, mask, remat=False,
                                                                 return_predictions=True)))
        _EVALS[id(model)] = hit
    return hit[1]


class Corpus(NamedTuple):
    tokenizer: object
    train_ids: np.ndarray
    valid_ids: np.ndarray


def load_corpus(cfg: TrainConfig) -> Corpus:
    from ..datasets.text import shakespeare_split
    train_text, valid_text = shakespeare_split(cfg.valid_plays, cfg.max_chars or None)
    tok = make_tokenizer(cfg.tokenizer, train_text + valid_text if cfg.tokenizer == "char"
                         else train_text, cfg.bpe_vocab)
    return Corpus(tok, np.asarray(tok.encode(train_text), np.int32),
                  np.asarray(tok.encode(valid_text), np.int32))


def batch_at(ids: np.ndarray, step: int, batch: int, seq_len: int, seed: int):
    """Random training windows for ``step`` (a pure function of (seed, step): resumable)."""
    rs = np.random.default_rng([seed, step])
    st = rs.integers(0, len(ids) - seq_len - 1, batch)
    x = np.stack([ids[i:i + seq_len] for i in st])
    y = np.stack([ids[i + 1:i + seq_len + 1] for i in st])
    return x, y


def valid_windows(ids: np.ndarray, seq_len: int, n: int):
    """The first ``n`` non-overlapping validation windows (x, y), each (n, seq_len)."""
    n = min(n, (len(ids) - 1) // seq_len)
    if n < 1:
        raise ValueError(f"validation text has {len(ids)} tokens, fewer than seq_len+1")
    x = np.stack([ids[i * seq_len:(i + 1) * seq_len] for i in range(n)])
    y = np.stack([ids[i * seq_len + 1:(i + 1) * seq_len + 1] for i in range(n)])
    return x, y


def evaluate(eval_fn, params, x, y, mask=ALL_MODULATORS, chunk: int = 64) -> dict:
    """nats/token and accuracy over windows (x, y), in chunks of ``chunk`` windows."""
    nll = cor = 0.0
    for i in range(0, len(x), chunk):
        a, b, _, _ = eval_fn(params, jnp.asarray(x[i:i + chunk]), jnp.asarray(y[i:i + chunk]),
                             jnp.asarray(mask))
        nll += float(a)
        cor += float(b)
    return {"nll": nll / y.size, "accuracy": cor / y.size}


class CheckpointMismatch(ValueError):
    """A checkpoint written by a run of another model config."""


MODEL_KEYS = ("scale", "substeps", "tokenizer", "bpe_vocab", "seed", "compute_dtype", "readout",
              "tau_out", "feedforward")


def _meta(cfg: TrainConfig, tok, n_params: int) -> dict:
    return {"model": {k: getattr(cfg, k) for k in MODEL_KEYS}, "config": to_dict(cfg),
            "tokenizer": tok.spec(), "vocab_size": tok.vocab_size, "n_params": n_params,
            "spec": dataclasses.asdict(cfg.spec())}


def _check_meta(stored: dict, cfg: TrainConfig, where: Path):
    # keys added after a checkpoint was written default to the values of that time
    old = {"readout": "membrane", "tau_out": 2.0, "feedforward": "pipelined"}
    diff = {k: (stored["model"].get(k, old.get(k)), getattr(cfg, k)) for k in MODEL_KEYS
            if stored["model"].get(k, old.get(k)) != getattr(cfg, k)}
    if diff:
        desc = ", ".join(f"{k}: checkpoint {a!r} vs config {b!r}" for k, (a, b) in diff.items())
        raise CheckpointMismatch(f"the checkpoint in {where} was written by another model config "
                                 f"({desc}); use another --out folder or the matching config")


def load_run(run_dir: str | Path):
    """Load (model, params, tokenizer, meta) from a training run folder's latest checkpoint."""
    from ..checkpoint import Checkpointer
    run_dir = Path(run_dir)
    meta_path = run_dir / "model.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a spiking-LM run folder (no model.json); "
                                "pass the --out folder of `jaxbrain train`")
    meta = json.loads(meta_path.read_text())
    spec = BrainSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["spec"].items()})
    tok = from_spec(meta["tokenizer"])
    model = make_model(spec, meta["vocab_size"], meta["model"]["compute_dtype"])
    from ..config import from_dict
    cfg = from_dict(TrainConfig, meta["config"])
    # restore into zeros of the expected shapes (traced with eval_shape: nothing compiles)
    shapes = jax.eval_shape(lambda k: (lambda p: (p, make_optimizer(cfg)[0].init(p)))(
        init_params(model, k)), jax.random.key(0))
    like, like_opt = jax.tree_util.tree_map(lambda a: np.zeros(a.shape, a.dtype), shapes)
    ck = Checkpointer(run_dir / "checkpoints")
    if ck.latest_step() is None:
        raise FileNotFoundError(f"no checkpoint in {run_dir / 'checkpoints'}")
    try:
        state = ck.restore({"params": like, "opt_state": like_opt, "step": 0})
    except ValueError as e:
        raise CheckpointMismatch(
            f"the checkpoint in {run_dir / 'checkpoints'} does not fit the model described by "
            f"{meta_path} ({model.spec.n} neurons, vocab {model.vocab_size}): it was written by "
            f"another config. ({str(e).splitlines()[0][:200]})") from None
    finally:
        ck.close()
    if param_count(state["params"]) != meta["n_params"]:
        raise CheckpointMismatch(f"checkpoint in {run_dir} has {param_count(state['params'])} "
                                 f"parameters, model.json says {meta['n_params']}")
    return model, state["params"], tok, meta


def _text_sample(model, params, tok, eval_fn, vx, vy, i, step, sample_length, seed,
                 chunk: int = 64):
    """A real validation window, the model's teacher-forced argmax predictions on it, and a
    sampled continuation. The predictions come from the evaluation function on the window's
    chunk (the shape already compiled), the continuation from :func:`generate_ids`."""
    from .generate import generate_ids
    i = int(i) % len(vx)
    lo = (i // chunk) * chunk
    xs, ys = vx[lo:lo + chunk], vy[lo:lo + chunk]
    *_, preds = eval_fn(params, jnp.asarray(xs), jnp.asarray(ys), ALL_MODULATORS)
    pred = np.asarray(preds)[i - lo]
    x, y = vx[i], vy[i]
    gen = generate_ids(model, params, jnp.asarray(x)[None], jnp.asarray([len(x)], jnp.int32),
                       jax.random.key(seed + step), sample_length, Sampling(temperature=0.8))
    return {"step": int(step), "input": tok.decode(x.tolist()), "target": tok.decode(y.tolist()),
            "predicted": tok.decode(pred.tolist()),
            "accuracy": float(np.mean(pred == y)),
            "generation": tok.decode(np.asarray(gen[0]).tolist())}


def train(cfg: TrainConfig, out: Path) -> dict:
    """The training loop (see module doc). Returns the summary metrics."""
    from ..checkpoint import Checkpointer
    from ..runs import write_json
    from .dashboard import write_dashboard

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_setup = time.perf_counter()
    if (out / "model.json").is_file() and any((out / "checkpoints").glob("[0-9]*")):
        _check_meta(json.loads((out / "model.json").read_text()), cfg, out)  # before any work
    corpus = load_corpus(cfg)
    tok = corpus.tokenizer
    model = make_model(cfg.spec(), tok.vocab_size, cfg.compute_dtype)
    params = init_params(model, jax.random.key(cfg.seed))
    if cfg.calibrate_rate:
        xc, _ = batch_at(corpus.train_ids, 10**6, 8, cfg.seq_len, cfg.seed)
        params, r = calibrate(model, params, xc, cfg.calibrate_rate)
        print(f"calibrated initial rates per substep: {np.round(r, 4).tolist()}")
    n_params = param_count(params)
    optimizer, sched = make_optimizer(cfg)
    opt_state = optimizer.init(params)
    meta = _meta(cfg, tok, n_params)
    start = 0
    ck = Checkpointer(out / "checkpoints", cfg.keep_checkpoints)
    if (out / "model.json").is_file() and ck.latest_step() is not None:
        _check_meta(json.loads((out / "model.json").read_text()), cfg, out)
        if cfg.resume:
            st = ck.restore({"params": params, "opt_state": opt_state, "step": 0})
            params, opt_state, start = st["params"], st["opt_state"], int(st["step"])
            print(f"resumed from {out / 'checkpoints'} at step {start}")
    write_json(out / "model.json", meta)
    opt_key = (cfg.lr, cfg.warmup, cfg.steps, cfg.min_lr_ratio, cfg.clip, cfg.weight_decay,
               cfg.remat, cfg.modulators)
    train_step = make_train_step(model, optimizer, opt_key, cfg.remat, cfg.modulators)
    mask = np.asarray(cfg.modulators, np.float32)
    eval_fn = make_eval(model)
    vx, vy = valid_windows(corpus.valid_ids, cfg.seq_len, cfg.eval_windows)
    metrics_path = out / "metrics.jsonl"
    history = []
    if metrics_path.is_file() and start > 0:
        history = [json.loads(line) for line in metrics_path.read_text().splitlines() if line]
        history = [h for h in history if h.get("step", 0) <= start]
        metrics_path.write_text("".join(json.dumps(h) + "\n" for h in history))
    samples_path = out / "text_samples.json"
    samples = json.loads(samples_path.read_text()) if samples_path.is_file() and start > 0 else []

    def save(step):
        ck.save(step, {"params": params, "opt_state": opt_state, "step": step})

    def refresh(step):
        write_dashboard(history, samples, out / "dashboard.png",
                        title=f"spiking LM ({cfg.scale}, {model.spec.n:,} neurons) step {step}")

    bar = None
    if cfg.progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=cfg.steps, initial=start, desc="train", dynamic_ncols=True)
    tokens_per_step = cfg.batch_size * cfg.seq_len
    step = start
    interrupted = False
    t0 = time.perf_counter()
    t_last, step_last = t0, start
    last_val = None
    print(f"spiking LM: {model.spec.n:,} neurons, {model.spec.n_synapses:,} synapses, "
          f"{n_params:,} parameters, vocab {tok.vocab_size} ({cfg.tokenizer}); setup "
          f"{time.perf_counter() - t_setup:.1f} s", flush=True)
    try:
        while step < cfg.steps:
            x, y = batch_at(corpus.train_ids, step, cfg.batch_size, cfg.seq_len, cfg.seed)
            o = train_step(params, opt_state, jnp.asarray(x), jnp.asarray(y))
            params, opt_state = o.params, o.opt_state
            step += 1
            if step % cfg.log_every == 0 or step == cfg.steps or step == start + 1:
                loss, acc = float(o.loss), float(o.accuracy)
                now = time.perf_counter()
                tps = tokens_per_step * (step - step_last) / max(now - t_last, 1e-9)
                t_last, step_last = now, step
                row = {"step": step, "loss": loss, "accuracy": acc, "tokens_per_s": tps,
                       "lr": float(sched(step)), "grad_norm": float(o.grad_norm),
                       "rates": np.round(np.asarray(o.rates), 4).tolist(),
                       "time_s": now - t0}
                if not math.isfinite(loss):
                    raise FloatingPointError(f"loss became {loss} at step {step}; lower lr")
                if step % cfg.eval_every == 0 or step == cfg.steps:
                    last_val = evaluate(eval_fn, params, vx, vy, mask)
                    row.update(val_loss=last_val["nll"], val_accuracy=last_val["accuracy"])
                history.append(row)
                with metrics_path.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                if bar is not None:
                    post = dict(loss=f"{loss:.3f}", acc=f"{acc:.1%}", tok_s=f"{tps:,.0f}",
                                lr=f"{row['lr']:.1e}")
                    if last_val:
                        post["val"] = f"{last_val['nll']:.3f}"
                    bar.set_postfix(post, refresh=False)
            if bar is not None:
                bar.update(1)
            if step % cfg.sample_every == 0 or step == cfg.steps:
                i = (step // cfg.sample_every) % len(vx)
                samples.append(_text_sample(model, params, tok, eval_fn, vx, vy, i, step,
                                            cfg.sample_length, cfg.seed))
                samples = samples[-50:]
                write_json(samples_path, samples)
            if step % cfg.checkpoint_every == 0:
                save(step)
            if step % cfg.dashboard_every == 0:
                refresh(step)
            if cfg.time_limit_s and time.perf_counter() - t0 > cfg.time_limit_s:
                print(f"\ntime limit {cfg.time_limit_s} s reached at step {step}")
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if bar is not None:
            bar.close()
    save(step)
    if not samples or samples[-1]["step"] != step:
        i = (step // cfg.sample_every) % len(vx)
        samples.append(_text_sample(model, params, tok, eval_fn, vx, vy, i, step,
                                    cfg.sample_length, cfg.seed))
        write_json(samples_path, samples[-50:])
    refresh(step)
    if interrupted:
        ck.close()
        print(f"interrupted at step {step}: checkpoint saved in {out / 'checkpoints'}; "
              f"run the same command again to resume", flush=True)
        return {"interrupted": True, "step": step}
    train_time = time.perf_counter() - t0
    result = {"step": step, "n_params": n_params, "neurons": model.spec.n,
              "synapses": model.spec.n_synapses, "vocab_size": tok.vocab_size,
              "train_time_s": train_time,
              "train_tokens_per_s": tokens_per_step * (step - start) / max(train_time, 1e-9)}
    result.update(final_report(cfg, model, params, corpus, eval_fn, steps_done=step))
    ck.close()
    write_json(out / "results.json", result)
    return result


def final_report(cfg, model, params, corpus, eval_fn, steps_done: int | None = None) -> dict:
    """Validation metrics of the spiking model, the baselines and the ablations."""
    from . import baselines as bl
    tok = corpus.tokenizer
    vx, vy = valid_windows(corpus.valid_ids, cfg.seq_len, cfg.eval_windows)
    chars = sum(len(tok.decode(row.tolist())) for row in vy)
    tokens = vy.size

    def bpc(nll):
        return nll * tokens / chars / math.log(2)

    res = {"valid_tokens": int(tokens), "valid_chars": int(chars)}
    on = np.asarray(cfg.modulators, np.float32)
    ev = evaluate(eval_fn, params, vx, vy, on)
    res["spiking"] = {**ev, "bpc": bpc(ev["nll"])}
    base = {}
    v = tok.vocab_size
    if "uniform" in cfg.baselines:
        base["uniform"] = {"nll": bl.uniform_nll(v), "accuracy": 1.0 / v}
    if "unigram" in cfg.baselines:
        lp = bl.unigram(corpus.train_ids, v)
        base["unigram"] = {"nll": float(-lp[vy].mean()), "accuracy": float(np.mean(vy == lp.argmax()))}
    if "bigram" in cfg.baselines:
        nll = bl.bigram_nll(corpus.train_ids, v, vx, vy)
        acc = float(np.mean(bl.bigram_argmax(corpus.train_ids, v)[vx] == vy))
        base["bigram"] = {"nll": float(nll.mean()), "accuracy": acc}
    for kind in ("gru", "transformer"):
        if kind in cfg.baselines:
            base[kind] = train_neural_baseline(kind, cfg, corpus, param_count(params), vx, vy,
                                               steps_done or cfg.steps)
    for k in base:
        base[k]["bpc"] = bpc(base[k]["nll"])
    res["baselines"] = base
    if cfg.ablation:
        abl = {}
        for i, name in enumerate(nm.NAMES):
            if on[i] == 0:
                continue
            mask = on.copy()
            mask[i] = 0.0
            e = evaluate(eval_fn, params, vx, vy, mask)
            abl[f"no_{name}"] = {**e, "delta_nll": e["nll"] - ev["nll"]}
        e = evaluate(eval_fn, params, vx, vy, np.zeros((3,), np.float32))
        abl["none"] = {**e, "delta_nll": e["nll"] - ev["nll"]}
        res["ablation"] = abl
    return res


def train_neural_baseline(kind, cfg, corpus, n_params, vx, vy, steps: int | None = None) -> dict:
    """Train a GRU / transformer of ``n_params`` on the same windows for the same number of
    steps as the spiking model did (same tokens, same schedule); evaluate."""
    from . import baselines as bl
    v = corpus.tokenizer.vocab_size
    net = bl.gru_baseline(v, n_params) if kind == "gru" else \
        bl.transformer_baseline(v, n_params, cfg.seq_len)
    p = net.init(jax.random.key(cfg.seed + 1))
    opt, _ = make_optimizer(cfg, lr=cfg.baseline_lr)
    ost = opt.init(p)

    def loss(p, x, y):
        logits = jax.vmap(lambda s: net.apply(p, s))(x)
        lp = jax.nn.log_softmax(logits)
        nll = -jnp.take_along_axis(lp, y[..., None], -1)[..., 0]
        return jnp.mean(nll), jnp.mean(jnp.argmax(lp, -1) == y)

    @jax.jit
    def step(p, ost, x, y):
        (l, a), g = jax.value_and_grad(loss, has_aux=True)(p, x, y)
        u, ost = opt.update(g, ost, p)
        return optax.apply_updates(p, u), ost, l

    t0 = time.perf_counter()
    s = -1
    for s in range(steps or cfg.steps):
        x, y = batch_at(corpus.train_ids, s, cfg.batch_size, cfg.seq_len, cfg.seed)
        p, ost, _ = step(p, ost, jnp.asarray(x), jnp.asarray(y))
        if cfg.time_limit_s and time.perf_counter() - t0 > cfg.time_limit_s:
            break
    ev_loss = jax.jit(loss)
    nll = acc = 0.0
    for i in range(0, len(vx), 64):
        a, b = ev_loss(p, jnp.asarray(vx[i:i + 64]), jnp.asarray(vy[i:i + 64]))
        nll += float(a) * vx[i:i + 64].size
        acc += float(b) * vx[i:i + 64].size
    return {"nll": nll / vy.size, "accuracy": acc / vy.size, "n_params": bl.count_params(p),
            "width": net.width, "steps": s + 1, "train_time_s": time.perf_counter() - t0}
