"""How a post's text and a query's words are folded and cut into words, the same way for both.

Matching is on whole words, ignoring case (Unicode case folding) and accents, so
`telefonica` finds "Telefónica" and `apple` does not find "pineapple". A `#hashtag` or
`@handle` is a word too (a plain `brisa` finds "#Brisa" and "@brisa"), and is also
remembered as a tag or a handle for queries that ask for one (`#brisa`, `@brisa`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# Words: a handle may contain dots (Bluesky's @brisa.bsky.social), a hashtag may not; a #
# or @ inside a word (an e-mail address, "c#") is no tag or handle.
_TOKEN = re.compile(r"(?<!\w)@\w+(?:\.\w+)*|(?<!\w)#\w+|\w+")
_PLAIN_WORD = re.compile(r"\w+")
_LINK = re.compile(r"https?://|(?<![\w.])www\.\w", re.IGNORECASE)


def _fold_table() -> dict[int, str | None]:
    """Accented Latin letters to their base letters, and combining marks to nothing.

    Built once from Unicode's decompositions so one `str.translate` folds a text, which is
    several times faster than normalising every text (and handles text that arrives
    already decomposed, "e" followed by a combining accent).
    """
    table: dict[int, str | None] = {}
    ranges = [(0x00C0, 0x024F), (0x1E00, 0x1EFF), (0x0370, 0x03FF), (0xFF01, 0xFF5E)]
    for start, end in ranges:
        for code in range(start, end + 1):
            char = chr(code)
            base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
            base = base.casefold()
            if base and base != char:
                table[code] = base
    for code in range(0x0300, 0x0370):  # combining diacritical marks
        table[code] = None
    for code in (0x1AB0, 0x1DC0, 0x20D0, 0xFE20):  # the other blocks of combining marks
        for c in range(code, code + 0x30):
            if unicodedata.combining(chr(c)):
                table[c] = None
    extra = {"ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "æ": "ae", "Æ": "ae", "œ": "oe",
             "Œ": "oe", "ı": "i", "ß": "ss", "þ": "th", "ð": "d", "’": "'", "ʼ": "'"}
    table.update({ord(k): v for k, v in extra.items()})
    return table


_FOLD = _fold_table()


def fold(text: str) -> str:
    """Lower case without accents: the form both texts and query words are compared in."""
    if text.isascii():
        return text.lower()
    return text.casefold().translate(_FOLD)


def words_of(text: str) -> list[str]:
    """The words of an already folded text, tags and handles with their # or @."""
    return _TOKEN.findall(text)


def has_link(text: str) -> bool:
    return _LINK.search(text) is not None


@dataclass(slots=True)
class Post:
    """What a query is checked against: the text and what the source knows about the post.

    Fields a source does not know stay None; a filter on them (`lang:es` with no language)
    does not match, and its negation (`NOT lang:es`) does.
    """

    text: str
    lang: str | None = None
    source: str | None = None
    author: str | None = None
    country: str | None = None
    links: bool | None = None  # None: look for a URL in the text
    # Filled by the first query checked, so checking one post against many brands folds and
    # cuts its text once (not compared, not shown).
    folded: str | None = field(default=None, compare=False, repr=False)
    cut: tuple[list[str], set[str], frozenset[str] | set[str], frozenset[str] | set[str]] | None = field(
        default=None, compare=False, repr=False)


class Words:
    """A post's words, folded and cut once, in the forms the compiled checks look up.

    `sequence`: bare words in order (a tag or handle without its mark), for phrases;
    `bare`: every bare word, for plain words; `tags` and `handles` for #tag and @handle.
    A plain class with slots: one is built per post checked, so its cost is the matcher's.
    """

    __slots__ = ("folded", "sequence", "bare", "tags", "handles", "_positions")

    def __init__(self, folded: str, sequence: list[str], bare: set[str], tags: frozenset[str] | set[str] = frozenset(),
                 handles: frozenset[str] | set[str] = frozenset()) -> None:
        self.folded, self.sequence, self.bare, self.tags, self.handles = folded, sequence, bare, tags, handles
        self._positions: dict[str, list[int]] | None = None

    @classmethod
    def of(cls, text: str, folded: str | None = None) -> Words:
        folded = fold(text) if folded is None else folded
        if "#" not in folded and "@" not in folded:  # most posts: no tag, no handle
            tokens = _PLAIN_WORD.findall(folded)
            return cls(folded, tokens, set(tokens))
        tokens = _TOKEN.findall(folded)
        # Comprehensions rather than one loop with a branch per token: a post has a tag or a
        # handle or two among dozens of words, and this runs on every post that mentions one.
        marked = [t for t in tokens if t[0] in "#@"]
        sequence = [t[1:] if t[0] in "#@" else t for t in tokens] if marked else tokens
        tags = {t[1:] for t in marked if t[0] == "#"}
        handles = {t[1:] for t in marked if t[0] == "@"}
        bare = set(sequence)
        dotted = {h.split(".", 1)[0] for h in handles if "." in h}  # @brisa.bsky.social is also @brisa
        if dotted:
            handles |= dotted
            bare |= dotted
        return cls(folded, sequence, bare, tags, handles)

    @property
    def positions(self) -> dict[str, list[int]]:
        if self._positions is None:
            where: dict[str, list[int]] = {}
            for i, word in enumerate(self.sequence):
                where.setdefault(word, []).append(i)
            self._positions = where
        return self._positions
