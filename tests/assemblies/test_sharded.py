"""Sharded NEMO areas: local top-k candidates + one global k-cap give the one-device winners,
stores and supports exactly, on 1, 2, 4 and 8 forced CPU devices."""

import jax
import numpy as np
import pytest

from jaxbrain import sharding
from jaxbrain.assemblies import brain as B
from jaxbrain.assemblies import sharded

N, K = 4096, 32


def _spec():
    return B.BrainSpec(areas=(B.Area("A", N, K, 0.1), B.Area("B", N, K, 0.1)),
                       stimuli=(B.Stimulus("s", K),), p=0.05, store_capacity=2**13, seed=7)


# stimulus, recurrent, inter-area and reciprocal projections, with learning (the reads of
# learned weights on other devices' targets are what the sharding must get right)
SCHEDULE = [({"s": ["A"]}, None)] * 2 + [({"s": ["A"]}, {"A": ["A"]})] * 3 + \
           [(None, {"A": ["B"]}), (None, {"A": ["B"], "B": ["A", "B"]}), (None, {"B": ["A", "B"]})] * 2


def _run(project):
    spec = _spec()
    st = B.init(spec)
    out, fns = [], {}
    for stim, areas in SCHEDULE:
        key = repr((stim, areas))
        if key not in fns:
            fns[key] = jax.jit(lambda s, stim=stim, areas=areas: project(spec, s, stim, areas))
        st = fns[key](st)
        out.append({a: np.asarray(st.areas[a].winners) for a in ("A", "B")})
    return st, out


@pytest.fixture(scope="module")
def reference():
    return _run(B.project)


@pytest.mark.parametrize("n_dev", [pytest.param(n, marks=pytest.mark.slow) for n in (1, 2, 4)] + [8])
def test_sharded_projection_equals_one_device(reference, n_dev):
    ref_state, ref_win = reference
    mesh = sharding.make_mesh(n_dev, axis="neurons")
    st, win = _run(lambda spec, s, stim, areas: sharded.project(spec, s, mesh, stim, areas))
    for r, w in zip(ref_win, win):
        for a in r:
            np.testing.assert_array_equal(w[a], r[a])
    for key, store in ref_state.stores.items():
        for field in ("pre", "post", "delta", "size", "dropped"):
            np.testing.assert_array_equal(np.asarray(getattr(st.stores[key], field)),
                                          np.asarray(getattr(store, field)), err_msg=f"{key}.{field}")
    for a in ("A", "B"):
        assert int(st.areas[a].support) == int(ref_state.areas[a].support)
    assert int(ref_state.stores["A->B"].size) > 0 and int(ref_state.stores["A->A"].size) > 0  # learned


def test_indivisible_area_is_refused():
    spec = B.BrainSpec(areas=(B.Area("A", 1001, 10),), stimuli=(B.Stimulus("s", 10),), p=0.05)
    mesh = sharding.make_mesh(2, axis="neurons")
    with pytest.raises(ValueError, match="multiple of the 2 devices"):
        sharded.project(spec, B.init(spec), mesh, {"s": ["A"]})
