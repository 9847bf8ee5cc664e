"""Diehl & Cook network: closed-form STDP window = library rule, learning on a real MNIST
slice beats chance and an untrained network, and an interrupted run resumes exactly."""

import importlib
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain.datasets.mnist import load_mnist
from jaxbrain.models import diehl_cook as dc
from jaxbrain.neurons import LIFState
from jaxbrain.plasticity import DiehlCookParams, accumulate, bump, decay, diehl_cook_stdp


def test_last_spike_trace_equals_stepwise_trace():
    s = (np.random.default_rng(0).random((60, 4)) < 0.1).astype(np.float32)
    got = dc.last_spike_trace(jnp.asarray(s), 20.0, 0.5)
    x = jnp.zeros(4)
    for t in range(60):
        x = decay(x, 20.0, 0.5)
        np.testing.assert_allclose(np.asarray(got[t]), np.asarray(x), rtol=1e-5, atol=1e-7)
        x = bump(x, jnp.asarray(s[t]), True)


def test_stdp_window_equals_library_rule():
    p = DiehlCookParams()
    rng = np.random.default_rng(1)
    s_in = jnp.asarray((rng.random((200, 7)) < 0.05).astype(np.float32))
    s_e = jnp.asarray((rng.random((200, 3)) < 0.05).astype(np.float32))
    pot, dep = dc.stdp_window(p, s_in, s_e, 0.5)
    pot2, dep2, _ = accumulate(diehl_cook_stdp, p, diehl_cook_stdp.init(p, 7, 3), s_in, s_e, 0.5)
    np.testing.assert_allclose(np.asarray(pot), np.asarray(pot2), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(np.asarray(dep), np.asarray(dep2), rtol=1e-5, atol=1e-9)


def test_theta_decay_is_exact_in_float32():
    """theta over a presentation = the float64 recursion theta <- theta d + theta_plus s on the
    presentation's own spikes, and over the rest = theta exp(-t_rest / tau_theta), for thresholds
    in several binades. A per-step float32 ``theta * exp(-dt / tau)`` fails this: the factor
    rounds to 1 - 2**-24 (or 1.0 with an approximate device exp), so theta lost one ulp per
    step (CPU: 1.2-2.4 times the paper's decay) or nothing (no decay while presenting)."""
    p = dc.DCParams(n_e=8, n_steps=700)
    theta0 = jnp.asarray([0.0, 0.3, 1.1, 5.0, 17.0, 30.0, 63.0, 100.0], jnp.float32)
    drive = jnp.zeros((p.n_steps, p.n_e), jnp.float32).at[::7, :4].set(60.0)  # some neurons spike
    s_e, theta, _ = jax.jit(dc._dynamics, static_argnums=3)(p, drive, theta0, True)
    s = np.asarray(s_e, np.float64)
    assert s[:, :4].sum() > 10 and s[:, 4:].sum() == 0
    d = np.exp(-p.dt / p.tau_theta)
    ref = np.asarray(theta0, np.float64)
    for t in range(p.n_steps):
        ref = ref * d + p.theta_plus * s[t]
    np.testing.assert_allclose(np.asarray(theta, np.float64), ref, rtol=3e-7, atol=1e-9)
    rested = jax.jit(dc._rest)(p, dc.DCState(jnp.zeros((1, 8)), theta0)).theta
    want = np.asarray(theta0, np.float64) * np.exp(-p.t_rest / p.tau_theta)
    np.testing.assert_allclose(np.asarray(rested, np.float64), want, rtol=2e-7, atol=1e-9)


# the experiment tests share one compiled training function (same n_e, steps, chunk)
SMALL = dict(n_e=40, t_present=250.0, chunk=100, seeds=[3], qat_bits=[], ptq_bits=[],
             eval_stp=False, infer_batch=250, unroll=2)


def _run(tmp: Path, **overrides):
    from jaxbrain.runs import execute
    sets = [f"{k}={json.dumps(v)}" for k, v in {**SMALL, **overrides}.items()]
    return execute("mnist_diehl_cook", str(tmp), sets)


def test_learning_beats_chance_on_real_mnist(tmp_path):
    """40 neurons learn from 300 real training images; labels from those 300 training images;
    accuracy on 250 test images must clearly beat chance (10%)."""
    s = _run(tmp_path, n_train=300, n_label=300, n_test=250)
    m = s["metrics"]
    assert m["protocol"]["train_images_learned"] == 300
    assert m["results"]["seed3"]["silent_test_images"] < 25
    assert m["accuracy"] > 0.35, m["accuracy"]
    assert (tmp_path / "receptive_fields.png").is_file() and (tmp_path / "confusion.png").is_file()


def _ckpt(tmp, rest="reset"):
    from jaxbrain.checkpoint import Checkpointer
    c = Checkpointer(Path(tmp) / "ckpt")
    like = {"w": np.zeros((1, 784, 40), np.float32), "theta": np.zeros((1, 40), np.float32)}
    if rest == "decay":
        like["v"] = np.zeros((1, 40), np.float32)
    return c.latest_step(), c.restore(like)


@pytest.mark.parametrize("rest,nu", [("reset", {}), ("decay", {}),
                                     ("reset", {"nu_final": [0.2], "nu_anneal_from": 0.25})])
def test_resume_continues_exactly(tmp_path, rest, nu):
    """A run cut after its first chunk and resumed ends with the uninterrupted run's state to
    the bit (with the decaying rest the carried membrane travels in the checkpoint too; with
    an STDP-rate schedule the resumed chunks get the rates of their place in training)."""
    run = dict(n_train=200, checkpoint_every=100, evaluate=False, rest=rest, **nu)
    _run(tmp_path / "straight", **run)
    s1 = _run(tmp_path / "cut", **run, max_train_s=1e-9)       # stops after the first chunk
    assert s1["metrics"]["protocol"]["train_images_learned"] == 100
    s2 = _run(tmp_path / "cut", **run)                          # resumes from image 100
    assert s2["metrics"]["protocol"]["train_images_learned"] == 200
    step_a, a = _ckpt(tmp_path / "straight", rest)
    step_b, b = _ckpt(tmp_path / "cut", rest)
    assert step_a == step_b == 200
    for k in a:
        np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]))
    if rest == "decay":
        assert float(np.abs(np.asarray(a["v"]) + 65.0).max()) > 0.1
    assert float(np.abs(np.asarray(a["theta"])).max()) > 0      # it did learn something


