"""Tokenizers that work offline: characters, a BPE trained here, GPT-2 BPE, SentencePiece 32k.

Every tokenizer has ``name``, ``vocab_size``, ``encode(text) -> list[int]``,
``decode(ids) -> str`` and ``spec() -> dict`` (JSON; :func:`from_spec` rebuilds it, so a
checkpoint records the tokenizer it was trained with). ``encode`` raises
:class:`UnknownTokenError` naming the offending characters when the text cannot be encoded
(only the character tokenizer has a closed alphabet).

Model files are located with ``importlib.util.find_spec`` without importing the package that
ships them (DATA.md): ``whisper/assets/gpt2.tiktoken`` (openai-whisper) and
``mistral_common/data/tokenizer.model.v1`` (mistral-common).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["UnknownTokenError", "CharTokenizer", "GPT2Tokenizer", "SentencePieceTokenizer",
           "BPETokenizer", "make_tokenizer", "from_spec", "TOKENIZERS", "GPT2_PATTERN"]

TOKENIZERS = ("char", "bpe", "gpt2", "sentencepiece")
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


class UnknownTokenError(ValueError):
    """Text contains symbols the tokenizer cannot encode."""


def _package_file(package: str, relative: str, pip: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"this tokenizer needs the '{package}' package's data file "
                                f"{relative}; install it with: {pip}")
    path = Path(spec.origin).parent / relative
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall with: {pip}")
    return path


class CharTokenizer:
    """One id per character of a fixed alphabet (sorted characters of the training text)."""
    name = "char"

    def __init__(self, alphabet: str):
        if not alphabet:
            raise ValueError("the character alphabet is empty")
        self.alphabet = "".join(sorted(set(alphabet)))
        self._index = {c: i for i, c in enumerate(self.alphabet)}
        self.vocab_size = len(self.alphabet)

    @classmethod
    def fit(cls, text: str) -> "CharTokenizer":
        return cls(text)

    def encode(self, text: str) -> list[int]:
        bad = sorted({c for c in text if c not in self._index})
        if bad:
            raise UnknownTokenError(
                f"characters {bad!r} are not in this model's alphabet of {self.vocab_size} "
                f"characters ({self.alphabet!r})")
        return [self._index[c] for c in text]

    def decode(self, ids) -> str:
        return "".join(self.alphabet[int(i)] for i in ids)

    def spec(self) -> dict:
        return {"kind": "char", "alphabet": self.alphabet}


class GPT2Tokenizer:
    """GPT-2 byte-level BPE (50,257 ids) through tiktoken, from whisper's gpt2.tiktoken."""
    name = "gpt2"
    PIP = "pip install --no-deps openai-whisper==20250625"

    def __init__(self):
        import tiktoken
        import tiktoken.load
        path = _package_file("whisper", "assets/gpt2.tiktoken", self.PIP)
        self._enc = tiktoken.Encoding("gpt2", pat_str=GPT2_PATTERN,
                                      mergeable_ranks=tiktoken.load.load_tiktoken_bpe(str(path)),
                                      special_tokens={"<|endoftext|>": 50256})
        self.vocab_size = self._enc.n_vocab

    def encode(self, text: str) -> list[int]:
        return self._enc.encode_ordinary(text)

    def decode(self, ids) -> str:
        return self._enc.decode([int(i) for i in ids])

    def spec(self) -> dict:
        return {"kind": "gpt2"}


class SentencePieceTokenizer:
    """The 32,000-piece SentencePiece model shipped as mistral_common's tokenizer.model.v1."""
    name = "sentencepiece"
    PIP = "pip install --no-deps mistral-common==1.13.1"

    def __init__(self):
        import sentencepiece
        path = _package_file("mistral_common", "data/tokenizer.model.v1", self.PIP)
        self._sp = sentencepiece.SentencePieceProcessor(model_file=str(path))
        self.vocab_size = self._sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return list(self._sp.encode(text))

    def decode(self, ids) -> str:
        return self._sp.decode([int(i) for i in ids])

    def spec(self) -> dict:
        return {"kind": "sentencepiece"}


class BPETokenizer:
    """A byte-level BPE trained here on the corpus with HuggingFace ``tokenizers``."""
    name = "bpe"

    def __init__(self, tokenizer_json: str):
        from tokenizers import Tokenizer
        self._json = tokenizer_json
        self._tok = Tokenizer.from_str(tokenizer_json)
        self.vocab_size = self._tok.get_vocab_size()

    @classmethod
    def fit(cls, text: str, vocab_size: int = 4096) -> "BPETokenizer":
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        chunks = [text[i:i + 100_000] for i in range(0, len(text), 100_000)]
        tok.train_from_iterator(chunks, trainer=trainer)
        return cls(tok.to_str())

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text).ids

    def decode(self, ids) -> str:
        return self._tok.decode([int(i) for i in ids])

    def spec(self) -> dict:
        return {"kind": "bpe", "json": self._json}


def make_tokenizer(kind: str, train_text: str = "", bpe_vocab: int = 4096):
    """Build a tokenizer by name: ``char`` and ``bpe`` are fitted on ``train_text``."""
    if kind == "char":
        return CharTokenizer.fit(train_text)
    if kind == "bpe":
        return BPETokenizer.fit(train_text, bpe_vocab)
    if kind == "gpt2":
        return GPT2Tokenizer()
    if kind == "sentencepiece":
        return SentencePieceTokenizer()
    raise ValueError(f"unknown tokenizer {kind!r}; allowed: {list(TOKENIZERS)}")


def from_spec(spec: dict):
    """Rebuild a tokenizer from its ``spec()`` (as stored next to a checkpoint)."""
    kind = spec.get("kind")
    if kind == "char":
        return CharTokenizer(spec["alphabet"])
    if kind == "bpe":
        return BPETokenizer(spec["json"])
    if kind in ("gpt2", "sentencepiece"):
        return make_tokenizer(kind)
    raise ValueError(f"unknown tokenizer spec kind {kind!r}; allowed: {list(TOKENIZERS)}")
