"""Normalising and folding take shortcuts (patterns skipped where a text cannot match them, ASCII
text split on bytes, only non-ASCII runs folded): they must give exactly what the plain recipe
gives, or stored signatures would stop matching new ones. The plain recipe is written out here."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest

from monitor.noise.text import fold, normalise

URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
HANDLE = re.compile(r"(?<!\w)@\w+")
RETWEET = re.compile(r"^\s*(?:rt|via)\b[:\s]*", re.IGNORECASE)
HASHTAG = re.compile(r"(?<!\w)#(\w+)")
NON_WORD = re.compile(r"[^\w]+")


def plain_fold(text: str) -> str:
    return "".join(c for ch in text.casefold() for c in unicodedata.normalize("NFKD", ch)
                   if not unicodedata.combining(c))


def plain_normalise(text: str) -> str:
    text = URL.sub(" ", text)
    text = RETWEET.sub(" ", HANDLE.sub(" ", text))
    text = HASHTAG.sub(r"\1", text)
    return " ".join(NON_WORD.sub(" ", plain_fold(text)).replace("_", " ").split())


TRICKY = [
    "", " ", "RT @dana: Telefónica me COBRÓ dos veces!! https://t.co/x #fail", "via @x rt: #a_b c_d",
    "WWW.Brisa.COM/x and HTTPS://BIT.LY/a", "İstanbul ıı ß ﬁ Å ǅ ǈ ² ① Ⅻ ㎏ ℌ Σ ς", "㎏#0 b\u0301#B e\u0308#_x",
    "emoji 😀#fun @😀 #😀 a#b a@b", "\u2028RT\x1c: ok\u00a0ok\u200bok", "ｗｗｗ.example ＃tag ＠handle", "x\x00y",
    "__init__ snake_case #snake_case @snake_case", "rt", "RT", "via", "rtx retweet", "Ünïcödé ÀÉÎÕÜ ñ ç",
]


@pytest.mark.parametrize("text", TRICKY)
def test_normalise_and_fold_give_what_the_plain_recipe_gives(text):
    assert normalise(text) == plain_normalise(text)
    assert fold(text) == plain_fold(text)


def test_normalise_matches_the_plain_recipe_on_random_mixtures():
    rng = random.Random(18)
    pieces = [*"aAzZ09_ @#:/.-!?\n\t\u00a0", "http://", "https://", "www.", "WWW.", "RT ", "rt:", "via ", "İ", "ı",
              "é", "É", "ß", "ﬁ", "Å", "\u0301", "\u0308", "😀", "①", "²", "Ⅻ", "Σ", "ς", "ǅ", "\u200b", "\x1c",
              "ｗｗｗ.", "＃", "＠", "\u2028", "ℌ", "㎏", "brisa", "Telefónica"]
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(40)))
        assert normalise(text) == plain_normalise(text), text
        assert fold(text) == plain_fold(text), text
