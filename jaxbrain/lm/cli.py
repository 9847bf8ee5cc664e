"""``jaxbrain train CONFIG`` and ``jaxbrain chat`` (registered on import by jaxbrain.cli)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ..cli import command

__all__ = ["latest_run", "chat_loop"]


def latest_run(root: Path | None = None) -> Path:
    """The most recently written spiking-LM run folder under ``runs/`` (has model.json and a
    checkpoint)."""
    from ..runs import repo_root
    root = Path(root) if root else repo_root() / "runs"
    cands = [p.parent for p in root.glob("*/model.json") if (p.parent / "checkpoints").is_dir()]
    cands = [c for c in cands if any((c / "checkpoints").iterdir())]
    if not cands:
        raise FileNotFoundError(f"no trained spiking-LM run under {root}; train one with "
                                "`jaxbrain train configs/lm_tiny.toml` or pass --checkpoint DIR")
    return max(cands, key=lambda c: max(p.stat().st_mtime for p in (c / "checkpoints").iterdir()))


@command("train", "train the modular spiking language model from a config (configs/lm_*.toml)")
def _train(sp):
    sp.add_argument("config", help="config file or name in configs/ (e.g. lm_tiny)")
    sp.add_argument("--out", default=None,
                    help="run folder (default runs/lm-<scale>-<time>); an existing one resumes")
    sp.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config key; repeatable")

    def handle(args):
        from ..config import ConfigError
        from ..runs import execute, prepare, repo_root
        mod, cfg = prepare(args.config, args.overrides)
        if not mod.__name__.endswith("lm_train"):
            raise ConfigError(f"`jaxbrain train` runs lm_train configs; {args.config} names "
                              f"experiment {mod.__name__.rsplit('.', 1)[-1]!r} (use `jaxbrain run`)")
        out = args.out or str(repo_root() / "runs" / f"lm-{cfg.scale}-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            summary = execute(args.config, out, args.overrides)
        except (FileNotFoundError, ValueError) as e:
            print(f"jaxbrain train: error: {e}", file=sys.stderr)
            return 2
        m = summary["metrics"]
        if m.get("interrupted"):
            return 130
        sp_ = m["spiking"]
        print(f"validation: {sp_['nll']:.3f} nats/token, {sp_['bpc']:.3f} bits/char, "
              f"accuracy {sp_['accuracy']:.1%}")
        for k, b in m.get("baselines", {}).items():
            print(f"  {k:12s} {b['nll']:.3f} nats/token, {b['bpc']:.3f} bits/char, "
                  f"accuracy {b['accuracy']:.1%}")
        return 0
    return handle


HELP = ("type text and press enter to continue it; /quit (or end of input) leaves; "
        "/help shows this")


def chat_loop(model, params, tok, sampling, max_length: int, context: int, seed: int,
              stdin=None, stdout=None) -> int:
    """Read prompts line by line from ``stdin``, print continuations to ``stdout``."""
    from .generate import PromptError, generate_ids, prepare_prompt
    import jax
    import numpy as np
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    print(f"spiking LM ready ({model.spec.n:,} neurons, vocab {tok.vocab_size}); {HELP}",
          file=stdout, flush=True)
    turn = 0
    while True:
        print("> ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            print("", file=stdout)
            return 0
        line = line.rstrip("\n")
        if line.strip() in ("/quit", "/exit"):
            return 0
        if line.strip() == "/help":
            print(HELP, file=stdout, flush=True)
            continue
        try:
            ids, n, notices = prepare_prompt(tok, line, context)
        except PromptError as e:
            print(f"error: {e}", file=stdout, flush=True)
            continue
        for msg in notices:
            print(f"note: {msg}", file=stdout, flush=True)
        toks = generate_ids(model, params, ids[None], np.asarray([n], np.int32),
                            jax.random.key(seed + turn), max_length, sampling)
        turn += 1
        print(tok.decode(np.asarray(toks[0]).tolist()), file=stdout, flush=True)


@command("chat", "talk to a trained spiking language model (reads prompts from standard input)")
def _chat(sp):
    g = sp.add_mutually_exclusive_group()
    g.add_argument("--checkpoint", default=None, help="run folder written by `jaxbrain train`")
    g.add_argument("--auto-load-latest", action="store_true",
                   help="use the most recent run under runs/ (the default)")
    sp.add_argument("--max-length", type=int, default=120, help="tokens generated per reply")
    sp.add_argument("--temperature", type=float, default=0.8, help="0 = greedy")
    sp.add_argument("--top-k", type=int, default=0, help="0 = off")
    sp.add_argument("--top-p", type=float, default=1.0, help="1 = off")
    sp.add_argument("--ne-explore", type=float, default=0.0,
                    help="noradrenaline exploration: temperature * exp(ne_explore * NE)")
    sp.add_argument("--context", type=int, default=256, help="prompt tokens kept at most")
    sp.add_argument("--seed", type=int, default=0)

    def handle(args):
        from .sampling import Sampling
        from .train import load_run
        try:
            sampling = Sampling(args.temperature, args.top_k, args.top_p, args.ne_explore)
            if args.max_length < 1 or args.context < 1:
                raise ValueError(f"--max-length {args.max_length} and --context {args.context} "
                                 "must be >= 1")
            run_dir = Path(args.checkpoint) if args.checkpoint else latest_run()
            model, params, tok, _ = load_run(run_dir)
        except (FileNotFoundError, ValueError) as e:
            print(f"jaxbrain chat: error: {e}", file=sys.stderr)
            return 2
        print(f"loaded {run_dir}", file=sys.stderr)
        return chat_loop(model, params, tok, sampling, args.max_length, args.context, args.seed)
    return handle
