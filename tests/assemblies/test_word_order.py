"""Word order (word_order_int.py semantics): schedule, and learning an order from sentences."""

import pytest

from jaxbrain.assemblies import word_order as W


def test_training_map_links_previous_constituent_only_early():
    m0 = dict(W.training_map("V", 0, False, "S", 2))
    assert m0["SYNTAX_subject"] == ("TPJ_action_helper",)          # S -> V transition
    assert "SYNTAX_verb" not in m0                                 # no recurrence at t = 0
    assert m0["MOOD"] == ("SYNTAX_verb",)                          # not the first word
    m3 = dict(W.training_map("V", 3, False, "S", 2))
    assert "SYNTAX_subject" not in m3 and m3["SYNTAX_verb"] == ("SYNTAX_verb",)
    first = dict(W.training_map("S", 0, True, None, 2))
    assert first["MOOD"] == ("SYNTAX_subject", "TPJ_agent_helper")  # MOOD picks the first


def test_spec_validation():
    with pytest.raises(ValueError, match="permutation"):
        W.WordOrderSpec(orders=("SVV",))
    with pytest.raises(ValueError, match="nouns"):
        W.WordOrderSpec(num_nouns=1)
    spec = W.make_brain_spec(W.WordOrderSpec())
    assert spec.fibre("SYNTAX_subject", "TPJ_action_helper") and len(spec.all_fibres()) == 33


@pytest.mark.slow
@pytest.mark.parametrize("order", ["SVO", "SOV"])
def test_learns_and_generates_order(order):
    ws = W.WordOrderSpec(orders=(order,), n=20_000, store_capacity=2**17)
    r = W.run_trial(ws, num_train=8, num_generate=4)
    h = r["history"][-1]
    assert h["fraction_correct"][order] >= 0.75, h


@pytest.mark.slow
def test_no_learning_no_order():
    ws = W.WordOrderSpec(orders=("SOV",), n=20_000, beta=0.0, store_capacity=2**12)
    r = W.run_trial(ws, num_train=3, num_generate=4)
    assert r["history"][-1]["fraction_correct"]["SOV"] < 1.0


@pytest.mark.slow  # the parser's program path is checked the same way in the default suite
def test_single_program_equals_host_loop():
    """A training sentence and generation as one jitted program each give the host-driven
    path's brain (bit for bit) and generated orders."""
    import jax
    import numpy as np
    from jaxbrain.assemblies import brain as B
    ws = W.WordOrderSpec(orders=("SOV",), n=2000, k=20, explicit_k=20, store_capacity=2**12,
                         training_rounds=3, previous_rounds=0, role_firings=0,
                         generation_firings=2, seed=1)   # few distinct rounds: fast compile
    spec = W.make_brain_spec(ws)
    st0 = B.init(spec)
    ref = W.train_sentence(spec, ws, st0, 0, 1, 1, host_loop=True)
    got = W.train_sentence(spec, ws, st0, 0, 1, 1, host_loop=False)
    assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(ref)
    for x, y in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(ref)):
        assert np.asarray(x).dtype == np.asarray(y).dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    for args in [(0, 1, 0), (1, 0, 1)]:
        assert W.generate(spec, ws, got, *args, host_loop=False) == W.generate(
            spec, ws, ref, *args, host_loop=True)
