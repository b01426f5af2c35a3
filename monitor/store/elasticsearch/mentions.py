"""The Elasticsearch store's ingest side: mentions, their engagement snapshots, source cursors,
quarantined records, and the tags later steps add (sentiment, language, topic).

`ingest` replaces SQLite's transaction with ordering: every document is built (and so
validated) before anything is sent, the batch is bulk-written, and the source cursor is
written last, only if every document was stored. A crash or a rejected document leaves
the cursor where it was, so the batch is fetched again and re-applied without
duplicates: the same outcome the protocol promises.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.models import EngagementSnapshot, Mention, Reading, Sentiment, UnscoredPost
from monitor.store.base import (
    UNSCORED, IngestResult, InvalidQuery, MentionPage, MentionQuery, MentionSort, PostFacts, Quarantined, TrendPoint,
    model_head,
)
from monitor.store.elasticsearch import docs
from monitor.store.elasticsearch import queries as q
from monitor.store.elasticsearch.indices import CONFLICT_ATTEMPTS, IDS_PER_LOOKUP, ConcurrentWriteError, IndexClient
from monitor.store.paging import decode_cursor, encode_cursor
from monitor.store.search_text import parse_search

RETRY_ON_CONFLICT = 3  # Elasticsearch's own retries of a partial update that checks nothing
LOCATE_FIELDS = ("brand", "source", "engagement_observed_at", "text", "removed")


@dataclass(frozen=True)
class _LangOnly:
    """What `docs.language_doc` reads of a mention."""

    text: str
    title: str | None
    lang: str | None


@dataclass(frozen=True)
class _Located:
    """Where a stored mention is, with what optimistic concurrency needs."""

    index: str
    seq_no: int
    primary_term: int
    source: dict[str, Any]


class Mentions(IndexClient):
    """Mentions, snapshots, cursors and quarantine: what the ingest, score and detect steps read and write."""

    def _locate(self, mention_ids: Iterable[str], known: dict[str, datetime] | None = None,
                fields: Sequence[str] = LOCATE_FIELDS) -> dict[str, _Located]:
        """Where each stored mention is. Real-time: it sees writes no refresh has made searchable yet.

        A mention whose post time is `known` lives in exactly one monthly index, so it is read
        by id there (`mget`, real-time); the others are found with an `ids` query over every
        month, which sees what the last refresh made visible (each step refreshes its batch once,
        with `wait_for`, so the next step finds it).
        """
        ids = list(dict.fromkeys(mention_ids))
        known = known or {}
        found: dict[str, _Located] = {}
        direct = [(mid, self.names.index("mentions", known[mid])) for mid in ids if mid in known]
        for start in range(0, len(direct), IDS_PER_LOOKUP):
            chunk = direct[start : start + IDS_PER_LOOKUP]
            docs_ = [{"_index": index, "_id": docs.safe_id(mid)} for mid, index in chunk]
            body = self.client.mget(docs=docs_, source_includes=list(fields)).body
            for (mid, _), doc in zip(chunk, body["docs"], strict=True):
                if doc.get("found"):
                    found[mid] = _Located(doc["_index"], doc["_seq_no"], doc["_primary_term"], doc["_source"])
        searched = [mid for mid in ids if mid not in known]
        for start in range(0, len(searched), IDS_PER_LOOKUP):
            chunk = searched[start : start + IDS_PER_LOOKUP]
            body = self._search(
                self.names.pattern("mentions"), q.ids(chunk), size=len(chunk), seq_no_primary_term=True,
                source_includes=list(fields),
            )
            for hit in body["hits"]["hits"]:
                found[hit["_id"]] = _Located(hit["_index"], hit["_seq_no"], hit["_primary_term"], hit["_source"])
        return found

    def ingest(
        self,
        mentions: Sequence[Mention],
        snapshots: Sequence[EngagementSnapshot],
        cursor_key: str | None = None,
        cursor: str | None = None,
        quarantine: Sequence[Quarantined] = (),
    ) -> IngestResult:
        now = self._now()
        # Build every document first: a malformed batch fails here, before anything is written;
        # a mention that cannot become a document (a lone surrogate) is quarantined instead.
        batch: dict[str, tuple[Mention, dict[str, Any], dict[str, Any]]] = {}
        bad = list(quarantine)
        for m in _checked(mentions, Mention):
            try:
                made = (m, _encodable(docs.mention_doc(m, now)), _encodable(docs.refetch_update(m)))
            except (UnicodeEncodeError, ValueError) as exc:
                bad.append(Quarantined(m.source, m.id, f"cannot be stored: {type(exc).__name__}: {exc}"[:300],
                                       model_head(m)))
                continue
            batch[m.id] = made
        dropped = {q.where for q in bad}
        snaps = [s for s in _checked(snapshots, EngagementSnapshot) if s.mention_id not in dropped]
        snap_docs = [docs.snapshot_doc(s) for s in snaps]
        cursor_body = None
        if cursor_key is not None and cursor is not None:
            cursor_body = docs.cursor_doc(cursor_key, cursor, now)

        latest: dict[str, EngagementSnapshot] = {}
        for s in snaps:  # the newest snapshot of each mention in this batch (the later one on a tie)
            if s.mention_id not in latest or s.observed_at >= latest[s.mention_id].observed_at:
                latest[s.mention_id] = s

        located = self._locate([*batch, *latest], known={mid: made[0].created_at for mid, made in batch.items()})
        # One bulk request for the batch, without a refresh (see IndexClient: one per step, when needed).
        snapshot_actions = self._snapshot_actions(snaps, snap_docs, batch, located)
        new, updated, new_snapshots = self._write_mentions(batch, latest, located, snapshot_actions)
        set_aside = self._quarantine(bad, now)
        if cursor_body is not None:
            self._write_cursor(cursor_body)
        return IngestResult(new, updated, new_snapshots, quarantined=set_aside)

    def _quarantine(self, records: Sequence[Quarantined], now: datetime) -> int:
        if not records:
            return 0
        actions = [{"_op_type": "create", "_index": self.names.index("quarantine"), "_id": docs.quarantine_id(r),
                    "_source": _encodable(docs.quarantine_doc(r, now), lenient=True)} for r in records]
        outcome = self._bulk(actions, "quarantined records")
        return len(outcome.ids("succeeded"))  # 409: quarantined before

    def quarantined(self, limit: int = 100) -> list[Quarantined]:
        hits = self._hits(self.names.index("quarantine"), q.match_all(), [{"at": "desc"}], limit)
        return [docs.quarantine_from_doc(hit["_source"]) for hit in hits]

    def count_quarantined(self) -> int:
        return self._count("quarantine")

    def _snapshot_actions(
        self,
        snaps: list[EngagementSnapshot],
        snap_docs: list[dict[str, Any]],
        batch: dict[str, tuple[Mention, dict[str, Any], dict[str, Any]]],
        located: dict[str, _Located],
    ) -> list[dict[str, Any]]:
        actions = []
        for s, doc in zip(snaps, snap_docs, strict=True):
            if s.mention_id in batch:
                doc.update(brand=batch[s.mention_id][0].brand, source=batch[s.mention_id][0].source)
            elif s.mention_id in located:
                stored = located[s.mention_id].source
                doc.update(brand=stored.get("brand"), source=stored.get("source"))
            index = self._ensure_monthly("snapshots", s.observed_at)
            actions.append({"_op_type": "create", "_index": index, "_id": docs.snapshot_id(s), "_source": doc})
        return actions

    def _write_mentions(
        self,
        batch: dict[str, tuple[Mention, dict[str, Any], dict[str, Any]]],
        latest: dict[str, EngagementSnapshot],
        located: dict[str, _Located],
        snapshot_actions: list[dict[str, Any]],
    ) -> tuple[int, int, int]:
        """Store the snapshots, insert new mentions, update known ones; retry the mentions another
        writer changed meanwhile. Returns (new, updated, new snapshots)."""
        new = updated = 0
        pending = set(batch) | set(latest)
        known = {mid: made[0].created_at for mid, made in batch.items()}
        snapshots = f"{self.names.alias('snapshots')}-"
        new_snapshots = 0
        for attempt in range(CONFLICT_ATTEMPTS):
            if attempt:
                time.sleep(min(0.05 * 2**attempt, 1.0))
                located = self._locate(pending, known)
            planned = (self._mention_action(m, batch.get(m), latest.get(m), located.get(m)) for m in sorted(pending))
            actions = [action for action in planned if action is not None]
            first, snapshot_actions = snapshot_actions, []  # snapshots go once: a 409 is "stored before"
            outcome = self._bulk(first + actions, "mentions and engagement snapshots")
            for item in outcome.succeeded:
                if item.index.startswith(snapshots):
                    new_snapshots += 1
                elif item.doc_id in batch:
                    if item.op == "create":
                        new += 1
                    else:
                        updated += 1
            pending = {item.doc_id for item in outcome.conflicts if not item.index.startswith(snapshots)}
            if not pending:
                return new, updated, new_snapshots
        raise ConcurrentWriteError(f"mentions kept changing under this write: {', '.join(sorted(pending)[:10])}")

    def _mention_action(
        self,
        mention_id: str,
        fetched: tuple[Mention, dict[str, Any], dict[str, Any]] | None,
        snapshot: EngagementSnapshot | None,
        stored: _Located | None,
    ) -> dict[str, Any] | None:
        if stored is None:
            if fetched is None:
                return None  # a snapshot of a mention this store never had: nothing to update
            mention, doc, _ = fetched
            if snapshot is not None:
                doc = {**doc, "engagement": docs.engagement_doc(snapshot.engagement),
                       "engagement_observed_at": docs.iso(snapshot.observed_at)}
            index = self._ensure_monthly("mentions", mention.created_at)
            return {"_op_type": "create", "_index": index, "_id": mention_id, "_source": doc}
        if stored.source.get("removed"):
            return None  # a tombstone: a late copy of a removed post must not bring it back
        change: dict[str, Any] = dict(fetched[2]) if fetched else {}
        if fetched and "text" in stored.source and stored.source["text"] != fetched[0].text:
            change.update(docs.edit_update(fetched[0]))  # an edit: the new text, scored afresh
        observed = stored.source.get("engagement_observed_at")
        if snapshot is not None and (observed is None or snapshot.observed_at >= docs.parse_iso(observed)):
            change["engagement"] = docs.engagement_doc(snapshot.engagement)
            change["engagement_observed_at"] = docs.iso(snapshot.observed_at)
        if not change:
            return None
        return {
            "_op_type": "update", "_index": stored.index, "_id": mention_id, "doc": change,
            "if_seq_no": stored.seq_no, "if_primary_term": stored.primary_term,
        }

    def get_cursor(self, key: str) -> str | None:
        resp = self._get(self.names.index("cursors"), key)
        return resp["_source"]["value"] if resp.get("found") else None

    def set_cursor(self, key: str, value: str) -> None:
        self._write_cursor(docs.cursor_doc(key, value, self._now()))

    def _write_cursor(self, body: dict[str, Any]) -> None:
        self.client.index(
            index=self.names.index("cursors"), id=docs.safe_id(body["key"]), document=body, refresh=self.refresh
        )
        self._wrote(self.names.index("cursors"))

    def _trend_points(self, query: dict[str, Any], bucket_minutes: int) -> list[TrendPoint]:
        """Mentions matching `query` counted per bucket, brand, source and label, every page of
        the composite aggregation read (the mention trend and the copies' trend share it)."""
        points: list[TrendPoint] = []
        aggs = q.trend_aggregation(bucket_minutes=bucket_minutes)
        after: dict[str, Any] | None = None
        while True:
            if after is not None:
                aggs["trend"]["composite"]["after"] = after
            body = self._search(self.names.pattern("mentions"), query, size=0, aggs=aggs)
            page, after = q.parse_trend(body)
            points += page
            if after is None or len(page) < aggs["trend"]["composite"]["size"]:
                return sorted(points, key=lambda p: (p.bucket, p.brand, p.source, p.label))

    def get_mention(self, mention_id: str) -> Mention | None:
        return self.get_mentions([mention_id]).get(mention_id)

    def get_mentions(self, mention_ids: Iterable[str]) -> dict[str, Mention]:
        return {mid: docs.mention_from_doc(source) for mid, source in self._mention_docs(mention_ids)}

    def _mention_docs(self, mention_ids: Iterable[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        """(id, document) of each of these mentions that is stored, in searches of IDS_PER_LOOKUP ids."""
        ids = list(dict.fromkeys(mention_ids))
        for start in range(0, len(ids), IDS_PER_LOOKUP):
            chunk = ids[start : start + IDS_PER_LOOKUP]
            body = self._search(self.names.pattern("mentions"), q.ids(chunk), size=len(chunk))
            for hit in body["hits"]["hits"]:
                yield hit["_id"], hit["_source"]

    def count_mentions(self) -> int:
        return self._count("mentions")

    def search_mentions(self, query: MentionQuery) -> MentionPage:
        """A text query on the analysed `text` and `title` fields, filters, and a sort ending on the
        id, paged with `search_after` (the cursor carries the last hit's sort values)."""
        if query.limit < 1:
            raise InvalidQuery("limit: at least 1")
        sort = MentionSort(query.sort)
        order = f"mentions:{sort.value}"
        extra: dict[str, Any] = {}
        if query.cursor is not None:
            extra["search_after"] = decode_cursor(query.cursor, order, q.MENTION_CURSOR_TYPES[sort])
        body = self._search(self.names.pattern("mentions"), q.mention_search(query, parse_search(query.text)),
                            sort=q.MENTION_ORDERS[sort], size=query.limit + 1, track_total_hits=False, **extra)
        hits = body["hits"]["hits"]
        page = hits[: query.limit]
        next_cursor = encode_cursor(order, page[-1]["sort"]) if len(hits) > query.limit else None
        return MentionPage([docs.mention_from_doc(hit["_source"]) for hit in page], next_cursor)

    def recent_mentions(self, source: str, since: datetime, limit: int = 1000) -> list[Mention]:
        hits = self._hits(self.names.pattern("mentions"), q.source_since(source, since), q.MENTIONS_NEWEST_FIRST, limit)
        return [docs.mention_from_doc(hit["_source"]) for hit in hits]

    def count_snapshots(self) -> int:
        return self._count("snapshots")

    def unscored_mentions(self, limit: int = 1000) -> list[Mention]:
        hits = self._hits(self.names.pattern("mentions"), q.unscored(), q.MENTIONS_BY_TIME, limit)
        return [docs.mention_from_doc(hit["_source"]) for hit in hits]

    def unscored_posts(self, limit: int = 1000, brand: str | None = None, since: datetime | None = None,
                       until: datetime | None = None) -> list[UnscoredPost]:
        # The mention search's own filters: brand, unscored, created in [since, until).
        pending = MentionQuery(brands=(brand,) if brand is not None else (), sentiments=(UNSCORED,), since=since,
                               until=until)
        hits = self._hits(self.names.pattern("mentions"), q.mention_search(pending, parse_search("")),
                          q.MENTIONS_BY_TIME, limit, source_includes=["id", "text", "title", "lang", "rating"])
        return [UnscoredPost(s["id"], s["text"], s.get("title"), s.get("lang"), s.get("rating"))
                for s in (hit["_source"] for hit in hits)]

    def set_sentiments(self, results: Sequence[tuple[str, Sentiment]]) -> None:
        self._update_mentions([(mid, {"sentiment": docs.sentiment_doc(s)}) for mid, s in results], "sentiment scores")

    def set_languages(self, results: Sequence[tuple[str, str]]) -> None:
        """The language, and the text under it: its stemming analyzer applies from now on."""
        located = self._locate([mid for mid, _ in results], fields=("text", "title"))
        changes = []
        for mid, lang in results:
            if mid in located:
                stored = located[mid].source
                mention = _LangOnly(stored.get("text") or "", stored.get("title"), lang)
                changes.append((mid, {"lang": lang, **docs.language_doc(mention)}))
        self._update_mentions(changes, "languages", located)

    def set_topics(self, results: Sequence[tuple[str, str, str | None]]) -> None:
        self._update_mentions([(mid, docs.topic_update(topic, team)) for mid, topic, team in results], "topic tags")

    def _update_mentions(self, changes: list[tuple[str, dict[str, Any]]], what: str,
                         located: dict[str, _Located] | None = None) -> None:
        """Partial updates of stored mentions (unknown ids are skipped, as in SQLite).

        The fields written are this step's own, so no `if_seq_no` check: Elasticsearch
        re-applies the partial document itself if another writer got in between
        (`retry_on_conflict`); a conflict that outlives that fails the step rather than
        dropping the write silently (the pipeline would never tag the mention again).
        """
        located = located if located is not None else self._locate(mid for mid, _ in changes)
        actions = [
            {"_op_type": "update", "_index": located[mid].index, "_id": mid, "doc": change,
             "retry_on_conflict": RETRY_ON_CONFLICT}
            for mid, change in changes
            if mid in located
        ]
        outcome = self._bulk(actions, what)
        if outcome.conflicts:
            raise ConcurrentWriteError(
                f"{what}: mentions kept changing under this write: {', '.join(sorted(outcome.ids('conflicts'))[:10])}"
            )

    # -- snapshots ----------------------------------------------------------------

    def snapshots_since(self, since: datetime, until: datetime | None = None,
                        brand: str | None = None) -> list[EngagementSnapshot]:
        window: dict[str, Any] = {"gte": q.iso(since)}
        if until is not None:
            window["lte"] = q.iso(until)
        filters: list[dict[str, Any]] = [{"range": {"observed_at": window}}]
        if brand is not None:
            # Snapshots carry their mention's brand when it was known as they were stored; the
            # others are read too (the detector keeps only the brand's mentions).
            filters.append({"bool": {"should": [q.term("brand", brand), {"bool": {"must_not": {"exists": {
                "field": "brand"}}}}], "minimum_should_match": 1}})
        hits = self._hits(self.names.pattern("snapshots"), {"bool": {"filter": filters}}, q.SNAPSHOTS_BY_TIME)
        return [docs.snapshot_from_doc(hit["_source"]) for hit in hits]

    def engagement_points(self, since: datetime, until: datetime | None = None,
                          brand: str | None = None) -> list[tuple[str, datetime, int]]:
        return [(s.mention_id, s.observed_at, s.engagement.total) for s in self.snapshots_since(since, until, brand)]

    def post_facts(self, mention_ids: Iterable[str]) -> dict[str, PostFacts]:
        return {mid: PostFacts(m.brand, m.created_at, m.is_negative) for mid, m in self.get_mentions(mention_ids).items()}

    def snapshots_for(self, mention_id: str) -> list[EngagementSnapshot]:
        hits = self._hits(self.names.pattern("snapshots"), q.term("mention_id", mention_id), q.SNAPSHOTS_BY_TIME)
        return [docs.snapshot_from_doc(hit["_source"]) for hit in hits]

    def snapshots_of(self, mention_ids: Iterable[str]) -> dict[str, list[EngagementSnapshot]]:
        found: dict[str, list[EngagementSnapshot]] = {}
        for doc in self._snapshot_docs_of(mention_ids):
            found.setdefault(doc["mention_id"], []).append(docs.snapshot_from_doc(doc))
        return found

    def readings_of(self, mention_ids: Iterable[str]) -> dict[str, list[Reading]]:
        found: dict[str, list[Reading]] = {}
        for doc in self._snapshot_docs_of(mention_ids):
            found.setdefault(doc["mention_id"], []).append(docs.reading_from_doc(doc))
        return found

    def _snapshot_docs_of(self, mention_ids: Iterable[str]) -> Iterator[dict[str, Any]]:
        """The snapshot documents of these mentions, a lookup per `IDS_PER_LOOKUP` of them, each's oldest first."""
        ids = list(dict.fromkeys(mention_ids))
        for start in range(0, len(ids), IDS_PER_LOOKUP):
            query = q.terms("mention_id", ids[start : start + IDS_PER_LOOKUP])
            for hit in self._hits(self.names.pattern("snapshots"), query, q.SNAPSHOTS_BY_TIME):
                yield hit["_source"]

    def latest_observation(self) -> datetime | None:
        hits = list(self._hits(self.names.pattern("snapshots"), q.match_all(), q.SNAPSHOTS_NEWEST_FIRST, limit=1))
        return docs.parse_iso(hits[0]["_source"]["observed_at"]) if hits else None


def _encodable(doc: Any, lenient: bool = False) -> Any:
    """`doc` if it can be sent as UTF-8 JSON; UnicodeEncodeError (or, `lenient`, escaped text) if not."""
    if isinstance(doc, str):
        try:
            doc.encode("utf-8")
        except UnicodeEncodeError:
            if not lenient:
                raise
            return doc.encode("utf-8", "backslashreplace").decode("utf-8")
        return doc
    if isinstance(doc, dict):
        return {k: _encodable(v, lenient) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_encodable(v, lenient) for v in doc]
    return doc


def _checked(items: Sequence[Any], kind: type) -> Iterator[Any]:
    for item in items:
        if not isinstance(item, kind):
            raise TypeError(f"expected {kind.__name__}, got {type(item).__name__}")
        yield item
