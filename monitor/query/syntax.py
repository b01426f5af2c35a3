"""A brand query in Lucene/Boolean syntax, parsed (with luqum) into a small tree Earshot owns.

    Brisa AND (bill OR billing) NOT giveaway
    "brisa mobile" OR #BrisaMobile OR @brisamobile
    "brisa bill"~3 lang:(es OR id) -source:rss has:link
    tagih* author:brisa_care country:ID

Words side by side must all appear (`a b` is `a AND b`); AND binds tighter than OR
within parentheses as Lucene reads them, and juxtaposition binds loosest, so
`brisa bill OR billing` reads `brisa AND (bill OR billing)`. `NOT x` and `-x` exclude,
`"a b"` is an exact phrase, `"a b"~3` a proximity (the words within 3 others of each
other, in any order), `*` and `?` are wildcards inside a word. Field filters: `lang:`,
`source:`, `author:`, `has:link`, `country:`.

Parsing is separate from matching (matcher.py) and from each platform's syntax
(platforms.py): the tree is the one thing they share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

from monitor.query.text import fold, words_of

FIELDS = ("lang", "source", "author", "has", "country")
MAX_QUERY_CHARS = 4096
MAX_DEPTH = 40  # the compiled check is one Python expression, and Python limits how deep those nest
_WILDCARD = re.compile(r"[*?]")


class QueryError(ValueError):
    """A query that cannot be used, with where in it the problem is (0-based `position`)."""

    def __init__(self, message: str, query: str, position: int | None) -> None:
        self.reason, self.query, self.position = message, query, position
        super().__init__(self.describe())

    def describe(self) -> str:
        if self.position is None:
            return self.reason
        pos = min(max(self.position, 0), len(self.query))
        snippet = self.query[max(0, pos - 30):pos] + "»" + self.query[pos:pos + 30]
        where = "at the end" if pos >= len(self.query) else f"at character {pos + 1}"
        return f"{self.reason} ({where}: {snippet.strip()})"


@dataclass(frozen=True)
class Words:
    """Words to find: one word, or a phrase (`slop` 0: side by side; n: within n words).

    `mark` is "#" for a hashtag, "@" for a handle, "" for any word. A word with `*`/`?`
    is a wildcard; `written` is the term as the user wrote it (what platforms are sent).
    """

    tokens: tuple[str, ...]
    written: str
    mark: str = ""
    slop: int = 0
    position: int = 0

    @property
    def wildcard(self) -> bool:
        return any(_WILDCARD.search(t) for t in self.tokens)

    @property
    def phrase(self) -> bool:
        return len(self.tokens) > 1

    def label(self) -> str:
        text = " ".join(self.tokens)
        shown = f'"{text}"' if self.phrase else text
        return f"{self.mark}{shown}" + (f"~{self.slop}" if self.slop else "")


@dataclass(frozen=True)
class Filter:
    """A field filter: `lang:es`, `source:x`, `author:name`, `has:link`, `country:ES`."""

    name: str
    value: str
    position: int = 0

    def label(self) -> str:
        return f"{self.name}:{self.value}"


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


Node = Union[Words, Filter, And, Or, Not]


def label(node: Node) -> str:
    """The query text of a node, fully parenthesised (what `earshot query` shows)."""
    if isinstance(node, (Words, Filter)):
        return node.label()
    if isinstance(node, Not):
        return f"NOT {_grouped(node.child)}"
    joiner = " AND " if isinstance(node, And) else " OR "
    return joiner.join(_grouped(c) for c in node.children)


def _grouped(node: Node) -> str:
    return f"({label(node)})" if isinstance(node, (And, Or)) else label(node)


def terms(node: Node) -> list[Words]:
    """Every Words node that is not under a NOT: what a match can be credited to."""
    if isinstance(node, Words):
        return [node]
    if isinstance(node, (And, Or)):
        return [t for c in node.children for t in terms(c)]
    return []


def filters(node: Node) -> list[Filter]:
    """Every field filter in the query, negated or not."""
    if isinstance(node, Filter):
        return [node]
    if isinstance(node, Not):
        return filters(node.child)
    if isinstance(node, (And, Or)):
        return [f for c in node.children for f in filters(c)]
    return []


# --- parsing --------------------------------------------------------------------------------------


def parse(query: str) -> Node:
    """The tree of `query`; QueryError (with the position) if it is not a usable query."""
    from luqum import tree
    from luqum.exceptions import IllegalCharacterError, ParseError
    from luqum.parser import parser

    if not query or not query.strip():
        raise QueryError("the query is empty; write at least one word to look for", query, None)
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is longer than {MAX_QUERY_CHARS} characters", query, MAX_QUERY_CHARS)
    try:
        parsed = parser.parse(query)
    except IllegalCharacterError as exc:
        raise QueryError(_luqum_message(str(exc), query), query, _luqum_position(str(exc), query)) from None
    except ParseError as exc:
        raise QueryError(_luqum_message(str(exc), query), query, _luqum_position(str(exc), query)) from None
    try:
        node = _convert(parsed, query, tree, field=None)
    except RecursionError:
        node = None
    if node is None or _depth(node) > MAX_DEPTH:
        raise QueryError(f"the query nests groups more than {MAX_DEPTH} deep", query, None)
    if not _has_positive(node):
        raise QueryError("the query only excludes; add something to look for (a word, a phrase or a filter)",
                         query, None)
    return node


def _depth(node: Node) -> int:
    if isinstance(node, Not):
        return 1 + _depth(node.child)
    if isinstance(node, (And, Or)):
        return 1 + max(_depth(c) for c in node.children)
    return 1


def _luqum_position(message: str, query: str) -> int:
    found = re.search(r"at position (\d+)", message)
    return int(found.group(1)) if found else len(query)


def _luqum_message(message: str, query: str) -> str:
    if "unexpected end" in message:
        return "the query ends too early: an operator with nothing after it, or a '(' never closed"
    found = re.search(r"unexpected\s+'([^']*)'", message)
    if found:
        token = found.group(1)
        if token == ")":
            return "a ')' closes nothing"
        if token in ("AND", "OR", "NOT"):
            return f"{token} needs something on both sides (or after NOT)"
        return f"unexpected {token!r}"
    found = re.search(r"Illegal character '(.)", message)
    if found and found.group(1) == '"':
        return "a '\"' opens a phrase that is never closed"
    return message.replace("Syntax error in input : ", "").rstrip("!")


def _pos(item: object, query: str) -> int:
    pos = getattr(item, "pos", None)
    return pos if isinstance(pos, int) else 0


def _convert(item: object, query: str, tree: object, field: str | None) -> Node:  # noqa: C901 - one case per node type
    t = tree
    if isinstance(item, t.Group) or isinstance(item, t.FieldGroup):
        return _convert(item.expr, query, t, field)
    if isinstance(item, (t.AndOperation, t.UnknownOperation)):
        return _flatten(And, [_convert(c, query, t, field) for c in item.children])
    if isinstance(item, t.OrOperation):
        return _flatten(Or, [_convert(c, query, t, field) for c in item.children])
    if isinstance(item, (t.Not, t.Prohibit)):
        return Not(_convert(item.a, query, t, field))
    if isinstance(item, t.Plus):
        return _convert(item.a, query, t, field)
    if isinstance(item, t.SearchField):
        if field is not None:
            raise QueryError(f"a field inside the field {field}: cannot be", query, _pos(item, query))
        name = item.name.lower()
        if name not in FIELDS:
            raise QueryError(f"unknown field {item.name!r}: use lang:, source:, author:, has:link or country: "
                             f"(or quote the words to search for a colon)", query, _pos(item, query))
        return _convert(item.expr, query, t, name)
    if isinstance(item, t.Proximity):
        inner = _convert(item.term, query, t, field)
        if not isinstance(inner, Words) or field is not None:
            raise QueryError("~ after a phrase sets a proximity; it only goes after a quoted phrase",
                             query, _pos(item, query))
        slop = int(float(item.degree)) if item.degree is not None else 1
        if slop < 0 or slop > 50:
            raise QueryError("a proximity is between 0 and 50 words", query, _pos(item, query))
        return Words(inner.tokens, inner.written, inner.mark, slop, inner.position)
    if isinstance(item, (t.Word, t.Phrase)):
        return _term(item, query, field)
    kinds = {"Fuzzy": "fuzzy matching (word~2)", "Boost": "boosts (word^2)", "Range": "ranges ([a TO b])",
             "Regex": "regular expressions (/.../)", "From": "ranges", "To": "ranges"}
    what = kinds.get(type(item).__name__, type(item).__name__)
    raise QueryError(f"{what} are not supported in brand queries", query, _pos(item, query))


def _flatten(kind: type, children: list[Node]) -> Node:
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, kind) else [child])
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


def _term(item: object, query: str, field: str | None) -> Node:
    position = _pos(item, query)
    raw: str = item.value
    quoted = raw.startswith('"') and raw.endswith('"') and len(raw) >= 2
    text = raw[1:-1] if quoted else raw
    text = text.replace('\\"', '"')
    if field is not None:
        return _filter(field, text.strip(), query, position)
    mark = ""
    if not quoted and text[:1] in "#@" and len(text) > 1:
        mark, text = text[0], text[1:]
    if quoted and text.strip()[:1] in "#@" and len(text.strip().split()) == 1:
        mark, text = text.strip()[0], text.strip()[1:]
    folded = fold(text)
    if mark == "@" and re.fullmatch(r"\w+(?:\.\w+)*", folded.strip()):
        return Words((folded.strip(),), text, mark, 0, position)  # a handle keeps its dots: @brisa.bsky.social
    tokens = tuple(_tokens(folded, quoted))
    if not tokens:
        raise QueryError(f"{raw!r} has no letters or digits to look for", query, position)
    if mark and len(tokens) > 1:
        raise QueryError(f"{mark}{text} is not one {'hashtag' if mark == '#' else 'handle'}", query, position)
    for token in tokens:
        if token.strip("*?") == "":
            raise QueryError(f"{raw!r}: a wildcard needs at least one letter beside it", query, position)
    return Words(tokens, text, mark, 0, position)


def _tokens(folded: str, quoted: bool) -> list[str]:
    """A term's words as the post's words are cut (`top-up` is the phrase "top up"), wildcards kept."""
    out: list[str] = []
    for chunk in re.split(r"[^\w*?#@]+", folded):
        for piece in re.findall(r"[\w*?]+", chunk):
            if _WILDCARD.search(piece):
                out.append(piece)
            else:
                out.extend(w.lstrip("#@") for w in words_of(piece))
    return out


def _filter(name: str, value: str, query: str, position: int) -> Filter:
    value = value.strip()
    if not value:
        raise QueryError(f"{name}: needs a value", query, position)
    if name == "has":
        if value.lower() not in ("link", "links"):
            raise QueryError(f"has:{value} is not a filter; has:link is", query, position)
        return Filter("has", "link", position)
    if name == "lang":
        if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]+)*", value):
            raise QueryError(f"lang:{value} is not a language code (en, es, id, pt-BR...)", query, position)
        return Filter("lang", value.lower().split("-")[0], position)
    if name == "country":
        if not re.fullmatch(r"[A-Za-z]{2}", value):
            raise QueryError(f"country:{value} is not a two-letter country code (ES, ID, US...)", query, position)
        return Filter("country", value.upper(), position)
    if name == "author":
        return Filter("author", fold(value.lstrip("@")), position)
    return Filter("source", value.lower(), position)


def _has_positive(node: Node) -> bool:
    if isinstance(node, (Words, Filter)):
        return True
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(_has_positive(c) for c in node.children)
    return all(_has_positive(c) for c in node.children)


# --- the old form -----------------------------------------------------------------------------------


def legacy_query(queries: list[str], exclude: list[str]) -> str:
    """The query the old `queries` (any of these) / `exclude` (none of these) lists mean."""
    def phrase(term: str) -> str:
        return '"' + " ".join(term.replace('"', " ").replace("\\", " ").split()) + '"'

    def unique(terms: list[str]) -> list[str]:  # "acme" and "ACME" are one term now that case is folded
        kept: dict[str, str] = {}
        for term in terms:
            if term.strip():
                kept.setdefault(fold(phrase(term)), phrase(term))
        return list(kept.values())

    wanted = unique(queries)
    query = wanted[0] if len(wanted) == 1 else "(" + " OR ".join(wanted) + ")"
    unwanted = unique(exclude)
    if unwanted:
        query += " NOT " + (unwanted[0] if len(unwanted) == 1 else "(" + " OR ".join(unwanted) + ")")
    return query
