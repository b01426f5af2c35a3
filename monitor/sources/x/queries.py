"""Recent-search queries for the configured brands, each within X's query-length limit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from monitor.config import BrandConfig


def _phrase(term: str) -> str:
    # X has no escape for a quote inside a quoted phrase; a quote in a brand term is noise.
    return '"' + " ".join(term.replace('"', " ").split()) + '"'


def _group(terms: Sequence[str], exclusions: str) -> str:
    positive = terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"
    return f"({positive} {exclusions})" if exclusions else positive


def _combine(groups: Sequence[str], suffix: str) -> str:
    body = groups[0] if len(groups) == 1 else "(" + " OR ".join(groups) + ")"
    return body + suffix


def _unique(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    return [i for i in items if not (i.lower() in seen or seen.add(i.lower()))]


def build_queries(brands: Sequence[BrandConfig], languages: Sequence[str] = (), max_length: int = 512) -> list[str]:
    """Recent-search queries that together cover every brand term, each within `max_length`.

    Each brand is one group `("a" OR "b") -"excluded"`, so one brand's exclusions never
    hide another brand's posts. Groups are packed into as few queries as fit; a brand
    whose terms alone are too long is split, each part keeping all its exclusions.
    """
    suffix = " -is:retweet"
    if languages:
        langs = [f"lang:{code}" for code in _unique(languages)]
        suffix += " " + (langs[0] if len(langs) == 1 else "(" + " OR ".join(langs) + ")")
    budget = max_length - len(suffix) - 2  # room for the parentheses around several groups
    groups: list[str] = []
    for brand in brands:
        exclusions = " ".join(f"-{_phrase(term)}" for term in _unique(brand.exclude))
        part: list[str] = []
        for term in _unique(_phrase(q) for q in brand.queries):
            if len(_group([term], exclusions)) > budget:
                raise ValueError(
                    f"brand {brand.name!r}: the term {term} with the brand's exclusions is longer than "
                    f"the {max_length}-character X query limit; shorten the exclusions"
                )
            if part and len(_group([*part, term], exclusions)) > budget:
                groups.append(_group(part, exclusions))
                part = []
            part.append(term)
        if part:
            groups.append(_group(part, exclusions))
    queries: list[str] = []
    current: list[str] = []
    for group in groups:
        if current and len(_combine([*current, group], suffix)) > max_length:
            queries.append(_combine(current, suffix))
            current = []
        current.append(group)
    if current:
        queries.append(_combine(current, suffix))
    return _unique(queries)
