"""The fused generation path (jaxbrain.lm.model.with_fused) against the dense reference.

On the CPU, XLA's dot sums the dense gather's slots in order, as the fused path does, so the
two agree bit for bit: input currents, network state, log-probabilities and tokens."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxbrain.lm.generate import generate, generate_ids
from jaxbrain.lm.model import (gen_token_step, gen_weights, generation_nll, init_carry,
                               init_gen_carry, init_params, make_model, token_step,
                               with_events, with_fused)
from jaxbrain.lm.modules import (MODULES, BrainSpec, _gather_input, build_connectivity,
                                 fused_input, local_sources, rounded)
from jaxbrain.lm.sampling import Sampling


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_fused_input_matches_dense_gather(dtype):
    spec = BrainSpec.scale("tiny")
    conn = build_connectivity(spec)
    key = jax.random.key(0)
    ws = tuple(jax.random.normal(jax.random.fold_in(key, i), i_.shape)
               for i, i_ in enumerate(conn.idx))
    s = jax.random.uniform(jax.random.fold_in(key, 9), (spec.n, 7)) < 0.2
    src = local_sources(spec, conn)

    def fused(ws, s):
        parts = tuple(s[spec.offset(m):spec.offset(m) + spec.size(m)] for m in MODULES)
        wt = [rounded(w, dtype).T for w in ws]   # (a cast pair would be removed by XLA on the GPU)
        return jnp.concatenate([fused_input(spec, t, wt[t], src[t], parts)
                                for t in range(len(MODULES))])
    ref = jax.jit(lambda w, s: _gather_input(w, conn.idx, s.astype(jnp.float32), dtype))(ws, s)
    got = jax.jit(fused)(ws, s)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(ref))


@pytest.mark.parametrize("dtype,feedforward", [("float32", "pipelined"),
                                               ("bfloat16", "pipelined"),
                                               ("float32", "sequential")])
def test_gen_token_step_matches_token_step(dtype, feedforward):
    """Teacher-forced from rest: the same spikes and log-probabilities bit for bit, and the
    same membrane state to float32 rounding (on some CPUs XLA rounds the two paths' sums
    differently: 1-2 ulp in a few of the 2,720 potentials)."""
    spec = BrainSpec.scale("tiny", feedforward=feedforward)
    model = make_model(spec, 30, dtype)
    fm = with_fused(model)
    params = init_params(model, jax.random.key(0))
    x = jnp.asarray(np.random.default_rng(1).integers(0, 30, (10, 5)), jnp.int32)   # (T, B)

    def ref(p, x):
        return jax.lax.scan(lambda c, t: token_step(model, p, c, t), init_carry(model, 5), x)

    def new(p, x):
        w = gen_weights(fm, p)
        return jax.lax.scan(lambda c, t: gen_token_step(fm, p, w, c, t),
                            init_gen_carry(fm, 5), x)
    (c0, l0), (c1, l1) = jax.jit(ref)(params, x), jax.jit(new)(params, x)
    np.testing.assert_array_equal(np.asarray(l1), np.asarray(l0))
    for f in ("v", "a", "s"):
        full = np.asarray(getattr(c0.neurons, f))
        got = np.concatenate([np.asarray(q) for q in getattr(c1.neurons, f)]).astype(np.float32)
        if f == "s":
            np.testing.assert_array_equal(got, full)
        else:
            np.testing.assert_allclose(got, full, rtol=1e-5, atol=1e-5)
    b0 = spec.offset("broca")
    np.testing.assert_array_equal(np.asarray(c1.neurons.z),
                                  np.asarray(c0.neurons.z)[b0:b0 + spec.out_dim])
    assert 0 < float(np.mean(np.asarray(c0.neurons.s))) < 0.5      # the network is active
    np.testing.assert_array_equal(np.asarray(c1.mod.baseline), np.asarray(c0.mod.baseline))


@pytest.mark.slow  # the fused XLA path is an alternative to the kernel path (checked by default)
def test_generation_same_tokens_and_loss():
    """Sampled and top-k generation with prompts of different lengths, and the teacher-forced
    loss through each path's generation step."""
    spec = BrainSpec.scale("tiny", substeps=3)
    model = make_model(spec, 40)
    fm = with_fused(model)
    params = init_params(model, jax.random.key(2))
    rs = np.random.default_rng(0)
    prompts = jnp.asarray(rs.integers(0, 40, (6, 4)), jnp.int32)
    lengths = jnp.asarray([1, 4, 2, 3, 4, 1], jnp.int32)
    for smp in (Sampling(1.0), Sampling(0.8, top_k=5)):
        t0 = generate_ids(model, params, prompts, lengths, jax.random.key(3), 12, smp)
        t1 = generate_ids(fm, params, prompts, lengths, jax.random.key(3), 12, smp)
        np.testing.assert_array_equal(np.asarray(t1), np.asarray(t0))
    x = jnp.asarray(rs.integers(0, 40, (3, 9)), jnp.int32)
    nll = [jax.jit(lambda p, x, m=m: generation_nll(m, p, x[:, :-1], x[:, 1:]))(params, x)
           for m in (model, fm)]
    np.testing.assert_array_equal(np.asarray(nll[1]), np.asarray(nll[0]))
    assert np.all(np.asarray(nll[0]) > 0)


