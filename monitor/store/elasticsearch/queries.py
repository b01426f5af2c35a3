"""Search bodies the Elasticsearch store sends, and the parsing of what comes back.

Pure functions, unit-tested without a server. Every list query sorts on a total order
(a time field, then a unique keyword) so `search_after` paging never skips or repeats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from monitor.store.base import UNSCORED as UNSCORED_LABEL
from monitor.store.base import MentionQuery, MentionSort, TrendPoint
from monitor.store.elasticsearch.docs import iso
from monitor.store.search_text import SearchText, Term

UNSCORED = "unscored"

MENTIONS_BY_TIME: list[dict[str, Any]] = [{"created_at": {"order": "asc"}}, {"id": {"order": "asc"}}]
SNAPSHOTS_BY_TIME: list[dict[str, Any]] = [{"observed_at": {"order": "asc"}}, {"mention_id": {"order": "asc"}}]
SNAPSHOTS_NEWEST_FIRST: list[dict[str, Any]] = [{"observed_at": {"order": "desc"}}, {"mention_id": {"order": "desc"}}]
ALERTS_OLDEST_FIRST: list[dict[str, Any]] = [{"created_at": {"order": "asc"}}, {"id": {"order": "asc"}}]
ALERTS_NEWEST_FIRST: list[dict[str, Any]] = [{"created_at": {"order": "desc"}}, {"id": {"order": "asc"}}]
# The audit trail: by time, then in the order recorded (`seq`), then by the unique id.
EVENTS_OLDEST_FIRST: list[dict[str, Any]] = [
    {"at": {"order": "asc"}}, {"seq": {"order": "asc"}}, {"id": {"order": "asc"}},
]


def match_all() -> dict[str, Any]:
    return {"match_all": {}}


def ids(values: Sequence[str]) -> dict[str, Any]:
    return {"ids": {"values": list(values)}}


def terms(field: str, values: Sequence[str]) -> dict[str, Any]:
    return {"terms": {field: list(values)}}


def term(field: str, value: str) -> dict[str, Any]:
    return {"term": {field: value}}


def since(field: str, when: datetime) -> dict[str, Any]:
    return {"range": {field: {"gte": iso(when)}}}


def between(field: str, start: datetime, end: datetime) -> dict[str, Any]:
    """`start` <= field < `end`."""
    return {"range": {field: {"gte": iso(start), "lt": iso(end)}}}


def unscored() -> dict[str, Any]:
    """Mentions the sentiment model has not scored yet."""
    return {"bool": {"must_not": [{"exists": {"field": "sentiment.label"}}]}}


def not_delivered_to(channel: str) -> dict[str, Any]:
    """The outbox of one channel: alerts whose `delivered_to` lacks it."""
    return {"bool": {"must_not": [term("delivered_to", channel)]}}


def alerts_in_states(states: Sequence[str] | None) -> dict[str, Any]:
    return terms("state", states) if states else match_all()


def trend_aggregation(page_size: int = 1000, bucket_minutes: int = 60) -> dict[str, Any]:
    """Mentions per bucket x brand x source x sentiment label: a composite date_histogram + terms aggregation.

    Composite (rather than nested buckets) because it pages with `after`, so a long window
    never trips `search.max_buckets`. `missing_bucket` keeps unscored mentions (label null).
    """
    interval = "1h" if bucket_minutes == 60 else f"{bucket_minutes}m"
    return {
        "trend": {
            "composite": {
                "size": page_size,
                "sources": [
                    {"hour": {"date_histogram": {"field": "created_at", "fixed_interval": interval,
                                                 "time_zone": "UTC"}}},
                    {"brand": {"terms": {"field": "brand"}}},
                    {"source": {"terms": {"field": "source"}}},
                    {"label": {"terms": {"field": "sentiment.label", "missing_bucket": True}}},
                ],
            }
        }
    }


def trend_query(start: datetime | None, brand: str | None = None) -> dict[str, Any]:
    filters = []
    if start is not None:
        filters.append(since("created_at", start))
    if brand is not None:
        filters.append(term("brand", brand))
    return {"bool": {"filter": filters}} if filters else match_all()


def source_since(source: str, start: datetime) -> dict[str, Any]:
    """A source's mentions created at or after `start` (recent_mentions)."""
    return {"bool": {"filter": [term("source", source), since("created_at", start)]}}


MENTIONS_NEWEST_FIRST: list[dict[str, Any]] = [{"created_at": {"order": "desc"}}, {"id": {"order": "asc"}}]


def parse_trend(response: Mapping[str, Any]) -> tuple[list[TrendPoint], dict[str, Any] | None]:
    """The points of one composite page, and the `after` key of the next page (None when done)."""
    agg = (response.get("aggregations") or {}).get("trend") or {}
    points = [
        TrendPoint(
            bucket=datetime.fromtimestamp(bucket["key"]["hour"] / 1000, UTC),
            source=bucket["key"]["source"],
            label=bucket["key"]["label"] or UNSCORED,
            count=bucket["doc_count"],
            brand=bucket["key"]["brand"],
        )
        for bucket in agg.get("buckets", [])
    ]
    after = agg.get("after_key") if agg.get("buckets") else None
    return points, after


