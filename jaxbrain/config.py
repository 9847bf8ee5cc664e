"""Validated experiment configs: TOML files loaded into frozen dataclasses.

A config class is a frozen dataclass whose fields are declared with :func:`param`, which
records a check (``positive``, ``prob``, ``one_of(...)``, ...) and a one-line doc. Loading
rejects, before anything is compiled, an unknown key, a value of the wrong type, or a value
the check refuses, with a message that names the key, the value and what is allowed. A class
may add a ``check(self)`` method for constraints across fields (``k <= n``) that raises
:class:`ConfigError`.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Callable

__all__ = [
    "ConfigError", "param", "positive", "nonnegative", "prob", "open_prob", "one_of",
    "in_range", "at_least", "from_dict", "load_toml", "apply_overrides", "to_dict",
]


class ConfigError(ValueError):
    """A config key, type or value that is not allowed."""


# ---- checks: each returns None if fine, else a string saying what is allowed ------------

Check = Callable[[Any], "str | None"]


def positive(v) -> str | None:
    return None if v > 0 else "a number > 0"


def nonnegative(v) -> str | None:
    return None if v >= 0 else "a number >= 0"


def prob(v) -> str | None:
    return None if 0.0 <= v <= 1.0 else "a probability in [0, 1]"


def open_prob(v) -> str | None:
    return None if 0.0 < v <= 1.0 else "a probability in (0, 1]"


def one_of(*choices) -> Check:
    def check(v):
        return None if v in choices else f"one of {list(choices)}"
    return check


def in_range(lo, hi) -> Check:
    def check(v):
        return None if lo <= v <= hi else f"a value in [{lo}, {hi}]"
    return check


def at_least(lo) -> Check:
    def check(v):
        return None if v >= lo else f"a value >= {lo}"
    return check


def param(default, check: Check | None = None, doc: str = "", **kw):
    """A config field with a default, an optional value check and a doc string."""
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default),
                                 metadata={"check": check, "doc": doc}, **kw)
    return dataclasses.field(default=default, metadata={"check": check, "doc": doc}, **kw)


# ---- loading --------------------------------------------------------------------------

def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(key: str, value, tp):
    """Check ``value`` against the annotation ``tp``; return it (ints widen to float)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(key, value, a)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"config key '{key}': value {value!r} has the wrong type; "
                          f"allowed: {' or '.join(_type_name(a) for a in args)}")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key '{key}': value {value!r} must be a list")
        args = typing.get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis and len(args) != len(value):
            raise ConfigError(f"config key '{key}': value {value!r} must have {len(args)} items")
        item_tp = args[0] if args else Any
        return tuple(_coerce(f"{key}[{i}]", v, item_tp) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}': value {value!r} must be a table")
        return dict(value)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}': value {value!r} must be a table of "
                              f"{[f.name for f in dataclasses.fields(tp)]}")
        return from_dict(tp, value, prefix=f"{key}.")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"config key '{key}': value {value!r} must be true or false")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            return int(value)
        raise ConfigError(f"config key '{key}': value {value!r} must be an integer")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"config key '{key}': value {value!r} must be a number")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"config key '{key}': value {value!r} must be a string")
    return value


def from_dict(cls, data: dict, prefix: str = ""):
    """Build the frozen dataclass ``cls`` from ``data``, validating every key and value."""
    if not isinstance(data, dict):
        raise ConfigError(f"config section '{prefix.rstrip('.') or '<root>'}' must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for k in data:
        if k not in fields:
            close = difflib.get_close_matches(k, list(fields), n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            raise ConfigError(f"unknown config key '{prefix}{k}'{hint}; allowed keys: "
                              f"{sorted(fields)}")
    kwargs = {}
    for name, f in fields.items():
        if name not in data:
            continue
        value = _coerce(prefix + name, data[name], hints[name])
        check = f.metadata.get("check")
        if check is not None and value is not None:
            items = value if isinstance(value, tuple) else (value,)
            for v in items:
                msg = check(v)
                if msg:
                    raise ConfigError(f"config key '{prefix}{name}': value {value!r} is not "
                                      f"allowed; allowed: {msg}")
        kwargs[name] = value
    obj = cls(**kwargs)
    # defaults of nested dataclasses and cross-field constraints
    if hasattr(obj, "check"):
        try:
            obj.check()
        except ConfigError as e:
            if prefix:
                raise ConfigError(f"in '{prefix.rstrip('.')}': {e}") from None
            raise
    return obj


def _parse_value(text: str):
    """Parse a ``--set`` value as a TOML literal, falling back to a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``key=value`` strings (dotted keys for nested tables) to a raw config dict."""
    data = dict(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        parts = key.strip().split(".")
        node = data
        for p in parts[:-1]:
            node[p] = dict(node.get(p, {}))
            node = node[p]
        node[parts[-1]] = _parse_value(text.strip())
    return data


def load_toml(path: str | Path) -> dict:
    """Read a TOML file into a dict, with a clear error for a missing or malformed file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file '{p}' does not exist")
    try:
        return tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file '{p}' is not valid TOML: {e}") from None


def to_dict(cfg) -> dict:
    """A JSON-ready dict of a config dataclass (tuples become lists)."""
    def conv(x):
        if dataclasses.is_dataclass(x):
            return {f.name: conv(getattr(x, f.name)) for f in dataclasses.fields(x)}
        if isinstance(x, (tuple, list)):
            return [conv(v) for v in x]
        return x
    return conv(cfg)