def test_vmapped_theta_plus_equals_separate_networks():
    """The ``theta_plus`` axis of ``train_networks`` trains each value exactly as a separate
    network with that parameter would, and a larger value ends with a larger theta."""
    p = dc.DCParams(n_e=12, n_steps=60, max_tries=2)
    images = jnp.asarray(load_mnist("train", n=4)[0])
    ids = jnp.arange(4, dtype=jnp.uint32)
    seeds = jnp.asarray([5, 5], jnp.uint32)
    st = jax.vmap(lambda s: dc.init(p, s))(seeds)
    both, _, _ = dc.train_networks(p, jnp.full((2,), 32.0), seeds, st, images, ids,
                                   jnp.asarray([0.05, 2.0], jnp.float32))
    for m, tp in enumerate((0.05, 2.0)):
        one = jax.tree.map(lambda a: a[m:m + 1], st)
        alone, _, _ = dc.train_networks(p.replace(theta_plus=tp), jnp.full((1,), 32.0),
                                        seeds[:1], one, images, ids)
        np.testing.assert_allclose(np.asarray(both.w[m]), np.asarray(alone.w[0]), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(np.asarray(both.theta[m]), np.asarray(alone.theta[0]), rtol=1e-6)
    assert float(both.theta[1].max()) > float(both.theta[0].max())


def test_nu_schedule_is_linear_from_one_to_nu_final():
    np.testing.assert_allclose(dc.nu_schedule(np.asarray([0.0, 0.25, 1.0]), 0, 200), [1.0, 1.0, 1.0])
    np.testing.assert_allclose(dc.nu_schedule(np.asarray([0.0, 0.25, 1.0]), 100, 200), [0.5, 0.625, 1.0])
    np.testing.assert_allclose(dc.nu_schedule(np.asarray([0.0, 0.25, 1.0]), 200, 200), [0.0, 0.25, 1.0])
    late = [dc.nu_schedule(0.0, d, 300, start=2 / 3) for d in (0, 150, 200, 250, 300)]
    np.testing.assert_allclose(late, [1.0, 1.0, 1.0, 0.5, 0.0], atol=1e-12)


def test_nu_scale_scales_the_stdp_change():
    """The ``nu_scale`` axis of ``train_networks`` trains each value as a separate network
    with that multiplier on the STDP rates would; 0 leaves the (normalised) weights as they
    were while theta still adapts; 1 is the paper's rule bit for bit."""
    p = dc.DCParams(n_e=12, n_steps=60, max_tries=2)
    images = jnp.asarray(load_mnist("train", n=3)[0])
    ids = jnp.arange(3, dtype=jnp.uint32)
    seeds = jnp.asarray([5, 5, 5], jnp.uint32)
    st = jax.vmap(lambda s: dc.init(p, s))(seeds)
    nus = (0.0, 0.3, 1.0)
    out, _, _ = dc.train_networks(p, jnp.full((3,), 32.0), seeds, st, images, ids, None,
                                  jnp.asarray(nus, jnp.float32))
    for m, nu in enumerate(nus):
        one = jax.tree.map(lambda a: a[m:m + 1], st)
        alone, _, _ = dc.train_networks(p.replace(nu_scale=nu), jnp.full((1,), 32.0), seeds[:1],
                                        one, images, ids)
        np.testing.assert_allclose(np.asarray(out.w[m]), np.asarray(alone.w[0]), rtol=1e-6, atol=1e-7)
    paper, _, _ = dc.train_networks(p, jnp.full((1,), 32.0), seeds[:1],
                                    jax.tree.map(lambda a: a[:1], st), images, ids)
    np.testing.assert_array_equal(np.asarray(out.w[2]), np.asarray(paper.w[0]))
    w0 = np.asarray(st.w[0])
    frozen = w0 * (p.norm_total / w0.sum(0, keepdims=True))
    np.testing.assert_allclose(np.asarray(out.w[0]), frozen, rtol=1e-5)
    assert float(out.theta[0].max()) > p.theta_init                # theta adapted
    d = [float(np.abs(np.asarray(out.w[m]) - frozen).sum()) for m in (1, 2)]
    assert 0 < d[0] < d[1]


@pytest.mark.parametrize("rest", ["reset", "decay"])
def test_dynamics_kernel_in_interpreter_equals_scan(rest):
    """The one-program-per-presentation kernel runs the scan's operations: in the Pallas
    interpreter, networks vmapped over theta_plus learn the same weights and thresholds (and,
    with the decaying rest, carry the same membrane) to the bit, and the frozen responses
    (vmapped over images) are the same counts."""
    images = jnp.asarray(load_mnist("train", n=4)[0])
    ids = jnp.arange(4, dtype=jnp.uint32)
    seeds = jnp.asarray([3, 4], jnp.uint32)
    out = {}
    for dyn in ("scan", "interpret"):
        p = dc.DCParams(n_e=40, n_steps=120, max_tries=3, dynamics=dyn, rest=rest)
        st = jax.vmap(lambda s: dc.init(p, s))(seeds)
        learned, counts, _ = dc.train_networks(p, jnp.full((2,), 32.0), seeds, st, images, ids,
                                               jnp.asarray([0.05, 1.0], jnp.float32))
        frozen = dc.respond_jit(p, jax.tree.map(lambda a: a[0], learned), images, ids, 1)
        out[dyn] = (learned, counts, frozen)
    assert float(out["scan"][1].sum()) > 0
    if rest == "decay":
        assert float(jnp.max(jnp.abs(out["scan"][0].v - p.exc.v_rest))) > 0.1
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(np.asarray(a), np.asarray(b)),
                 out["scan"], out["interpret"])


