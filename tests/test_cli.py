"""The jaxbrain command line: help, config errors before compute, a short run's outputs."""

import json
import subprocess
import sys
import time

import pytest

from jaxbrain import cli


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for cmd in ("run", "configs"):
        assert cmd in out


@pytest.mark.parametrize("args, message", [
    (["run", "coba", "--set", "p=1.5"], "config key 'p': value 1.5"),
    (["run", "coba", "--set", "tau=3"], "unknown config key 'tau'"),
    (["run", "coba", "--set", "raster_neurons=5000"], "raster_neurons"),
    (["run", "no_such_config"], "not found"),
])
def test_bad_config_fails_fast_with_message(args, message, capsys):
    t0 = time.perf_counter()
    assert cli.main(args) == 2
    assert message in capsys.readouterr().err
    assert time.perf_counter() - t0 < 5


def test_run_writes_summary_figure_and_checkpoint(tmp_path):
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "jaxbrain.cli", "run", "coba", "--out", str(out),
                        "--set", "duration_ms=100", "--set", "n_exc=800", "--set", "n_inh=200",
                        "--set", "raster_neurons=50"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["n_exc"] == 800 and summary["experiment"] == "coba"
    assert summary["metrics"]["rate_E_hz"] > 0
    assert (out / "raster.png").stat().st_size > 10_000
    assert any((out / "checkpoints").iterdir())
