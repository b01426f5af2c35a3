"""Reddit search queries for the configured brands, and the search time window to ask for."""

from __future__ import annotations

from collections.abc import Sequence

from monitor.config import BrandConfig
from monitor.query.platforms import UnsearchableQuery, compile_query, pack

# Reddit's search time windows, smallest first: (time_filter, seconds it reaches back).
TIME_FILTERS = (("hour", 3600), ("day", 86400), ("week", 7 * 86400), ("month", 31 * 86400), ("year", 366 * 86400))


def build_queries(brands: Sequence[BrandConfig], max_length: int = 512) -> list[str]:
    """Search queries covering every brand's query in Reddit's syntax, each within `max_length`.

    Exclusions are not sent: Reddit applies `NOT` unevenly across its search backends,
    so they are applied here by the local matcher (`BrandConfig.match`), like the brand
    attribution. ValueError when a brand's query cannot be sent to Reddit.
    """
    groups: list[str] = []
    for brand in brands:
        try:
            groups += compile_query(brand.compiled.node, "reddit", max_length=max_length - 4).searches
        except UnsearchableQuery as exc:
            raise ValueError(f"brand {brand.name!r}: {exc}") from None
    return pack(groups, max_length)


def time_filter(seconds_back: float) -> str:
    """The smallest Reddit search window that reaches `seconds_back` into the past."""
    return next((name for name, span in TIME_FILTERS if seconds_back <= span), "all")
