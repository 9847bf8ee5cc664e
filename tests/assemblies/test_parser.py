"""The NEMO English parser: symbolic plan, neural round vs brain.project, neural readout."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain.assemblies import batched as BT
from jaxbrain.assemblies import brain as B
from jaxbrain.assemblies import fibrewise as F
from jaxbrain.assemblies import parser as P


def _plan(sentence, ps=P.ParserSpec()):
    return P.plan([ps.category(w) for w in sentence.split()], ps.project_rounds, ps.grammar)


def test_plan_cats_chase_mice():
    pl = _plan("cats chase mice")
    cats, chase, mice = pl.ops
    # "cats": LEX builds SUBJ (round 1 from LEX only, then SUBJ recurrent + SUBJ -> LEX)
    assert cats[0] == ("project", (("LEX", ("LEX", "SUBJ")),), 1)
    assert cats[1][0] == "project" and ("SUBJ", ("LEX", "SUBJ")) in cats[1][1] and cats[1][2] == 19
    # "chase": SUBJ fires into VERB but LEX does not project into SUBJ: SUBJ is fixed
    assert chase[0] == ("fix", "SUBJ")
    assert ("SUBJ", ("SUBJ", "VERB")) in chase[1][1]
    # "mice": VERB fixed, LEX -> OBJ, VERB -> OBJ
    assert mice[0] == ("fix", "VERB") and ("VERB", ("OBJ", "VERB")) in mice[1][1]
    assert P._readout_order(pl.fired) == (("VERB", ("LEX", "SUBJ", "OBJ")), ("SUBJ", ("LEX",)),
                                          ("OBJ", ("LEX",)))


def test_plan_second_determiner_erases_det():
    pl = _plan("the big dogs chase the bad cats")
    assert pl.ops[4][0] == ("clear", "DET") and pl.ops[5][0] == ("clear", "ADJ")
    order = P._readout_order(pl.fired)
    assert ("SUBJ", ("LEX", "DET", "ADJ")) in order and ("OBJ", ("LEX", "DET", "ADJ")) in order


def test_plan_and_spec_errors():
    with pytest.raises(KeyError, match="unknown category"):
        P.plan(["noun", "verbish"])
    with pytest.raises(KeyError, match="not in the parser's lexicon"):
        P.ParserSpec().word_index("unicorn")
    with pytest.raises(ValueError, match="min_overlap"):
        P.ParserSpec(min_overlap=0.4)
    with pytest.raises(ValueError, match="unknown categories"):
        P.ParserSpec(lexicon=(("x", "pronoun"),))


def test_lex_word_reads_largest_overlap_above_threshold():
    ps = P.ParserSpec()
    spec = P.make_brain_spec(ps)
    st = B.init(spec)
    k, nw = ps.lex_k, len(ps.lexicon)
    f = jax.jit(lambda s: P.lex_word(spec, s, nw, 0.7))
    word3 = 3 * k + np.arange(k)
    other = 7 * k + np.arange(k)
    for n3, want in [(20, 3), (14, 3), (13, -1), (7, -1), (6, 7), (0, 7)]:
        ids = np.concatenate([word3[:n3], other[:k - n3]])
        assert int(f(B.set_winners(spec, st, "LEX", jnp.asarray(ids)))) == want, n3


def _tiny(**kw):
    return P.ParserSpec(**{"n": 2000, "k": 40, "lex_k": 10, "project_rounds": 6,
                           "store_capacity": 4096, **kw})


@pytest.mark.slow
def test_round_matches_brain_project():
    """The per-fibre kernels give exactly brain.project's state (winners and stores)."""
    ps = _tiny()
    spec = P.make_brain_spec(ps)
    st = P.parse(spec, ps, B.init(spec), [3], _plan("cats", ps))   # SUBJ holds an assembly
    st = P._activate_lex(spec, st, jnp.int32(6))
    pm = (("LEX", ("LEX", "VERB")), ("SUBJ", ("SUBJ", "VERB")))
    st = B.fix(st, "SUBJ")
    ref = jax.jit(lambda s: B.project(spec, s, None, {a: list(t) for a, t in pm}))(st)
    got = F.project_round(spec, st, pm, frozenset({"LEX", "SUBJ"}))
    for a in ("LEX", "SUBJ", "VERB"):
        np.testing.assert_array_equal(got.areas[a].winners, ref.areas[a].winners)
    for key in ("LEX->VERB", "SUBJ->VERB", "SUBJ->SUBJ", "LEX->LEX"):
        for x, y in zip(got.stores[key], ref.stores[key]):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.slow