# -- finding mentions ----------------------------------------------------------------

# The default fields (standard analyzer, every post) and each post's own language's fields
# (stemmed: templates.LANGUAGE_ANALYZERS), so "factura" finds "facturas" in Spanish posts and an
# exact word still finds a post in any language. Each field analyses the query its own way.
TEXT_FIELDS = ["text", "title", "text_lang.*", "title_lang.*"]

# Every order ends on the unique id, so search_after neither skips nor repeats a mention.
MENTION_ORDERS: dict[MentionSort, list[dict[str, Any]]] = {
    MentionSort.newest: [{"created_at": {"order": "desc"}}, {"id": {"order": "desc"}}],
    MentionSort.oldest: [{"created_at": {"order": "asc"}}, {"id": {"order": "asc"}}],
    MentionSort.engagement: [{"engagement.total": {"order": "desc"}}, {"created_at": {"order": "desc"}},
                             {"id": {"order": "desc"}}],
}
# The types of each order's sort values (what a cursor carries): dates sort as epoch milliseconds.
MENTION_CURSOR_TYPES: dict[MentionSort, tuple[type, ...]] = {
    MentionSort.newest: (int, str),
    MentionSort.oldest: (int, str),
    MentionSort.engagement: (int, int, str),
}


def text_term(term: Term) -> dict[str, Any]:
    """One word or phrase (or the start of a word, `fact*`) in the post's text or title."""
    return {"multi_match": {"query": term.text, "fields": TEXT_FIELDS,
                            "type": "phrase_prefix" if term.prefix else "phrase"}}


def mention_search(query: MentionQuery, text: SearchText) -> dict[str, Any]:
    """The query of a mention search: the text's terms (scored) and the filters (not scored)."""
    must = [text_term(t) for t in text.include]
    must_not = [text_term(t) for t in text.exclude]
    filters: list[dict[str, Any]] = []
    for field, values in (("brand", query.brands), ("source", query.sources), ("lang", query.langs),
                          ("topic", query.topics)):
        if values:
            filters.append(terms(field, values))
    if query.sentiments:
        labels = [v for v in query.sentiments if v != UNSCORED_LABEL]
        either: list[dict[str, Any]] = [terms("sentiment.label", labels)] if labels else []
        if UNSCORED_LABEL in query.sentiments:
            either.append(unscored())
        filters.append({"bool": {"should": either, "minimum_should_match": 1}})
    bounds: dict[str, str] = {}
    if query.since is not None:
        bounds["gte"] = iso(query.since)
    if query.until is not None:
        bounds["lt"] = iso(query.until)
    if bounds:
        filters.append({"range": {"created_at": bounds}})
    if query.min_engagement is not None:
        filters.append({"range": {"engagement.total": {"gte": query.min_engagement}}})
    filters += noise_filters(query.duplicate, query.spam)
    clauses = {name: value for name, value in (("must", must), ("must_not", must_not), ("filter", filters)) if value}
    return {"bool": clauses} if clauses else match_all()


def noise_filters(duplicate: bool | None, spam: bool | None) -> list[dict[str, Any]]:
    """The filters `MentionQuery.duplicate` and `.spam` add to a mention search."""
    out: list[dict[str, Any]] = []
    copy = {"exists": {"field": "noise.duplicate_of"}}
    flagged = {"bool": {"filter": [{"term": {"noise.spam": True}}], "must_not": [{"term": {"noise.not_spam": True}}]}}
    if duplicate is not None:
        out.append(copy if duplicate else {"bool": {"must_not": [copy]}})
    if spam is not None:
        out.append(flagged if spam else {"bool": {"must_not": [flagged]}})
    return out


# -- the inbox ---------------------------------------------------------------------------


def case_candidates(states: Sequence[str], brand: str) -> dict[str, Any]:
    """The alerts a page of cases is made of: those in `states`, of `brand` if one is asked for
    (every alert of a post has its brand, so this narrows without changing any case)."""
    filters: list[dict[str, Any]] = [terms("state", states)]
    if brand:
        filters.append({"term": {"brand": {"value": brand, "case_insensitive": True}}})
    return {"bool": {"filter": filters}}


def state_counts() -> dict[str, Any]:
    """Alerts per state (a handful of states: one composite page holds them all)."""
    return {"states": {"composite": {"size": 100, "sources": [{"state": {"terms": {"field": "state"}}}]}}}


def parse_state_counts(response: Mapping[str, Any]) -> dict[str, int]:
    buckets = ((response.get("aggregations") or {}).get("states") or {}).get("buckets", [])
    return {bucket["key"]["state"]: bucket["doc_count"] for bucket in buckets}
