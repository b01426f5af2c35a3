"""What each platform is sent for a brand query, in its own search syntax and within its limits.

A platform's search only narrows what is fetched: everything it returns is re-checked
with the local matcher (matcher.py), so a platform query may be looser than the brand
query but never narrower. What a platform cannot express is widened away: a wildcard
or an unsupported filter becomes "anything", a NOT over something widened is dropped,
a proximity becomes its words. `source:` filters are decided here, per platform.

- X (v2 recent search): quoted terms, OR, `-` negation, parentheses, `#tag`, `@handle`,
  `from:`, `lang:`, `has:links`; at most 512 characters, so a long query is split into
  several that together cover it (`split`), and brands are packed into as few as fit.
- Reddit search: quoted terms, AND, OR, parentheses, `author:`; no NOT (Reddit applies
  it unevenly across its search backends), 512 characters.
- Bluesky and Mastodon search: words and "phrases" ANDed, no OR, so a query becomes
  several searches, one per alternative (its disjunctive normal form), at most
  `max_searches`; Bluesky has `from:`, `lang:`, `mentions:` and no reliable `-`;
  Mastodon has `from:`, `language:` and `-`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from monitor.query.syntax import And, Filter, Node, Not, Or, Words

PLATFORMS = ("x", "reddit", "bluesky", "mastodon")


class UnsearchableQuery(ValueError):
    """A brand query this platform cannot be sent (nothing it can search for, or too long even split)."""


@dataclass(frozen=True)
class Dialect:
    name: str
    boolean: bool  # OR and parentheses
    negation: str | None  # how a NOT is written, None: not sent
    and_word: str = " "
    fields: dict[str, str] = field(default_factory=dict)  # our filter -> the platform's operator
    hashtags: bool = True
    handle: str | None = "@"  # how a handle is searched ("@", "mentions:"), None: as a word
    max_length: int | None = None
    max_searches: int = 20
    quote_phrases: bool = True
    # A phrase also searched as the hashtag of its words written together ("brisa mobile" OR
    # #brisamobile), as the local matcher finds it, where OR is cheap.
    phrase_tags: bool = False


X = Dialect("x", boolean=True, negation="-", fields={"lang": "lang:", "author": "from:", "has": "has:links"},
            max_length=512, phrase_tags=True)
REDDIT = Dialect("reddit", boolean=True, negation=None, and_word=" AND ", fields={"author": "author:"},
                 hashtags=False, handle=None, max_length=512)
BLUESKY = Dialect("bluesky", boolean=False, negation=None, fields={"lang": "lang:", "author": "from:"},
                  handle="mentions:", max_searches=50)
MASTODON = Dialect("mastodon", boolean=False, negation="-", fields={"lang": "language:", "author": "from:"},
                   handle=None, max_searches=50)
# A platform with a plain keyword search (what `earshot new-source` scaffolds): words ANDed, no quotes.
GENERIC = Dialect("generic", boolean=False, negation=None, hashtags=False, handle=None, max_searches=50,
                  quote_phrases=False)
DIALECTS = {d.name: d for d in (X, REDDIT, BLUESKY, MASTODON, GENERIC)}

# Relaxation results besides a node: the platform should send everything / nothing.
ANY, NONE = "ANY", "NONE"
Relaxed = Node | str


def relax(node: Node, dialect: Dialect) -> tuple[Relaxed, bool]:
    """The loosest-needed form of `node` the platform can express, and whether it is exact."""
    if isinstance(node, Words):
        if node.wildcard:
            stem = _stem(node)
            # No platform here has wildcards. `telkomsel*` is searched as the word `telkomsel`
            # (narrower: `telkomselnya` alone is not fetched, see `wildcard_notes`), which beats
            # fetching nothing; a stem too short to be a word leaves the term to the matcher.
            return (Words((stem,), stem, node.mark), False) if stem else (ANY, False)
        if node.slop:  # no platform here has proximity: its words, anywhere
            words = tuple(Words((t,), t, node.mark) for t in dict.fromkeys(node.tokens))
            return (words[0] if len(words) == 1 else And(words)), False
        if (node.mark == "#" and not dialect.hashtags) or (node.mark == "@" and dialect.handle is None):
            return replace(node, mark=""), False
        return node, True
    if isinstance(node, Filter):
        if node.name == "source":
            return (ANY if node.value == dialect.name else NONE), True
        return (node, True) if node.name in dialect.fields else (ANY, False)
    if isinstance(node, Not):
        if isinstance(node.child, Or) and (not dialect.boolean or not relax(node.child, dialect)[1]):
            # NOT (a OR b) is -a -b: where there is no OR, or to keep the exclusions that can be sent
            return relax(And(tuple(Not(c) for c in node.child.children)), dialect)
        if isinstance(node.child, Not):  # NOT NOT a is a
            return relax(node.child.child, dialect)
        inner, exact = relax(node.child, dialect)
        if exact and inner == ANY:
            return NONE, True
        if exact and inner == NONE:
            return ANY, True
        literal = isinstance(inner, (Words, Filter))
        if exact and dialect.negation and (dialect.boolean or literal):
            return Not(inner), True
        return ANY, False
    parts = [relax(c, dialect) for c in node.children]
    exact = all(e for _, e in parts)
    if isinstance(node, And):
        if any(p == NONE and e for p, e in parts):
            return NONE, True
        kept = [q for p, _ in parts if p != ANY for q in (p.children if isinstance(p, And) else [p])]
        if not kept:
            return ANY, exact
        return (kept[0] if len(kept) == 1 else And(tuple(kept))), exact
    if any(p == ANY for p, _ in parts):
        return ANY, exact
    kept = [p for p, _ in parts if p != NONE]
    if not kept:
        return NONE, True
    return (kept[0] if len(kept) == 1 else Or(tuple(kept))), exact


def _stem(node: Words) -> str | None:
    if node.phrase:
        return None
    token = node.tokens[0]
    stem = token[:-1] if token.endswith("*") else ""
    return stem if len(stem) >= 3 and "*" not in stem and "?" not in stem else None


def wildcard_notes(node: Node) -> list[str]:
    """What the searches miss because platforms have no wildcards (the local matcher still applies them)."""
    if isinstance(node, Words):
        stem = _stem(node) if node.wildcard else None
        return [f"{node.label()} is searched as {node.mark}{stem}: posts with only longer words are not fetched"] \
            if stem else []
    if isinstance(node, Not):
        return []
    if isinstance(node, (And, Or)):
        return [n for c in node.children for n in wildcard_notes(c)]
    return []


def _searchable(node: Node) -> bool:
    """Whether every way to match `node` names something to search for (a word or an author)."""
    if isinstance(node, Words):
        return True
    if isinstance(node, Filter):
        return node.name == "author"
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(_searchable(c) for c in node.children)
    return all(_searchable(c) for c in node.children)


# --- rendering -------------------------------------------------------------------------------------


def _quote(text: str) -> str:
    return '"' + " ".join(text.replace('"', " ").split()) + '"'


def _words(node: Words, dialect: Dialect) -> str:
    if node.mark == "#":
        return "#" + node.tokens[0]
    if node.mark == "@":
        return f"{dialect.handle}{node.tokens[0]}"
    written = node.written if node.written.strip() else " ".join(node.tokens)
    if not dialect.quote_phrases:
        return " ".join(written.replace('"', " ").split())
    if dialect.boolean:
        return _quote(written)
    return _quote(written) if node.phrase or len(written.split()) > 1 else written.strip()


def render(node: Node, dialect: Dialect) -> str:
    if isinstance(node, Words):
        if dialect.phrase_tags and node.phrase and not node.mark and len(node.tokens) <= 4:
            return f"{_words(node, dialect)} OR #{''.join(node.tokens)}"
        return _words(node, dialect)
    if isinstance(node, Filter):
        operator = dialect.fields[node.name]
        return operator if node.name == "has" else f"{operator}{node.value}"
    if isinstance(node, Not):
        return f"{dialect.negation}{_grouped(node.child, dialect)}"
    if isinstance(node, Or):  # a phrase searched with its hashtag needs no parentheses among alternatives
        return " OR ".join(render(c, dialect) if isinstance(c, Words) else _grouped(c, dialect) for c in node.children)
    return dialect.and_word.join(_grouped(c, dialect) for c in node.children)


def _grouped(node: Node, dialect: Dialect) -> str:
    text = render(node, dialect)
    several = isinstance(node, (And, Or)) and len(node.children) > 1
    return f"({text})" if several or (isinstance(node, Words) and " OR " in text) else text


# --- boolean platforms: split to fit -----------------------------------------------------------------


def split(node: Node, dialect: Dialect, budget: int) -> list[Node]:
    """Nodes, each rendering within `budget` characters, whose OR matches what `node` matches (or more).

    An OR is cut into as few runs of alternatives as fit; an AND with an OR inside is
    distributed over runs of that OR's alternatives (`a (b OR c OR d)` becomes `a (b OR c)`
    and `a d`), each keeping the AND's other conditions; when even that does not fit, its
    exclusions are dropped (a looser search: the local matcher still applies them).
    """
    if len(render(node, dialect)) <= budget:
        return [node]
    if isinstance(node, Or):
        return _runs(list(node.children), lambda run: _join(Or, run), dialect, budget)
    if isinstance(node, And):
        ors = [c for c in node.children if isinstance(c, Or)]
        if ors:
            widest = max(ors, key=lambda c: len(render(c, dialect)))
            others = [c for c in node.children if c is not widest]
            return _runs(list(widest.children), lambda run: _join(And, [*others, _join(Or, run)]), dialect, budget)
        positive = [c for c in node.children if not isinstance(c, Not)]
        if positive and len(positive) < len(node.children):
            return split(_join(And, positive), dialect, budget)
    raise UnsearchableQuery(f"{render(node, dialect)[:80]}... is longer than {dialect.name}'s "
                            f"{dialect.max_length}-character search limit even split; shorten it")


def _runs(items: list[Node], build: Callable[[list[Node]], Node], dialect: Dialect, budget: int) -> list[Node]:
    """`build` over consecutive runs of `items`, each run as long as still fits `budget`."""
    out: list[Node] = []
    run: list[Node] = []
    for item in items:
        if run and len(render(build([*run, item]), dialect)) > budget:
            out += split(build(run), dialect, budget)
            run = []
        run.append(item)
    if run:
        out += split(build(run), dialect, budget)
    return out


def _join(kind: type, children: Sequence[Node]) -> Node:
    return children[0] if len(children) == 1 else kind(tuple(children))


# --- conjunctive platforms: one search per alternative ----------------------------------------------


def alternatives(node: Node, limit: int) -> list[list[Node]]:
    """The query as alternatives of literals ANDed (its DNF), widened so there are at most `limit`.

    An AND whose alternatives would multiply past the limit keeps the alternatives of its
    fewest-alternative children only (every match still matches one of them).
    """
    if isinstance(node, (Words, Filter, Not)):
        return [[node]]
    if isinstance(node, Or):
        return [conj for c in node.children for conj in alternatives(c, limit)]
    each = sorted((alternatives(c, limit) for c in node.children), key=len)
    product: list[list[Node]] = [[]]
    for options in each:
        if len(product) * len(options) > limit and product != [[]]:
            continue  # widening: this child's condition is left to the local matcher
        product = [[*a, *b] for a, b in itertools.product(product, options)]
    return product


def _conjunct_searchable(conj: Sequence[Node]) -> bool:
    return any(isinstance(n, Words) or (isinstance(n, Filter) and n.name == "author") for n in conj)


@dataclass
class Compiled:
    """What a platform is sent for one brand: its searches, and whether they are exactly the query."""

    platform: str
    searches: list[str]
    exact: bool
    notes: list[str] = field(default_factory=list)


def compile_query(node: Node, platform: str, *, max_length: int | None = None,
                  max_searches: int | None = None) -> Compiled:
    """The searches `platform` is sent for a brand's query; UnsearchableQuery if there can be none."""
    dialect = DIALECTS[platform]
    if max_length is not None:
        dialect = replace(dialect, max_length=max_length)
    if max_searches is not None:
        dialect = replace(dialect, max_searches=max_searches)
    relaxed, exact = relax(node, dialect)
    notes = [] if exact else ["looser than the query (the local matcher re-checks every post)"]
    notes += wildcard_notes(node)
    if relaxed == NONE:
        return Compiled(platform, [], True, [f"source: filters leave nothing for {platform}"])
    if relaxed == ANY or not _searchable(relaxed):
        raise UnsearchableQuery(f"nothing {platform} can search for: every way to match needs a word, a phrase or "
                                f"an author:, not only filters, wildcards or exclusions")
    if dialect.boolean:
        budget = dialect.max_length or 10**9
        parts = split(relaxed, dialect, budget)
        if len(parts) > 1:
            notes.append(f"split into {len(parts)} searches to fit {dialect.max_length} characters")
        dropped = _negations(relaxed) - {n for p in parts for n in _negations(p)}
        if dropped:
            notes.append("exclusions not sent, to fit the length limit; the local matcher applies them")
        return Compiled(platform, _unique(render(p, dialect) for p in parts), exact and not dropped, notes)
    conjs = alternatives(relaxed, dialect.max_searches)
    if len(conjs) > dialect.max_searches:
        raise UnsearchableQuery(f"the query needs {len(conjs)} separate {platform} searches (one per alternative; "
                                f"{platform} has no OR), more than {dialect.max_searches}; use fewer alternatives")
    if any(not _conjunct_searchable(c) for c in conjs):
        raise UnsearchableQuery(f"an alternative of the query has nothing {platform} can search for (a word, a "
                                "phrase or an author:)")
    searches = _unique(" ".join(render(n, dialect) for n in _ordered(c)) for c in conjs)
    return Compiled(platform, searches, exact, notes)


