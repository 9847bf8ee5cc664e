"""Experiment runs: find an experiment by name, validate its config, give it an output folder.

An experiment is a module ``experiments/<name>.py`` at the repository root that defines

* ``Config``: a frozen dataclass of :mod:`jaxbrain.config` params (validated on load), and
* ``run(cfg: Config, out: pathlib.Path) -> dict``: does the work, writes its figures (PNG)
  and checkpoints under ``out`` and returns its metrics.

:func:`execute` writes ``summary.json`` = {experiment, config, metrics, wall_s, versions}.
A config TOML names its experiment with the top-level key ``experiment``.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import sys
import time
from pathlib import Path

from .config import ConfigError, apply_overrides, from_dict, load_toml, to_dict

__all__ = ["repo_root", "resolve_config", "load_experiment", "prepare", "execute", "write_json"]


def repo_root() -> Path:
    """The repository root (the folder holding ``configs/`` and ``experiments/``)."""
    return Path(__file__).resolve().parent.parent


def resolve_config(name: str) -> Path:
    """A config path as given, or a name looked up in ``configs/`` (``coba`` -> configs/coba.toml)."""
    p = Path(name)
    if p.is_file():
        return p
    for cand in (repo_root() / "configs" / name, repo_root() / "configs" / f"{name}.toml"):
        if cand.is_file():
            return cand
    available = sorted(q.stem for q in (repo_root() / "configs").glob("*.toml"))
    raise ConfigError(f"config '{name}' not found as a file or in configs/; available: {available}")


def load_experiment(name: str):
    """Import ``experiments/<name>.py`` and check it defines ``Config`` and ``run``."""
    path = repo_root() / "experiments" / f"{name}.py"
    if not path.is_file():
        available = sorted(q.stem for q in (repo_root() / "experiments").glob("*.py")
                           if not q.stem.startswith("_"))
        raise ConfigError(f"config key 'experiment': value {name!r} names no experiment; "
                          f"allowed: {available}")
    spec = importlib.util.spec_from_file_location(f"jaxbrain_experiments.{name}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    if not hasattr(mod, "Config") or not hasattr(mod, "run"):
        raise ConfigError(f"experiments/{name}.py must define Config and run(cfg, out)")
    return mod


def prepare(config: str, overrides: list[str] = ()):
    """Load, override and validate a config; return ``(experiment module, cfg)``.

    Nothing is compiled or computed here, so a bad config fails in well under a second.
    """
    data = load_toml(resolve_config(config))
    data = apply_overrides(data, list(overrides))
    name = data.pop("experiment", None)
    if not isinstance(name, str):
        raise ConfigError("config key 'experiment' is missing; it names the experiment to run")
    mod = load_experiment(name)
    return mod, from_dict(mod.Config, data)


def write_json(path: Path, obj) -> None:
    """Write JSON atomically (temp file + rename), so a crash never leaves half a file."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_json_default))
    tmp.replace(path)


def _json_default(x):
    try:
        import numpy as np
        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, np.ndarray):
            return x.tolist()
    except ImportError:  # pragma: no cover
        pass
    if hasattr(x, "tolist"):
        return x.tolist()
    return str(x)


def execute(config: str = "coba", out: str | None = None, overrides: list[str] = ()) -> dict:
    """Run an experiment from a config; return the summary written to ``out/summary.json``."""
    mod, cfg = prepare(config, overrides)
    name = mod.__name__.rsplit(".", 1)[-1]
    out_dir = Path(out) if out else repo_root() / "runs" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    out_dir.mkdir(parents=True, exist_ok=True)
    import jax  # imported late so config errors stay fast
    t0 = time.perf_counter()
    metrics = mod.run(cfg, out_dir)
    summary = {
        "experiment": name,
        "config": to_dict(cfg),
        "metrics": metrics,
        "wall_s": time.perf_counter() - t0,
        "versions": {"jax": jax.__version__, "python": platform.python_version()},
        "device": str(jax.devices()[0].device_kind),
        "figures": sorted(p.name for p in out_dir.glob("*.png")),
    }
    write_json(out_dir / "summary.json", summary)
    print(f"wrote {out_dir / 'summary.json'}")
    return summary