@pytest.mark.slow
def test_fused_text_generation_and_switches():
    from jaxbrain.lm.tokenizers import CharTokenizer
    tok = CharTokenizer("abcdefgh \n")
    model = make_model(BrainSpec.scale("tiny", substeps=2), tok.vocab_size)
    params = init_params(model, jax.random.key(0))
    fm = with_fused(model)
    assert fm.fused is not None and fm.events is None
    assert with_fused(fm, False).fused is None
    assert with_events(fm, (0, 40, 20, 20, 20, 10)).fused is None
    assert with_fused(with_events(model, (0, 40, 20, 20, 20, 10))).events is None
    a = generate(model, params, tok, "abc", 20, Sampling(0.9), seed=4)
    b = generate(fm, params, tok, "abc", 20, Sampling(0.9), seed=4)
    assert a == b and len(b) == 20


@pytest.mark.slow  # the packed path is not the default (1.3x slower on the H100)
def test_packed_spikes_same_results():
    """Spikes packed 32 columns to a word: the same tokens and loss (the batch of 5 is padded
    to 32 inside and cut back)."""
    from jaxbrain.lm.modules import pack_spikes, unpack_spikes
    s = np.random.default_rng(0).random((7, 64)) < 0.3
    np.testing.assert_array_equal(np.asarray(unpack_spikes(pack_spikes(jnp.asarray(s)))), s)
    spec = BrainSpec.scale("tiny", substeps=3)
    model = make_model(spec, 40)
    params = init_params(model, jax.random.key(2))
    fm, pm = with_fused(model), with_fused(model, packed=True)
    assert pm.packed and not with_fused(pm, False).packed
    rs = np.random.default_rng(1)
    prompts = jnp.asarray(rs.integers(0, 40, (5, 3)), jnp.int32)
    lengths = jnp.asarray([1, 3, 2, 3, 1], jnp.int32)
    t = [np.asarray(generate_ids(m, params, prompts, lengths, jax.random.key(3), 10,
                                 Sampling(1.0))) for m in (fm, pm)]
    assert t[1].shape == (5, 10)
    np.testing.assert_array_equal(t[1], t[0])
    x = jnp.asarray(rs.integers(0, 40, (3, 9)), jnp.int32)
    nll = [jax.jit(lambda p, x, m=m: generation_nll(m, p, x[:, :-1], x[:, 1:]))(params, x)
           for m in (fm, pm)]
    assert nll[1].shape == (3,)
    np.testing.assert_array_equal(np.asarray(nll[1]), np.asarray(nll[0]))
    with pytest.raises(ValueError, match="multiple of 32"):
        init_gen_carry(pm, 5)


def test_kernel_path_same_results():
    """The fused path with each module's substep as one Pallas kernel (run by the Pallas
    interpreter here): the same tokens and teacher-forced loss as the XLA fused path."""
    spec = BrainSpec.scale("tiny", substeps=2)
    model = make_model(spec, 40)
    params = init_params(model, jax.random.key(2))
    fm, km = with_fused(model), with_fused(model, kernel=True)
    assert km.kernel and not with_fused(km, False).kernel
    with pytest.raises(ValueError, match="exclude each other"):
        with_fused(model, packed=True, kernel=True)
    rs = np.random.default_rng(1)
    prompts = jnp.asarray(rs.integers(0, 40, (4, 3)), jnp.int32)
    lengths = jnp.asarray([1, 3, 2, 3], jnp.int32)
    t = [np.asarray(generate_ids(m, params, prompts, lengths, jax.random.key(3), 6,
                                 Sampling(1.0))) for m in (fm, km)]
    np.testing.assert_array_equal(t[1], t[0])
    x = jnp.asarray(rs.integers(0, 40, (2, 5)), jnp.int32)
    nll = [jax.jit(lambda p, x, m=m: generation_nll(m, p, x[:, :-1], x[:, 1:]))(params, x)
           for m in (fm, km)]
    np.testing.assert_array_equal(np.asarray(nll[1]), np.asarray(nll[0]))
