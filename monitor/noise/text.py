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
HASHTAG = re.compile(r"(?<!\w)#(\w+)")
NON_WORD = re.compile(r"[^\w]+")


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))


def fold(text: str) -> str:
    """Case- and accent-folded ("Telefónica" and "TELEFONICA" read the same)."""
    text = text.casefold()
    if text.isascii():
        return text
    return "".join(_fold_char(ch) for ch in text)


def normalise(text: str) -> str:
    """The words of a post as compared for copies: no links, handles, RT prefix or punctuation."""
    text = URL.sub(" ", text)
    text = RETWEET.sub(" ", HANDLE.sub(" ", text))
    text = HASHTAG.sub(r"\1", text)
    return " ".join(NON_WORD.sub(" ", fold(text)).replace("_", " ").split())


def shingles(normalised: str, size: int) -> list[bytes]:
    """Overlapping `size`-character pieces (the text itself if shorter), as bytes for hashing."""
    data = normalised.encode("utf-8")
    if len(data) <= size:
        return [data]
    return list({data[i : i + size] for i in range(len(data) - size + 1)})