def _ordered(conj: Sequence[Node]) -> list[Node]:
    """Words first, then filters, then exclusions: the form people write searches in."""
    rank = {Words: 0, Filter: 1, Not: 2}
    return sorted(dict.fromkeys(conj), key=lambda n: rank.get(type(n), 3))


def _negations(node: Node) -> set[Node]:
    if isinstance(node, Not):
        return {node}
    if isinstance(node, (And, Or)):
        return {n for c in node.children for n in _negations(c)}
    return set()


def _unique(items: object) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:  # type: ignore[attr-defined]
        if item.lower() not in seen:
            seen.add(item.lower())
            out.append(item)
    return out


def _atom(search: str) -> str:
    """`search` as one operand: parenthesised unless it is one word or one quoted phrase."""
    single = " " not in search or (search.startswith('"') and search.endswith('"') and search.count('"') == 2)
    return search if single else f"({search})"


def pack(groups: Sequence[str], max_length: int, suffix: str = "", joiner: str = " OR ") -> list[str]:
    """Searches of several brands OR-ed into as few requests as fit `max_length` (with `suffix` added)."""
    out: list[str] = []
    current: list[str] = []

    def combine(items: list[str]) -> str:
        if len(items) == 1:
            return (_atom(items[0]) if suffix else items[0]) + suffix
        body = joiner.join(_atom(g) for g in items)
        return f"({body}){suffix}" if suffix else body

    for group in _unique(groups):
        if current and len(combine([*current, group])) > max_length:
            out.append(combine(current))
            current = []
        current.append(group)
    if current:
        out.append(combine(current))
    return out
