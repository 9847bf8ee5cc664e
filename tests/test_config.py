"""Configs: unknown keys, wrong types and impossible values stop with a clear message."""

import dataclasses

import pytest

from jaxbrain.config import ConfigError, apply_overrides, from_dict, one_of, param, positive, prob


@dataclasses.dataclass(frozen=True)
class Inner:
    tau_m: float = param(20.0, positive, "membrane time constant, ms")


@dataclasses.dataclass(frozen=True)
class Cfg:
    n: int = param(100, positive)
    k: int = param(10, positive)
    p: float = param(0.1, prob)
    mode: str = param("a", one_of("a", "b"))
    inner: Inner = param(Inner())
    sizes: tuple[int, ...] = param((1, 2), positive)

    def check(self):
        if self.k > self.n:
            raise ConfigError(f"config key 'k': value {self.k} is not allowed; allowed: <= n = {self.n}")


@pytest.mark.parametrize("data, pattern", [
    ({"nn": 3}, r"unknown config key 'nn' \(did you mean 'n'\?\)"),
    ({"n": "ten"}, r"'n': value 'ten' must be an integer"),
    ({"n": 2.5}, r"'n': value 2.5 must be an integer"),
    ({"p": 1.5}, r"'p': value 1.5 is not allowed; allowed: a probability in \[0, 1\]"),
    ({"mode": "c"}, r"'mode': value 'c' .*one of \['a', 'b'\]"),
    ({"inner": {"tau_m": -1.0}}, r"'inner.tau_m': value -1.0 is not allowed; allowed: a number > 0"),
    ({"inner": {"tau": 1.0}}, r"unknown config key 'inner.tau'"),
    ({"k": 200}, r"'k': value 200 .*<= n = 100"),
    ({"sizes": [1, -2]}, r"'sizes'.*> 0"),
    ({"n": True}, r"must be an integer"),
])
def test_bad_configs_are_refused_with_the_key_and_what_is_allowed(data, pattern):
    with pytest.raises(ConfigError, match=pattern):
        from_dict(Cfg, data)


def test_good_config_and_overrides():
    cfg = from_dict(Cfg, apply_overrides({"n": 50}, ["inner.tau_m=10", "mode=b", "p=0.5"]))
    assert cfg == Cfg(n=50, mode="b", p=0.5, inner=Inner(10.0))
    assert isinstance(cfg.inner.tau_m, float)


def test_every_shipped_config_validates():
    """Every config in configs/ names an experiment and passes its checks (no compute)."""
    from pathlib import Path

    from jaxbrain.runs import prepare
    configs = sorted((Path(__file__).parents[1] / "configs").glob("*.toml"))
    assert len(configs) > 10
    for path in configs:
        prepare(str(path))
