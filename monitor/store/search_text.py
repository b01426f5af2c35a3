"""What a person types in the search box, as terms every store can look up the same way.

`factura "cobro doble" fact* -spam`: words must all appear, a quoted phrase must appear as
written, `fact*` matches words starting with "fact", and `-spam` excludes posts with "spam".
Parsing it here, once, is what keeps the stores' answers alike: SQLite turns the terms into an
FTS5 expression (`fts5_expression`), Elasticsearch into phrase queries. And no input can be a
syntax error: only the words of the input reach a query, each quoted, so an operator,
a stray quote or a bracket is just punctuation.

Words are what the FTS5 `unicode61` tokenizer sees as words: runs of letters and digits
(underscores and punctuation separate them). Input is put in Unicode NFC first, so an accent
typed as a combining mark stays part of its word.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from monitor.store.base import InvalidQuery

MAX_TERMS = 16  # more than anyone types; bounds the work one request can ask for
MAX_WORD_CHARS = 64

_CHUNK = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # one word, or the words of a phrase in order
    prefix: bool = False  # the last word may be the start of a longer one

    @property
    def text(self) -> str:
        return " ".join(self.words)


@dataclass(frozen=True)
class SearchText:
    include: tuple[Term, ...] = ()
    exclude: tuple[Term, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.include and not self.exclude


def parse_search(text: str) -> SearchText:
    """The terms of `text`; InvalidQuery if it only excludes (there is nothing to look for) or has
    more than MAX_TERMS terms."""
    include: list[Term] = []
    exclude: list[Term] = []
    for match in _CHUNK.finditer(unicodedata.normalize("NFC", text)):
        negated_phrase, phrase, bare = match.groups()
        if phrase is not None:
            term = _term(phrase, prefix=False)
            negated = bool(negated_phrase)
        else:
            negated = bare.startswith("-") and len(bare) > 1
            body = bare[1:] if negated else bare
            term = _term(body, prefix=body.endswith("*"))
        if term is not None:
            (exclude if negated else include).append(term)
    if len(include) + len(exclude) > MAX_TERMS:
        raise InvalidQuery(f"q: at most {MAX_TERMS} words or phrases")
    if exclude and not include:
        raise InvalidQuery("q: add a word to look for; '-word' only excludes")
    return SearchText(tuple(dict.fromkeys(include)), tuple(dict.fromkeys(exclude)))


def _term(chunk: str, prefix: bool) -> Term | None:
    words = tuple(w[:MAX_WORD_CHARS] for w in _WORD.findall(chunk))
    return Term(words, prefix) if words else None


def fts5_expression(search: SearchText) -> str:
    """The FTS5 MATCH expression for `search`: every included term, none of the excluded ones."""

    def quoted(term: Term) -> str:
        return '"' + term.text + '"' + ("*" if term.prefix else "")

    expression = " AND ".join(quoted(t) for t in search.include)
    if search.exclude:
        expression = f"({expression}) NOT ({' OR '.join(quoted(t) for t in search.exclude)})"
    return expression
