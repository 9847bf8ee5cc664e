"""Baselines trained on the same tokens as the spiking LM: uniform, unigram, bigram, GRU and
a small causal transformer, the last two sized to the spiking model's parameter count.

Count models are closed form (add-``alpha`` smoothing fitted on training tokens). The GRU and
the transformer are plain JAX, trained with the same optimiser, batches, sequence length
and number of steps as the spiking model, and evaluated on the same validation windows (each
window starts from an empty context, like the spiking model).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["uniform_nll", "unigram", "bigram", "bigram_nll", "bigram_argmax", "NeuralBaseline", "gru_baseline",
           "transformer_baseline", "size_to_params", "count_params"]


def uniform_nll(vocab: int) -> float:
    return float(np.log(vocab))


def unigram(train_ids: np.ndarray, vocab: int, alpha: float = 1.0) -> np.ndarray:
    """Log-probabilities (V,) of the add-alpha unigram."""
    c = np.bincount(train_ids, minlength=vocab).astype(np.float64) + alpha
    return np.log(c / c.sum())


def bigram(train_ids: np.ndarray, vocab: int, alpha: float = 0.1) -> np.ndarray:
    """Log-probabilities (V, V) of the add-alpha bigram, row = previous token.

    For large vocabularies (V > 8192) a dense table is too big; use :func:`bigram_nll`."""
    c = np.zeros((vocab, vocab), np.float64)
    np.add.at(c, (train_ids[:-1], train_ids[1:]), 1.0)
    c += alpha
    return np.log(c / c.sum(axis=1, keepdims=True))


def _pair_counts(train_ids, vocab):
    """Sparse bigram counts: the distinct keys ``prev * vocab + next`` (int64, sorted) of
    consecutive training tokens and how often each occurs."""
    return np.unique(train_ids[:-1].astype(np.int64) * vocab + train_ids[1:], return_counts=True)


def bigram_nll(train_ids, vocab, x, y, alpha: float = 0.1, first_logp=None):
    """Per-position NLL of windows (x, y) under the add-alpha bigram (sparse counts, any V).
    The first position of each window has no previous token inside the window: it uses the
    previous token anyway (x[:, 0]) - the bigram needs one token of context, as does every
    model here (they all predict y[t] after reading x[t])."""
    uniq, cnt = _pair_counts(train_ids, vocab)
    row = np.bincount(train_ids[:-1], minlength=vocab).astype(np.float64)
    q = x.astype(np.int64) * vocab + y
    pos = np.searchsorted(uniq, q)
    pos = np.minimum(pos, len(uniq) - 1)
    num = np.where(uniq[pos] == q, cnt[pos], 0) + alpha
    return -np.log(num / (row[x] + alpha * vocab))


def bigram_argmax(train_ids, vocab) -> np.ndarray:
    """The add-alpha bigram's most likely next token after each token, int64 (V,), from sparse
    counts (any V): the most frequent successor, ties to the lowest id, and token 0 after a
    token never seen as a predecessor (the dense table's ``argmax`` of every row)."""
    uniq, cnt = _pair_counts(train_ids, vocab)
    p, n = uniq // vocab, uniq % vocab
    order = np.lexsort((n, -cnt, p))               # by prev, then most counts, then lowest id
    first = np.ones(len(order), bool)
    first[1:] = p[order][1:] != p[order][:-1]
    best = np.zeros(vocab, np.int64)
    best[p[order][first]] = n[order][first]
    return best


def count_params(params) -> int:
    return int(sum(np.prod(p.shape) for p in jax.tree_util.tree_leaves(params)))


class NeuralBaseline(NamedTuple):
    """``init(key) -> params``; ``apply(params, x (T,)) -> logits (T, V)``."""
    name: str
    init: Callable
    apply: Callable
    width: int


# ---- GRU ---------------------------------------------------------------------------------

def _gru(vocab: int, hidden: int, emb: int) -> NeuralBaseline:
    def init(key):
        k = jax.random.split(key, 4)
        s = 1.0 / math.sqrt(hidden)
        return {"emb": jax.random.normal(k[0], (vocab, emb)) * 0.3,
                "wx": jax.random.normal(k[1], (emb, 3 * hidden)) / math.sqrt(emb),
                "wh": jax.random.normal(k[2], (hidden, 3 * hidden)) * s,
                "b": jnp.zeros((3 * hidden,)),
                "wo": jax.random.normal(k[3], (hidden, vocab)) * s, "bo": jnp.zeros((vocab,))}

    def apply(p, x):
        xs = p["emb"][x] @ p["wx"] + p["b"]

        def step(h, xt):
            hh = h @ p["wh"]
            r = jax.nn.sigmoid(xt[:hidden] + hh[:hidden])
            z = jax.nn.sigmoid(xt[hidden:2 * hidden] + hh[hidden:2 * hidden])
            n = jnp.tanh(xt[2 * hidden:] + r * hh[2 * hidden:])
            h = (1 - z) * n + z * h
            return h, h
        _, hs = jax.lax.scan(step, jnp.zeros((hidden,)), xs)
        return hs @ p["wo"] + p["bo"]
    return NeuralBaseline("gru", init, apply, hidden)


def _gru_params(vocab, h):
    e = min(h, 64)
    return vocab * e + e * 3 * h + h * 3 * h + 3 * h + h * vocab + vocab


def gru_baseline(vocab: int, n_params: int) -> NeuralBaseline:
    """A GRU whose parameter count is closest to ``n_params`` (embedding width min(H, 64))."""
    h = size_to_params(lambda h: _gru_params(vocab, h), n_params)
    return _gru(vocab, h, min(h, 64))


# ---- transformer -------------------------------------------------------------------------

def _transformer(vocab: int, d: int, layers: int, heads: int, context: int) -> NeuralBaseline:
    def init(key):
        ks = jax.random.split(key, 3 + 4 * layers)
        p = {"emb": jax.random.normal(ks[0], (vocab, d)) * 0.02,
             "pos": jax.random.normal(ks[1], (context, d)) * 0.02, "blocks": [],
             "lnf": jnp.ones((d,)), "wo": jax.random.normal(ks[2], (d, vocab)) * 0.02}
        for i in range(layers):
            k = ks[3 + 4 * i:7 + 4 * i]
            p["blocks"].append({
                "ln1": jnp.ones((d,)), "ln2": jnp.ones((d,)),
                "qkv": jax.random.normal(k[0], (d, 3 * d)) * 0.02,
                "proj": jax.random.normal(k[1], (d, d)) * 0.02 / math.sqrt(2 * layers),
                "fc": jax.random.normal(k[2], (d, 4 * d)) * 0.02,
                "fc2": jax.random.normal(k[3], (4 * d, d)) * 0.02 / math.sqrt(2 * layers)})
        return p

    def ln(x, g):
        mu = jnp.mean(x, -1, keepdims=True)
        var = jnp.var(x, -1, keepdims=True)
        return (x - mu) / jnp.sqrt(var + 1e-5) * g

    def apply(p, x):
        t = x.shape[0]
        h = p["emb"][x] + p["pos"][:t]
        causal = jnp.tril(jnp.ones((t, t), bool))
        for b in p["blocks"]:
            q, k, v = jnp.split(ln(h, b["ln1"]) @ b["qkv"], 3, axis=-1)
            q, k, v = (a.reshape(t, heads, d // heads).transpose(1, 0, 2) for a in (q, k, v))
            att = jnp.einsum("htd,hsd->hts", q, k) / math.sqrt(d // heads)
            att = jnp.where(causal[None], att, -1e9)
            o = jnp.einsum("hts,hsd->htd", jax.nn.softmax(att, -1), v)
            h = h + o.transpose(1, 0, 2).reshape(t, d) @ b["proj"]
            h = h + jax.nn.gelu(ln(h, b["ln2"]) @ b["fc"]) @ b["fc2"]
        return ln(h, p["lnf"]) @ p["wo"]
    return NeuralBaseline("transformer", init, apply, d)


def _tf_params(vocab, d, layers, context):
    return vocab * d + context * d + d + d * vocab + layers * (2 * d + 3 * d * d + d * d + 8 * d * d)


def transformer_baseline(vocab: int, n_params: int, context: int, layers: int = 2,
                         heads: int = 4) -> NeuralBaseline:
    """A pre-LN causal transformer (``layers`` blocks, ``heads`` heads) whose parameter count
    is closest to ``n_params``; width a multiple of ``heads``."""
    d = heads * size_to_params(lambda u: _tf_params(vocab, heads * u, layers, context), n_params)
    return _transformer(vocab, d, layers, heads, context)


def size_to_params(count: Callable[[int], int], target: int) -> int:
    """Smallest-error integer size u >= 1 with count(u) closest to target (count increasing)."""
    lo, hi = 1, 1
    while count(hi) < target and hi < 1 << 20:
        hi *= 2
    best = min(range(max(1, hi // 2), hi + 1), key=lambda u: abs(count(u) - target)) \
        if hi - hi // 2 < 4096 else None
    if best is None:
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if count(mid) < target else (lo, mid)
        best = min((lo, hi), key=lambda u: abs(count(u) - target))
    return best
