"""Reddit search queries for the configured brands, and the search time window to ask for."""

from __future__ import annotations

from collections.abc import Sequence

from monitor.config import BrandConfig

# Reddit's search time windows, smallest first: (time_filter, seconds it reaches back).
TIME_FILTERS = (("hour", 3600), ("day", 86400), ("week", 7 * 86400), ("month", 31 * 86400), ("year", 366 * 86400))


def build_queries(brands: Sequence[BrandConfig], max_length: int = 512) -> list[str]:
    """Search queries OR-ing every brand term as a quoted phrase, each within `max_length`.

    Exclusions are not sent: Reddit applies `NOT` unevenly across its search backends,
    so they are applied here with `BrandConfig.match`, like the brand attribution.
    """
    seen: set[str] = set()
    terms = []
    for brand in brands:
        for query in brand.queries:
            phrase = '"' + " ".join(query.replace('"', " ").split()) + '"'
            if phrase.lower() not in seen:
                seen.add(phrase.lower())
                terms.append(phrase)
    queries: list[str] = []
    current: list[str] = []
    for term in terms:
        if len(term) > max_length:
            raise ValueError(f"the brand term {term} is longer than Reddit's {max_length}-character search limit")
        if current and len(" OR ".join([*current, term])) > max_length:
            queries.append(" OR ".join(current))
            current = []
        current.append(term)
    if current:
        queries.append(" OR ".join(current))
    return queries


def time_filter(seconds_back: float) -> str:
    """The smallest Reddit search window that reaches `seconds_back` into the past."""
    return next((name for name, span in TIME_FILTERS if seconds_back <= span), "all")
