"""Recent-search queries for the configured brands, each within X's query-length limit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from monitor.config import BrandConfig
from monitor.query.platforms import UnsearchableQuery, compile_query, pack


def _unique(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    return [i for i in items if not (i.lower() in seen or seen.add(i.lower()))]


def build_queries(brands: Sequence[BrandConfig], languages: Sequence[str] = (), max_length: int = 512) -> list[str]:
    """Recent-search queries that together cover every brand's query, each within `max_length`.

    Each brand's query is compiled to X's operators (monitor/query/platforms.py), split
    into several when too long; brands are then packed into as few queries as fit, each
    brand in its own parentheses so one brand's exclusions never hide another's posts.
    ValueError when a brand's query cannot be sent to X.
    """
    suffix = " -is:retweet"
    if languages:
        langs = [f"lang:{code}" for code in _unique(languages)]
        suffix += " " + (langs[0] if len(langs) == 1 else "(" + " OR ".join(langs) + ")")
    budget = max_length - len(suffix) - 4  # room for the parentheses around several groups
    groups: list[str] = []
    for brand in brands:
        try:
            groups += compile_query(brand.compiled.node, "x", max_length=budget).searches
        except UnsearchableQuery as exc:
            raise ValueError(f"brand {brand.name!r}: {exc}") from None
    return pack(groups, max_length, suffix)