@pytest.mark.parametrize("sentence", ["cats chase mice", "the big dogs chase the bad cats"])
def test_parse_reads_all_dependencies_from_neurons(sentence):
    ps = P.ParserSpec()
    gold = dict(P.TEST_SENTENCES)[sentence]
    r = P.parse_sentences(ps, [sentence])[0]
    assert r["store_dropped"] == 0
    assert P.score(r["dependencies"], gold)["exact"], r["dependencies"]


@pytest.mark.slow
def test_parse_without_plasticity_fails():
    """Negative control: with no learning the readout cannot recover the sentence."""
    ps = P.ParserSpec(default_beta=0.0, lex_beta=0.0, recurrent_beta=0.0, interarea_beta=0.0)
    r = P.parse_sentences(ps, ["cats chase mice"])[0]
    assert not P.score(r["dependencies"], dict(P.TEST_SENTENCES)["cats chase mice"])["exact"]


def _assert_same_tree(got, ref):
    assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(ref)
    for x, y in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(ref)):
        assert np.asarray(x).dtype == np.asarray(y).dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("kcap, hebb_batch", [("top_k", "all"), ("blocks", "shape")])
def test_batched_rounds_equal_per_fibre_rounds(kcap, hebb_batch):
    """batched.project_rounds (the fibres and areas of a round stacked, rounds in a
    fori_loop) equals fibrewise.project_round round by round, leaf by leaf: two computed
    targets of one (n, k) with different numbers of fibres (padded sum), a fixed target
    that only learns, a DET (smaller k) source and target, and Hebbian pair caps small
    enough to drop synapses (counted in ``dropped``)."""
    ps = _tiny(kcap=kcap, k=100)
    spec = P.make_brain_spec(ps)
    st = P.parse(spec, ps, B.init(spec), [0, 10, 2, 6], _plan("the big dogs chase", ps))
    st = B.unfix(B.unfix(st, "SUBJ"), "DET")
    pm = (("DET", ("DET", "SUBJ")), ("LEX", ("LEX", "SUBJ")), ("SUBJ", ("SUBJ", "VERB")),
          ("VERB", ("OBJ", "VERB")))
    fixed, density = frozenset({"LEX", "VERB"}), 0.02
    ref = st
    for _ in range(3):
        ref = F.project_round(spec, ref, pm, fixed, hebb_density=density)
    assert int(ref.stores["SUBJ->SUBJ"].dropped) > int(st.stores["SUBJ->SUBJ"].dropped)

    @jax.jit
    def run(s):
        stk = BT.project_rounds(spec, s, BT.stack(spec, s), pm, 3, fixed, True, density,
                                hebb_batch=hebb_batch)
        return BT.unstack(spec, s, stk)

    _assert_same_tree(run(st), ref)


@pytest.mark.parametrize("sentence, seed, grammar, kcap, hebb_batch", [
    ("cats chase mice", 0, P.ENGLISH, "blocks", "all"),
    ("kota lyubit sobaka", 0, P.RUSSIAN, "top_k", "auto"),
    pytest.param("the big dogs chase the bad cats", 0, P.ENGLISH, "blocks", "all",
                 marks=pytest.mark.slow),
    pytest.param("the big dogs chase the bad cats", 0, P.ENGLISH, "blocks", "auto",
                 marks=pytest.mark.slow),
    pytest.param("cats run quickly", 1, P.ENGLISH, "top_k", "auto", marks=pytest.mark.slow)])
