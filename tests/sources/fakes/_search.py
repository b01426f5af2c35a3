"""Boolean search queries, evaluated the way the fakes of search APIs (X, Reddit) need them.

Both platforms accept terms combined with `OR`, implicit AND, negation and parentheses; they
differ in how a negation is written (`-` on X, `NOT` on Reddit), whether `AND` may be
spelt out, and what a single term matches. Each fake passes those differences in; the
grammar and its precedence (OR binds loosest, then AND, then negation) are the same, so
they are parsed here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
Predicate = Callable[[T], bool]


def boolean_query(
    query: str, tokens: re.Pattern[str], term: Callable[[str], Predicate[T]], *, negation: str,
    and_word: str | None = None,
) -> Predicate[T]:
    """A predicate for `query`; ValueError if it is empty or its parentheses do not balance.

    `tokens` splits the query (its group 1 is one token), `term` turns a token that is no
    operator into a predicate, `negation` is the token that negates what follows and
    `and_word` an explicit AND the platform allows (implicit AND always works).
    """
    parts = [t for t in tokens.findall(query) if t]
    pos = 0

    def peek() -> str | None:
        return parts[pos] if pos < len(parts) else None

    def take() -> str:
        nonlocal pos
        pos += 1
        return parts[pos - 1]

    def or_expr() -> Predicate[T]:
        alternatives = [and_expr()]
        while peek() == "OR":
            take()
            alternatives.append(and_expr())
        return alternatives[0] if len(alternatives) == 1 else (lambda t: any(p(t) for p in alternatives))

    def and_expr() -> Predicate[T]:
        conjuncts = []
        while peek() not in (None, ")", "OR"):
            if and_word is not None and peek() == and_word:
                take()
                continue
            conjuncts.append(unary())
        if not conjuncts:
            raise ValueError("empty group")
        return conjuncts[0] if len(conjuncts) == 1 else (lambda t: all(p(t) for p in conjuncts))

    def unary() -> Predicate[T]:
        if peek() == negation:
            take()
            inner = unary()
            return lambda t: not inner(t)
        token = take()
        if token == "(":
            group = or_expr()
            if peek() != ")":
                raise ValueError("unbalanced parentheses")
            take()
            return group
        return term(token)

    predicate = or_expr()
    if pos != len(parts):
        raise ValueError("unbalanced parentheses")
    return predicate


_CONJUNCT_TOKEN = re.compile(r'(-?)("[^"]*"|\S+)')


def conjunctive_query(query: str, term: Callable[[str], Predicate[T]], *, negation: bool) -> Predicate[T]:
    """A predicate for a search with no OR (Bluesky, Mastodon): every term must hold, `-term` must not.

    `term` turns one token (a word, a "phrase", an `operator:value`) into a predicate;
    without `negation` a leading `-` is part of the word, as on Bluesky.
    """
    checks: list[tuple[bool, Predicate[T]]] = []
    for minus, token in _CONJUNCT_TOKEN.findall(query):
        if minus and not negation:
            token = minus + token
            minus = ""
        checks.append((bool(minus), term(token)))
    if not checks:
        raise ValueError("empty query")
    return lambda t: all(p(t) != negated for negated, p in checks)
