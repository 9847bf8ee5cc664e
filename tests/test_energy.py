"""Energy measurement: works with NVML on a GPU, degrades to 'not available' elsewhere."""

import jax
import jax.numpy as jnp
import pytest

from jaxbrain.energy import _integrate, measure_energy, nvml_available, per_unit


def test_unavailable_sources_degrade_gracefully():
    with measure_energy(library="/nonexistent/libnvidia-ml.so.1", smi="no-such-nvidia-smi") as m:
        x = jnp.ones((64, 64)) @ jnp.ones((64, 64))
        jax.block_until_ready(x)
    assert not m.available and m.joules is None and m.method is None
    assert "NVML" in m.reason and "no-such-nvidia-smi" in m.reason
    assert m.seconds > 0
    assert "not available" in repr(m)
    assert per_unit(m, bio_second=1.0) == {"joules_per_bio_second": None}


def test_default_sources_never_raise():
    with measure_energy() as m:
        jax.block_until_ready(jnp.arange(10.0).sum())
    if jax.default_backend() == "cpu" and not nvml_available():
        assert not m.available and m.joules is None
    else:
        assert m.available == (m.joules is not None)


def test_trapezoid_integration():
    # constant 100 W sampled over 2 s, samples inside the window
    samples = [(0.5, 100.0), (1.0, 100.0), (1.5, 100.0)]
    assert _integrate(samples, 0.0, 2.0) == pytest.approx(200.0)
    ramp = [(0.0, 0.0), (1.0, 100.0)]
    assert _integrate(ramp, 0.0, 1.0) == pytest.approx(50.0)


@pytest.mark.gpu
def test_nvml_reads_energy_on_gpu():
    x = jnp.ones((4096, 4096), jnp.float32)
    f = jax.jit(lambda x: (x @ x) * 1e-4)
    jax.block_until_ready(f(x))
    with measure_energy(interval_s=0.02) as m:
        for _ in range(200):
            x = f(x)
        jax.block_until_ready(x)
    assert m.available, m.reason
    assert m.joules > 0 and 10.0 < m.joules / m.seconds < 1500.0
