"""Slow checks (run with --runslow): other tokenizers end to end, bf16 against float32."""

import jax
import numpy as np
import pytest

from jaxbrain.config import from_dict
from jaxbrain.lm.model import init_params, make_model
from jaxbrain.lm.train import (TrainConfig, evaluate, load_corpus, make_eval, train,
                               valid_windows)


@pytest.mark.slow
@pytest.mark.parametrize("tokenizer", ["bpe", "gpt2"])
def test_subword_tokenizers_train(tokenizer, tmp_path):
    cfg = from_dict(TrainConfig, dict(scale="tiny", tokenizer=tokenizer, bpe_vocab=512,
                                      max_chars=200000, steps=60, lr=1.5e-2, remat=False,
                                      eval_every=60, eval_windows=16, sample_every=60,
                                      checkpoint_every=60, dashboard_every=60,
                                      sample_length=20, ablation=False, progress=False,
                                      baselines=["uniform", "unigram", "bigram"]))
    res = train(cfg, tmp_path)
    spk, base = res["spiking"], res["baselines"]
    assert spk["nll"] < base["uniform"]["nll"] - 1.0
    assert res["valid_chars"] > res["valid_tokens"]  # subwords: more than one char a token
    assert spk["bpc"] == pytest.approx(spk["nll"] * res["valid_tokens"] / res["valid_chars"] / np.log(2))


@pytest.mark.slow
def test_bf16_gather_close_to_float32():
    cfg = TrainConfig(max_chars=100000)
    corpus = load_corpus(cfg)
    vx, vy = valid_windows(corpus.valid_ids, 32, 32)
    m32 = make_model(cfg.spec(), corpus.tokenizer.vocab_size, "float32")
    m16 = make_model(cfg.spec(), corpus.tokenizer.vocab_size, "bfloat16")
    params = init_params(m32, jax.random.key(0))
    a = evaluate(make_eval(m32), params, vx, vy)["nll"]
    b = evaluate(make_eval(m16), params, vx, vy)["nll"]
    assert abs(a - b) < 0.05, (a, b)
