"""The implicit NEMO brain: learned weights are read back, plasticity / fix / inhibit, synchrony."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain import sparse_delta as sd
from jaxbrain.assemblies import brain as B
from jaxbrain.assemblies import implicit
from jaxbrain.assemblies.kcap import k_cap

N, K = 20_000, 100


def _spec(**kw):
    base = dict(areas=(B.Area("A", N, K, 0.1), B.Area("B", N, K, 0.1)),
                stimuli=(B.Stimulus("s", K),), p=0.05, store_capacity=2**14, seed=3)
    base.update(kw)
    return B.BrainSpec(**base)


@pytest.fixture(scope="module")
def trained():
    """A brain whose area A holds an assembly of stimulus s after 10 rounds."""
    b = B.Brain(_spec())
    b.project({"s": ["A"]})
    first = b.winners("A")
    supports = [b.support("A")]
    for _ in range(10):
        b.project({"s": ["A"]}, {"A": ["A"]})
        supports.append(b.support("A"))
    return b, first, supports


def _empty_stores(state):
    return state._replace(stores={k: sd.init(s.capacity) for k, s in state.stores.items()})


def test_projection_converges(trained):
    b, _, w = trained
    inc = np.diff(w)
    assert w[0] == K and w[-1] > w[0]
    assert inc[-3:].max() <= K // 20, w   # support stops growing: the assembly is stable


def test_learned_weights_are_read_back(trained):
    b, first, _ = trained
    spec, st = b.spec, b.state
    f = jax.jit(lambda s: B.area_inputs(spec, s, {"s": ["A"]}, {"A": ["A"]})["A"])
    x = np.asarray(f(st))
    x0 = np.asarray(f(_empty_stores(st)))
    # the difference is exactly what the stores hold
    exp = np.zeros(N)
    win = set(b.winners("A").tolist())
    pre, post, d = sd.to_numpy(st.stores["A->A"])
    for i, j, v in zip(pre, post, d):
        if i in win:
            exp[j] += v
    c = np.asarray(implicit.stim_counts(spec.seed, spec.fibre("s", "A").fid, K, 0.05, N))
    _, post, d = sd.to_numpy(st.stores["s->A"])
    exp[post] += c[post] * d
    assert np.abs(exp).sum() > 0
    assert np.allclose(x - x0, exp, rtol=1e-4, atol=1e-3)


def test_learning_changes_later_projections(trained):
    """With plasticity off, stimulus s alone recalls the learned assembly; with the learned
    weights removed it gives the untrained first-step winners again."""
    b, first, _ = trained
    assembly = b.winners("A")
    spec = b.spec
    g = jax.jit(lambda s: B.project(spec, B.set_plasticity(B.clear(spec, s, "A"), False),
                                    {"s": ["A"]}))
    learned = np.asarray(g(b.state).areas["A"].winners)
    blank = np.asarray(g(_empty_stores(b.state)).areas["A"].winners)
    assert np.array_equal(blank, first)
    assert B.overlap(learned, assembly) >= 0.9 * K
    assert B.overlap(blank, assembly) < B.overlap(learned, assembly) - 0.1 * K


def test_plasticity_off_fix_and_inhibit(trained):
    b, _, _ = trained
    spec, st = b.spec, b.state
    step = jax.jit(lambda s: B.project(spec, s, {"s": ["A"]}, {"A": ["A"]}))
    off = step(B.set_plasticity(st, False))
    for k in st.stores:
        assert int(off.stores[k].size) == int(st.stores[k].size)
        assert np.array_equal(np.asarray(off.stores[k].delta), np.asarray(st.stores[k].delta))
    fixed = step(B.fix(B.set_winners(spec, st, "A", jnp.arange(K)), "A"))
    assert np.array_equal(np.asarray(fixed.areas["A"].winners), np.arange(K))
    assert int(fixed.stores["A->A"].size) > int(st.stores["A->A"].size)  # still learns
    inh = step(B.inhibit(st, "A"))
    assert np.array_equal(np.asarray(inh.areas["A"].winners), np.asarray(st.areas["A"].winners))
    no_fibre = B.inhibit_fibre(B.set_plasticity(st, False), "A", "A")
    only_stim = step(no_fibre)
    x = B.area_inputs(spec, st, {"s": ["A"]})["A"]
    assert np.array_equal(np.asarray(only_stim.areas["A"].winners), np.asarray(k_cap(x, K)))


def test_weights_saturate_at_w_max():
    spec = _spec()
    b = B.Brain(spec)
    b.set_w_max(2.0)
    b.set_beta("s", "A", 0.5)
    b.set_beta("A", "A", 0.5)
    b.project({"s": ["A"]})
    for _ in range(5):
        b.project({"s": ["A"]}, {"A": ["A"]})
    d = sd.to_numpy(b.state.stores["A->A"])[2]
    assert d.max() == pytest.approx(1.0) and d.min() >= 0.5 - 1e-6
    w = B.fibre_weights(spec, b.state, "A", "A", b.winners("A"), b.winners("A"))
    assert float(jnp.max(w)) == pytest.approx(2.0)


def test_synchronous_multi_target(trained):
    b, _, _ = trained
    spec = b.spec
    st = B.set_winners(spec, b.state, "B", jnp.arange(1000, 1000 + K))
    inputs = B.area_inputs(spec, st, None, {"A": ["B"], "B": ["A"]})
    new = jax.jit(lambda s: B.project(spec, s, None, {"A": ["B"], "B": ["A"]}))(st)
    for t in ("A", "B"):
        assert np.array_equal(np.asarray(new.areas[t].winners), np.asarray(k_cap(inputs[t], K)))


def test_spec_errors_name_the_problem():
    with pytest.raises(ValueError, match="0 < k < n"):
        B.BrainSpec(areas=(B.Area("A", 10, 20),))
    with pytest.raises(ValueError, match="source 'X'"):
        B.BrainSpec(areas=(B.Area("A", 100, 10),), fibres=(B.Fibre("X", "A"),))
    with pytest.raises(KeyError, match="not a stimulus"):
        B.project(_spec(), B.init(_spec()), {"A": ["A"]})


def test_per_fibre_store_capacity():
    spec = B.BrainSpec(areas=(B.Area("A", 100, 10), B.Area("C", 100, 10)),
                       fibres=(B.Fibre("A", "C", capacity=64), B.Fibre("C", "A")),
                       store_capacity=256)
    st = B.init(spec)
    assert st.stores["A->C"].capacity == 64 and st.stores["C->A"].capacity == 256
    with pytest.raises(ValueError, match="capacity"):
        B.BrainSpec(areas=(B.Area("A", 100, 10),), fibres=(B.Fibre("A", "A", capacity=0),))