def test_rest_decay_relaxes_the_membrane():
    """Over the 150 ms rest without conductances the membrane relaxes with the leak alone
    (v_rest + (v - v_rest) e^-1.5, stepped part and closed-form part together); an
    inhibitory conductance left at the end pulls it further down; refractory neurons are held
    at reset while their count runs; nothing fires (a neuron left above threshold included)."""
    p = dc.DCParams(n_e=4, rest="decay")
    v = jnp.asarray([-100.0, -80.0, -40.0, -80.0])
    e = LIFState(v, jnp.zeros(4), jnp.asarray([0.0, 0.0, 0.0, 17.0]), jnp.asarray([0, 0, 0, 0], jnp.int32))
    got = np.asarray(jax.jit(dc._relax)(p, e))
    leak = -65.0 + (np.asarray(v) + 65.0) * np.exp(-150.0 / 100.0)
    np.testing.assert_allclose(got[:3], leak[:3], rtol=1e-5)
    assert got[3] < leak[3] - 1.0
    held = np.asarray(jax.jit(dc._relax)(p, e._replace(v=jnp.full(4, -65.0),
                                                        refractory=jnp.full(4, 8, jnp.int32))))
    np.testing.assert_allclose(held[:3], -65.0, atol=1e-5)
    with pytest.raises(ValueError, match="allowed: 'reset', 'decay'"):
        q = dc.DCParams(n_e=8, n_steps=10, rest="pause")
        dc.present(q, dc.init(q, 0), jnp.zeros(784, jnp.uint8), 0, 0, 0, 0, 2.0, True)