def test_single_program_equals_host_loop(sentence, seed, grammar, kcap, hebb_batch):
    """parse_and_read (parse + readout as one jitted program of batched rounds) gives the
    host-driven path's brain and dependencies bit for bit ("auto" batches the Hebbian
    updates by shape on the CPU; "all" is the accelerators' single padded batch)."""
    ps = _tiny(seed=seed, grammar=grammar, kcap=kcap)
    spec = P.make_brain_spec(ps)
    st0 = B.init(spec)
    idx = [ps.assembly(w) for w in sentence.split()]
    pl = _plan(sentence, ps)
    ref = P.parse(spec, ps, st0, idx, pl)
    ref_deps = P.read_out(spec, ps, ref, pl.fired)
    got, deps, dropped, max_size = P.parse_and_read(spec, ps, st0, idx, pl,
                                                    hebb_batch=hebb_batch)
    assert deps == ref_deps and len(deps) == len(dict(grammar.sentences)[sentence])
    assert dropped == sum(int(s.dropped) for s in ref.stores.values())
    assert max_size == max(int(s.size) for s in ref.stores.values())
    _assert_same_tree(got, ref)


@pytest.mark.slow
def test_parse_many_equals_one_parse_at_a_time():
    """parse_many (every (sentence, seed) pair in its own brain, one vmapped program per
    sentence plan) reads the dependencies that one host-driven parse per pair reads; two
    sentences of one plan share a program, a third plan gets its own; an unknown word stops
    it before any compute."""
    from dataclasses import replace
    ps = _tiny(kcap="blocks")
    sents = ["cats chase mice", "dogs love people", "dogs run"]
    rows = P.parse_many(ps, sents, [3], hebb_batch="all")
    assert [(r["sentence"], r["seed"]) for r in rows] == [(s, 3) for s in sents]
    assert [r["batch"] for r in rows] == [2, 2, 1]
    for r in rows:
        ref = P.parse_sentences(replace(ps, seed=r["seed"]), [r["sentence"]])[0]
        assert r["dependencies"] == ref["dependencies"]
        assert r["store_dropped"] == ref["store_dropped"] == 0
    with pytest.raises(KeyError, match="zebras"):
        P.parse_many(ps, ["zebras chase mice"], [0])


def test_russian_plan_is_free_word_order():
    """Russian: each case-marked noun builds its case area from LEX; the verb fires into the
    case areas wherever it stands; all orders of S, V, O give the same readout schedule."""
    ps = P.ParserSpec(grammar=P.RUSSIAN)
    orders = set()
    for s in ("kot vidit sobaku", "sobaku vidit kot", "vidit kot sobaku", "kot sobaku vidit"):
        pl = _plan(s, ps)
        orders.add(P._readout_order(pl.fired, P.RUSSIAN.readout))
    assert orders == {(("VERB", ("LEX", "NOM", "ACC")), ("NOM", ("LEX",)), ("ACC", ("LEX",)))}
    assert ps.assembly("kota") == ps.assembly("kot") == ps.assembly("kotu")
    assert ps.word_of(ps.assembly("sobaku")) == "sobaka" and ps.word_of(-1) is None
    with pytest.raises(ValueError, match="unknown categories"):
        P.ParserSpec(grammar=P.RUSSIAN, lexicon=(("cats", "noun"),))


@pytest.mark.parametrize("sentences", [
    ("sobaku vidit kot", "kota lyubit sobaka"),
    pytest.param(tuple(s for s, _ in P.RUSSIAN_SENTENCES), marks=pytest.mark.slow)])
def test_russian_parse_reads_case_roles_from_neurons(sentences):
    """Full-size Russian parser (reference sizes): the roles follow the case endings, not
    the word order, and every dependency is read from the neurons."""
    gold = dict(P.RUSSIAN_SENTENCES)
    for r in P.parse_sentences(P.ParserSpec(grammar=P.RUSSIAN), sentences):
        assert r["store_dropped"] == 0
        assert P.score(r["dependencies"], gold[r["sentence"]])["exact"], r
