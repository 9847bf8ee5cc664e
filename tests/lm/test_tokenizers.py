import importlib.util

import pytest

from jaxbrain.lm import tokenizers as T


def test_char_roundtrip_and_unknown():
    tok = T.CharTokenizer.fit("to be or not to be\n")
    ids = tok.encode("be not")
    assert tok.decode(ids) == "be not"
    assert tok.vocab_size == len(set("to be or not to be\n"))
    with pytest.raises(T.UnknownTokenError, match=r"\['Z', 'x'\]"):
        tok.encode("xZ be")
    assert T.from_spec(tok.spec()).encode("be") == ids[:2]


def test_gpt2_reference_ids():
    tok = T.GPT2Tokenizer()
    assert tok.vocab_size == 50257
    assert tok.encode("Hello world") == [15496, 995]  # DATA.md reference
    assert tok.decode(tok.encode("O Romeo, Romeo!")) == "O Romeo, Romeo!"


def test_sentencepiece_32k():
    tok = T.SentencePieceTokenizer()
    assert tok.vocab_size == 32000
    assert tok.decode(tok.encode("Wherefore art thou")) == "Wherefore art thou"


def test_local_bpe():
    text = "To be, or not to be, that is the question. " * 50 + "Whether 'tis nobler in the mind"
    tok = T.BPETokenizer.fit(text, vocab_size=300)
    assert 256 < tok.vocab_size <= 300
    ids = tok.encode("to be, or not")
    assert tok.decode(ids) == "to be, or not"
    assert len(ids) < len("to be, or not")  # merges learned
    assert T.from_spec(tok.spec()).encode("to be") == tok.encode("to be")


def test_missing_package_names_pip(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "whisper" else real(name, *a))
    with pytest.raises(FileNotFoundError, match="pip install --no-deps openai-whisper"):
        T.GPT2Tokenizer()
    with pytest.raises(ValueError, match="allowed"):
        T.make_tokenizer("words")
