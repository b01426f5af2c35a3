"""The Elasticsearch store's noise records (monitor/noise): each mention's mark, on the mention itself.

A mark lives in the mention document's `noise` object (monitor/store/elasticsearch/templates.py),
so the mention search filters copies and spam in the same query as everything else, and the
LSH index is a `terms` query on `noise.bands`. A mark is written as a partial update that never
carries `not_spam`: a person's verdict is its own field, which re-judging leaves as it is.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from monitor.models import Mention
from monitor.noise.marks import ClusterStats, NoiseMark, NoisePost
from monitor.store.base import TrendPoint, check_bucket
from monitor.store.elasticsearch import docs
from monitor.store.elasticsearch import queries as q
from monitor.store.elasticsearch.mentions import Mentions

TERMS_PER_QUERY = 10_000  # well under index.max_terms_count (65,536)


def noise_doc(mark: NoiseMark, judged_at: datetime) -> dict[str, Any]:
    return {"noise": {
        "judged_at": docs.iso(judged_at), "duplicate_of": mark.duplicate_of, "bands": list(mark.bands),
        "signature": base64.b64encode(mark.signature).decode("ascii"), "spam_score": float(mark.spam_score),
        "spam_reasons": list(mark.spam_reasons), "spam": bool(mark.spam),
    }}


def mark_from_doc(source: dict[str, Any], bands: Iterable[str] | None = None) -> NoiseMark | None:
    n = source.get("noise") or {}
    if not n.get("judged_at"):
        return None
    return NoiseMark(
        mention_id=source["id"], brand=source["brand"], author_handle=source["author_handle"],
        author_followers=source["author_followers"], created_at=docs.parse_iso(source["created_at"]),
        duplicate_of=n.get("duplicate_of"), bands=tuple(n.get("bands") or () if bands is None else bands),
        signature=base64.b64decode(n.get("signature") or ""), spam_score=float(n.get("spam_score") or 0.0),
        spam_reasons=tuple(n.get("spam_reasons") or ()), spam=bool(n.get("spam")), not_spam=bool(n.get("not_spam")),
    )


class Noise(Mentions):
    """The noise part of `ElasticsearchStore` (the protocol's noise methods)."""

    def unmarked_mentions(self, limit: int = 1000) -> list[Mention]:
        return [docs.mention_from_doc(hit["_source"]) for hit in self._unjudged_hits(limit)]

    def unjudged_posts(self, limit: int = 1000, since: datetime | None = None,
                       brand: str | None = None) -> list[NoisePost]:
        return [NoisePost.of(docs.mention_from_doc(hit["_source"]))
                for hit in self._unjudged_hits(limit, since, brand)]

    def _unjudged_hits(self, limit: int, since: datetime | None = None,
                       brand: str | None = None) -> Iterator[dict[str, Any]]:
        filters: list[dict[str, Any]] = []
        if since is not None:  # at or after: the index keeps milliseconds, so the bound takes its whole one
            filters.append(q.since("created_at", since))
        if brand is not None:
            filters.append(q.term("brand", brand))
        query: dict[str, Any] = {"bool": {"must_not": [{"exists": {"field": "noise.judged_at"}}]}}
        if filters:
            query["bool"]["filter"] = filters
        return self._hits(self.names.pattern("mentions"), query, q.MENTIONS_BY_TIME, limit)

    def noise_candidates(self, bands: Iterable[str], since: datetime, until: datetime | None = None
                         ) -> list[NoiseMark]:
        keys = list(dict.fromkeys(bands))
        found: dict[str, NoiseMark] = {}
        for start in range(0, len(keys), TERMS_PER_QUERY):
            chunk = keys[start:start + TERMS_PER_QUERY]
            wanted = set(chunk)
            when = q.since("created_at", since)
            if until is not None:
                when["range"]["created_at"]["lte"] = docs.iso(until)
            query = {"bool": {"filter": [q.terms("noise.bands", chunk), when]}}
            for hit in self._hits(self.names.pattern("mentions"), query, q.MENTIONS_BY_TIME):
                source = hit["_source"]
                shared = [b for b in (source.get("noise") or {}).get("bands") or () if b in wanted]
                mark = mark_from_doc(source, shared)
                if mark is not None:
                    old = found.get(mark.mention_id)
                    found[mark.mention_id] = mark if old is None else NoiseMark(
                        **{**mark.__dict__, "bands": tuple(dict.fromkeys(old.bands + mark.bands))})
        return list(found.values())

    def newest_judged(self, brand: str | None = None) -> datetime | None:
        newest = [{"created_at": {"order": "desc"}}, {"id": {"order": "desc"}}]
        judged: dict[str, Any] = {"exists": {"field": "noise.judged_at"}}
        if brand is not None:
            judged = {"bool": {"filter": [judged, q.term("brand", brand)]}}
        hits = list(self._hits(self.names.pattern("mentions"), judged, newest, 1))
        return docs.parse_iso(hits[0]["_source"]["created_at"]) if hits else None

    def set_noise(self, marks: Sequence[NoiseMark]) -> None:
        now = self._now()
        self._update_mentions([(m.mention_id, noise_doc(m, now)) for m in marks], "noise marks")

    def noise_of(self, mention_ids: Iterable[str], copies_only: bool = False) -> dict[str, NoiseMark]:
        marks = (mark_from_doc(source) for _, source in self._mention_docs(mention_ids))
        return {mark.mention_id: mark for mark in marks
                if mark is not None and (mark.duplicate_of or not copies_only)}

    def clusters(self, root_ids: Iterable[str]) -> dict[str, ClusterStats]:
        ids = list(dict.fromkeys(root_ids))
        if not ids:
            return {}
        roots = {m.mention_id: m.author_handle for m in self.noise_of(ids).values()}
        copies: dict[str, list[dict[str, Any]]] = {}
        for start in range(0, len(ids), TERMS_PER_QUERY):
            query = q.terms("noise.duplicate_of", ids[start:start + TERMS_PER_QUERY])
            for hit in self._hits(self.names.pattern("mentions"), query, q.MENTIONS_BY_TIME):
                source = hit["_source"]
                copies.setdefault(source["noise"]["duplicate_of"], []).append(source)
        out = {}
        for root, members in copies.items():
            others = {m["author_handle"] for m in members} - {roots.get(root, "")}
            out[root] = ClusterStats(
                root, copies=len(members), accounts=1 + len(others),
                engagement=sum(int((m.get("engagement") or {}).get("total") or 0) for m in members),
                last_copy_at=max(docs.parse_iso(m["created_at"]) for m in members),
                sources=tuple(sorted({m["source"] for m in members})),
            )
        return out

    def set_not_spam(self, mention_id: str, not_spam: bool) -> NoiseMark:
        if mention_id not in self.noise_of([mention_id]):
            raise KeyError(mention_id)
        self._update_mentions([(mention_id, {"noise": {"not_spam": bool(not_spam)}})], "spam verdict")
        return self.noise_of([mention_id])[mention_id]

    def duplicate_trend(self, since: datetime | None = None, brand: str | None = None,
                        bucket_minutes: int = 60) -> list[TrendPoint]:
        check_bucket(bucket_minutes)
        copies = {"exists": {"field": "noise.duplicate_of"}}
        return self._trend_points({"bool": {"filter": [q.trend_query(since, brand), copies]}}, bucket_minutes)
