"""Text generation with the spiking LM: prompt in, sampled continuation out, all on device.

``generate_ids`` runs the prompt through the network (a fixed-length scan over the context,
positions past the prompt's length leave the state unchanged, so any prompt length up to the
context compiles once), then a ``lax.scan`` of ``max_new`` steps that samples a token from
the last prediction and feeds it back. The network state of a batch is neuron-major (N, B); sampling is ``jax.vmap``-ed over the batch.
A model made with :func:`jaxbrain.lm.model.with_fused` generates on the fused path
(:func:`jaxbrain.lm.model.gen_token_step`), the fastest for batched generation.
:func:`generate` is the text-level entry point with input checks.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import neuromodulation as nm
from .model import (ALL_MODULATORS, Carry, SpikingLM, gen_token_step, gen_weights,
                    init_carry, init_gen_carry, pad_batch, token_step)
from .modules import LANES, pack_spikes
from .sampling import Sampling, sample
from .tokenizers import UnknownTokenError

__all__ = ["PromptError", "prepare_prompt", "generate_ids", "generate", "LanguageModel"]


class PromptError(ValueError):
    """A prompt that cannot be generated from (empty, unknown symbols)."""


def _select(flag, new: Carry, old: Carry) -> Carry:
    """Per sequence (flag (B,)): the new carry where flag, else the old one (packed spike
    words, (n, B / 32) uint32, bit by bit)."""
    def pick(a, b):
        if a.dtype == jnp.uint32 and a.shape[-1] * LANES == flag.shape[0]:
            m = pack_spikes(flag[None, :])
            return (a & m) | (b & ~m)
        return jnp.where(flag[None, :], a, b)
    neurons = jax.tree_util.tree_map(pick, new.neurons, old.neurons)
    mod = jax.tree_util.tree_map(lambda a, b: jnp.where(flag, a, b), new.mod, old.mod)
    return Carry(neurons, jnp.where(flag[:, None], new.logp, old.logp), mod)


def _run(model: SpikingLM, params, prompts, lengths, key, max_new: int, sampling: Sampling,
         mask):
    """A batch: ``prompts`` (B, C) int32 padded, ``lengths`` (B,) valid tokens (>= 1)."""
    b0 = prompts.shape[0]
    prompts = pad_batch(model, prompts)           # packed spikes: a multiple of 32 sequences
    lengths = jnp.pad(lengths, (0, prompts.shape[0] - b0), constant_values=1)
    b, c = prompts.shape
    if model.fused is not None:
        weights = gen_weights(model, params)          # once per call, outside the scans

        def step(carry, x):
            return gen_token_step(model, params, weights, carry, x, mask)
        carry0 = init_gen_carry(model, b)
    else:
        def step(carry, x):
            return token_step(model, params, carry, x, mask)
        carry0 = init_carry(model, b)

    def feed(carry, xi):
        x, i = xi
        new, _ = step(carry, x)
        return _select(i < lengths, new, carry), None

    carry, _ = jax.lax.scan(feed, carry0, (prompts.T, jnp.arange(c)))

    def gen(carry, k):
        temp_scale = 1.0
        if sampling.ne_explore:
            ent = -jnp.sum(jnp.exp(carry.logp) * carry.logp, axis=-1) / np.log(model.vocab_size)
            temp_scale = jnp.exp(sampling.ne_explore * (2.0 * ent - 1.0) * mask[1])
        keys = jax.vmap(lambda i: jax.random.fold_in(k, i))(jnp.arange(b))
        tok = jax.vmap(lambda kk, lp, ts: sample(kk, lp, sampling, ts))(
            keys, carry.logp, jnp.broadcast_to(jnp.asarray(temp_scale, jnp.float32), (b,)))
        carry, _ = step(carry, tok)
        return carry, tok

    _, toks = jax.lax.scan(gen, carry, jax.random.split(key, max_new))
    return toks.T[:b0]


_CACHE: dict = {}


def _compiled(model: SpikingLM, max_new: int, sampling: Sampling):
    """One jitted generator per (model, length, sampling); the model holds arrays, so it is
    closed over rather than passed as a static argument."""
    key = (id(model), max_new, sampling)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is model:
        return hit[1]

    def run(params, prompts, lengths, key, mask):
        return _run(model, params, prompts, lengths, key, max_new, sampling, mask)
    fn = jax.jit(run)
    _CACHE[key] = (model, fn)
    return fn


def generate_ids(model: SpikingLM, params, prompts, lengths, key, max_new: int,
                 sampling: Sampling = Sampling(), mask=ALL_MODULATORS):
    """Batched generation: ``prompts`` (B, C) int32 (padded), ``lengths`` (B,) -> (B, max_new).

    Sequence b at step t samples with ``fold_in(split(key)[t], b)``."""
    return _compiled(model, int(max_new), sampling)(params, jnp.asarray(prompts, jnp.int32),
                                                   jnp.asarray(lengths, jnp.int32), key,
                                                   jnp.asarray(mask, jnp.float32))


def prepare_prompt(tokenizer, prompt: str, context: int) -> tuple[np.ndarray, int, list[str]]:
    """Encode and check a prompt; returns (padded ids (context,), length, notices).

    Raises :class:`PromptError` for an empty prompt or unknown symbols. A prompt longer than
    the context keeps its last ``context`` tokens and says so in ``notices``."""
    if not prompt or not prompt.strip():
        raise PromptError("the prompt is empty; type some text to continue")
    try:
        ids = tokenizer.encode(prompt)
    except UnknownTokenError as e:
        raise PromptError(str(e)) from None
    if not ids:
        raise PromptError("the prompt encodes to no tokens")
    notices = []
    if len(ids) > context:
        notices.append(f"the prompt has {len(ids)} tokens, more than the context of {context}; "
                       f"only its last {context} tokens are used")
        ids = ids[-context:]
    arr = np.zeros((context,), np.int32)
    arr[:len(ids)] = ids
    return arr, len(ids), notices


def generate(model: SpikingLM, params, tokenizer, prompt: str, max_length: int = 100,
             sampling: Sampling = Sampling(), seed: int = 0, context: int = 256,
             mask=ALL_MODULATORS) -> str:
    """Continue ``prompt`` by ``max_length`` tokens; returns the generated text only."""
    if max_length < 1:
        raise ValueError(f"max_length {max_length} must be >= 1")
    arr, n, _ = prepare_prompt(tokenizer, prompt, context)
    toks = generate_ids(model, params, jnp.asarray(arr)[None], jnp.asarray([n], jnp.int32),
                        jax.random.key(seed), int(max_length), sampling, jnp.asarray(mask))
    return tokenizer.decode(np.asarray(toks[0]).tolist())


class LanguageModel:
    """A trained model bound to its parameters and tokenizer: ``generate(prompt, max_length,
    sampling)`` as in the seeds' API.

    >>> lm = LanguageModel.load("runs/tiny")          # doctest: +SKIP
    >>> lm.generate("ROMEO:\\n", 100, Sampling(0.8, top_k=10))  # doctest: +SKIP
    """

    def __init__(self, model: SpikingLM, params, tokenizer, context: int = 256):
        self.model, self.params, self.tokenizer, self.context = model, params, tokenizer, context

    @classmethod
    def load(cls, run_dir, context: int = 256) -> "LanguageModel":
        from .train import load_run
        model, params, tok, _ = load_run(run_dir)
        return cls(model, params, tok, context)

    def generate(self, prompt: str, max_length: int = 100, sampling: Sampling = Sampling(),
                 seed: int = 0) -> str:
        return generate(self.model, self.params, self.tokenizer, prompt, max_length, sampling,
                        seed, self.context)
