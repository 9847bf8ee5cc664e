"""The seed workload under the block connectivity law (brain.project with BrainSpec.law)
and in lazy mode (at n = 1e9 with n-independent state)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain.assemblies import brain as B
from jaxbrain.assemblies import seed_workload as sw

N = 3_000


def _sources(spec, s, noun=1, verb=2):
    s = B.activate(spec, s, "PHON_N", noun)
    s = B.activate(spec, s, "VIS_IN", noun)
    s = B.activate(spec, s, "PHON_V", sw.N_NOUNS + verb)
    return B.activate(spec, s, "MOT_IN", verb)


def _leaves_equal(a, b):
    return all(np.array_equal(x, y) for x, y in
               zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


def test_block_law_learns_and_is_deterministic():
    spec = sw.make_spec(N, store_capacity=2**11, law="block", kcap="blocks")
    s0 = _sources(spec, B.init(spec))
    run = jax.jit(lambda s: B.project(spec, s, None, sw._STEPS[0]))
    a, b = run(s0), run(s0)
    assert _leaves_equal(a, b)
    w_block = np.asarray(a.areas["LEX1"].winners)
    assert len(np.unique(w_block)) == 50 and w_block.max() < N
    # Hebbian updates recorded exactly the block-law synapses between the winners
    from jaxbrain import sparse_delta as sd
    from jaxbrain.assemblies import implicit
    pre, post, d = sd.to_numpy(a.stores["PHON_N->LEX1"])
    f = spec.fibre("PHON_N", "LEX1")
    src = np.asarray(s0.areas["PHON_N"].winners)
    ones = jnp.ones(50, bool)
    assert not np.array_equal(implicit.area_input(spec.seed, f.fid, f.p, src, ones, N),
                              implicit.block_area_input(spec.seed, f.fid, f.p, src, ones, N))
    conn = np.asarray(implicit.block_connected(spec.seed, f.fid, f.p, src[:, None], w_block[None, :]))
    assert len(pre) == conn.sum() and np.allclose(d, 0.1)
    assert np.all(np.asarray(implicit.block_connected(spec.seed, f.fid, f.p, pre, post)))


def test_lazy_workload_runs_at_1e9_with_state_independent_of_n():
    nbytes = lambda st: sum(x.nbytes for x in jax.tree_util.tree_leaves(st))  # noqa: E731
    small = nbytes(sw.lazy_init(sw.make_lazy_spec(10**5), 400))
    spec = sw.make_lazy_spec(10**9)
    st = jax.jit(lambda s: sw.lazy_sentence(spec, s, 1, 2, rounds=1))(sw.lazy_init(spec, 400))
    assert nbytes(st) == small
    assert all(int(v.overflow) == 0 for v in st.areas.values())
    for a in ("LEX1", "LEX2", "VIS", "MOT"):
        w = np.asarray(st.areas[a].winners)
        assert int(st.areas[a].n_winners) == 50 and len(np.unique(w)) == 50
        assert int(st.areas[a].w) >= 50
    with pytest.raises(ValueError, match="capacity"):
        sw.lazy_init(sw.make_lazy_spec(10**5), 100)


@pytest.mark.slow  # GPU code paths run on the CPU; the GPU runs check them too
def test_lazy_workload_same_on_the_gpu_paths(monkeypatch):
    """The GPU's sort-free paths (rank k-cap, rank source choice) give the same brain as the
    CPU's sorts: traced once as on the CPU, once as if the backend were a GPU."""
    spec = sw.make_lazy_spec(10**5)
    nouns, verbs = jnp.asarray([0, 1, 2, 3, 1]), jnp.asarray([2, 0, 1, 1, 0])
    cpu = sw.lazy_train(spec, sw.lazy_init(spec, 400), nouns, verbs)
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    gpu = sw.lazy_train(spec, sw.lazy_init(spec, 400), nouns, verbs)
    for a, b in zip(jax.tree.leaves(cpu), jax.tree.leaves(gpu)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(cpu.areas["LEX1"].w) >= 4 * 50          # the nouns' assemblies formed