def test_field_sharpness_separates_crisp_from_flat_fields():
    """Crisp fields (all weight on 100 inputs) give a top-100 share of 1, flat ones 100/784;
    theta that rises with the share gives a positive correlation."""
    p = dc.DCParams(n_e=4)
    w = np.full((784, 4), 0.1, np.float32)
    w[:, :2] = 1e-6
    w[:100, :2] = 1.0
    got = dc.field_sharpness(p, dc.DCState(jnp.asarray(w), jnp.asarray([30.0, 29.0, 8.0, 7.0])))
    share = got["top100_share_percentiles"]
    np.testing.assert_allclose([share[0], share[-1]], [100 / 784, 1.0], atol=1e-3)
    assert got["correlation"] > 0.9


def test_dynamics_errors_name_what_is_allowed():
    image = jnp.asarray(load_mnist("train", n=1)[0][0])
    cases = [("kernal", "allowed: 'scan', 'kernel', 'interpret'")]
    if jax.default_backend() != "gpu":
        cases.append(("kernel", "needs a GPU"))
    for dyn, match in cases:
        p = dc.DCParams(n_e=8, n_steps=10, dynamics=dyn)
        with pytest.raises(ValueError, match=match):
            dc.present(p, dc.init(p, 0), image, 0, 0, 0, 0, 2.0, True)
    p = dc.DCParams(n_e=8, n_steps=10, integration="rk4")
    with pytest.raises(ValueError, match="allowed: 'exponential_euler', 'euler'"):
        dc.present(p, dc.init(p, 0), image, 0, 0, 0, 0, 2.0, True)
    with pytest.raises(ValueError, match="n_e <= 32768"):
        dc._kernel_layout(40000, True)


@pytest.mark.gpu
def test_dynamics_kernel_on_gpu_matches_scan():
    """On the GPU the kernel's exp and division may round differently from XLA's, so a
    neuron near threshold can fire a step apart: the spike counts of 20 test images through
    a 400-neuron network agree to within a few percent, image by image in total."""
    images = jnp.asarray(load_mnist("test", n=20)[0])
    ids = jnp.arange(20, dtype=jnp.uint32)
    counts = {}
    for dyn in ("scan", "kernel"):
        p = dc.DCParams(n_e=400, dynamics=dyn)
        counts[dyn] = np.asarray(dc.respond_jit(p, dc.init(p, 0), images, ids, 2)).sum(-1)
    assert counts["scan"].min() >= 5
    np.testing.assert_allclose(counts["kernel"], counts["scan"], rtol=0.1)


@pytest.mark.gpu
def test_split_dynamics_kernel_on_gpu_learns_like_scan():
    """Learning, the kernel splits 1,000 neurons over 4 programs that sum the inhibitory
    spikes at a barrier each step: two networks side by side learn 30 images with spike
    counts, thresholds and weights close to the scan's (a missing or wrong barrier total
    would lift the inhibition and multiply the spikes)."""
    images = jnp.asarray(load_mnist("train", n=30)[0])
    ids = jnp.arange(30, dtype=jnp.uint32)
    seeds = jnp.asarray([0, 1], jnp.uint32)
    out = {}
    for dyn in ("scan", "kernel"):
        p = dc.DCParams(n_e=1000, dynamics=dyn)
        assert dc._kernel_layout(1000, True)[1] == 4
        st = jax.vmap(lambda s: dc.init(p, s))(seeds)
        out[dyn] = dc.train_networks(p, jnp.full((2,), 32.0), seeds, st, images, ids)
    (ws, cs, _), (wk, ck, _) = out["scan"], out["kernel"]
    total_s, total_k = np.asarray(cs).sum(), np.asarray(ck).sum()
    assert total_s > 30 * 2 * 5
    assert abs(total_k - total_s) < 0.1 * total_s
    np.testing.assert_allclose(np.asarray(wk.theta).mean(), np.asarray(ws.theta).mean(), rtol=1e-3)
    assert np.abs(np.asarray(wk.w) - np.asarray(ws.w)).mean() < 0.1 * np.abs(np.asarray(ws.w)).mean()


def test_config_errors():
    from jaxbrain.config import ConfigError
    from jaxbrain.runs import prepare
    with pytest.raises(ConfigError, match="n_train"):
        prepare("mnist_diehl_cook", ["n_train=70000"])
    with pytest.raises(ConfigError, match="allowed: 1, 2, 4, 8"):
        prepare("mnist_diehl_cook", ["qat_bits=[3]"])
    with pytest.raises(ConfigError, match="theta_plus"):
        prepare("mnist_diehl_cook", ["theta_plus=[]"])
    with pytest.raises(ConfigError, match="nu_final"):
        prepare("mnist_diehl_cook", ["nu_final=[-0.5]"])
    with pytest.raises(ConfigError, match="nu_anneal_from"):
        prepare("mnist_diehl_cook", ["nu_anneal_from=1.0"])
