"""Normalising a post's text before it is compared with others.

Copies are rarely exact: a retweet adds "RT @someone:", a bot appends a different link or
hashtag each time, people change case and punctuation. Comparing the text as said (case and
accents folded, links, @handles, "RT" and punctuation removed, hashtags read as words) makes
those one text, while two different complaints stay different.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
HANDLE = re.compile(r"(?<!\w)@\w+")
RETWEET = re.compile(r"^\s*(?:rt|via)\b[:\s]*", re.IGNORECASE)
# The "#" of a hashtag (a "#" not after a word character, before one): dropped before folding,
# which matters where the character before it folds into a letter or into nothing ("㎏#0").
HASHTAG = re.compile(r"(?<!\w)#(?=\w)")
# What is left of a text once everything but its words is dropped: runs of letters and digits
# (\w without the underscore, which joins words in handles and hashtags).
WORDS = re.compile(r"[^\W_]+")
NON_ASCII = re.compile(r"[^\x00-\x7f]+")
# ASCII text as bytes: letters and digits kept, everything else a space.
_ASCII_WORDS = bytes(c if chr(c).isalnum() and c < 128 else 32 for c in range(256))


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))


@lru_cache(maxsize=4096)
def _fold_run(run: str) -> str:
    return "".join(_fold_char(ch) for ch in run)


def _fold_match(match: re.Match[str]) -> str:
    return _fold_run(match.group())


def fold(text: str) -> str:
    """Case- and accent-folded ("Telefónica" and "TELEFONICA" read the same).

    Folding is per character and ASCII folds to itself, so only the runs of other characters
    are looked at (and those are few and repeat: accented letters, emoji)."""
    text = text.casefold()
    if text.isascii():
        return text
    return NON_ASCII.sub(_fold_match, text)


def normalise(text: str) -> str:
    """The words of a post as compared for copies: no links, handles, RT prefix or punctuation.

    Each pattern only runs over a text that has what it looks for: this runs on every post."""
    if "://" in text or "www." in text.lower():
        text = URL.sub(" ", text)
    if "@" in text:
        text = HANDLE.sub(" ", text)
    text = RETWEET.sub(" ", text)
    if "#" in text:
        text = HASHTAG.sub("", text)
    text = fold(text)
    if text.isascii():
        return " ".join(text.encode("ascii").translate(_ASCII_WORDS).decode("ascii").split())
    return " ".join(WORDS.findall(text))


def shingles(normalised: str, size: int) -> list[bytes]:
    """Overlapping `size`-character pieces (the text itself if shorter), as bytes for hashing."""
    data = normalised.encode("utf-8")
    if len(data) <= size:
        return [data]
    return list({data[i : i + size] for i in range(len(data) - size + 1)})
