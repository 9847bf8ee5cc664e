"""The ``jaxbrain`` command line: run experiments, benchmarks, training and chat."""

from __future__ import annotations

import argparse
import sys

from .config import ConfigError

_COMMANDS = {}


def command(name: str, help: str):
    """Register a sub-command: ``fn(subparser)`` adds arguments, returns the handler."""
    def deco(fn):
        _COMMANDS[name] = (help, fn)
        return fn
    return deco


@command("run", "run an experiment from a config in configs/ (default: the COBA network)")
def _run(sp):
    sp.add_argument("config", nargs="?", default="coba",
                    help="config file or name in configs/ (default: coba)")
    sp.add_argument("--out", default=None, help="output folder (default: runs/<name>-<time>)")
    sp.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config key (dotted for nested tables); repeatable")

    def handle(args):
        from .runs import execute
        summary = execute(args.config, args.out, args.overrides)
        metrics = summary["metrics"]
        short = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str))}
        print("metrics:", short)
        return 0
    return handle


@command("configs", "list the configs in configs/ and the experiment each runs")
def _configs(sp):
    def handle(args):
        from .config import load_toml
        from .runs import repo_root
        for p in sorted((repo_root() / "configs").glob("*.toml")):
            print(f"{p.stem:28s} experiment={load_toml(p).get('experiment')}")
        return 0
    return handle


def _load_optional_commands():
    """Sub-commands contributed by application packages (bench, train, chat)."""
    import importlib
    for mod in ("jaxbrain.bench", "jaxbrain.lm.cli"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name is None or not mod.startswith(e.name):
                raise


def main(argv=None) -> int:
    # the command table lives in the imported module, also when run as ``python -m jaxbrain.cli``
    from jaxbrain import cli as registry
    _load_optional_commands()
    commands = registry._COMMANDS
    parser = argparse.ArgumentParser(
        prog="jaxbrain",
        description="Brain simulation at scale in JAX. Commands: " + ", ".join(commands))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    handlers = {}
    for name, (help_text, fn) in commands.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        handlers[name] = fn(sp)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return handlers[args.command](args) or 0
    except ConfigError as e:
        print(f"jaxbrain {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
