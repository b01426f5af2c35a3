"""The Elasticsearch store: the `Store` protocol on an Elasticsearch 8.x/9.x cluster.

Design, and why
---------------
Re-runs must be idempotent (Airflow retries tasks; sources re-fetch), and Elasticsearch has
no multi-document transactions. So every document has a deterministic `_id` and lands in
an index that is a pure function of the document itself:

* **Mentions** go to monthly indices `P-mentions-YYYY.MM` chosen by the post's
  `created_at`, `_id` = the mention id. A re-fetch finds the same index and `_id` and
  updates it in place (engagement, followers, URL; never the sentiment). A rollover alias
  or a data stream would route by *write* time instead: after a rollover the same post
  would be written again into the new index, a duplicate, and data streams do not
  update in place at all. Monthly indices keep the ILM benefits: the retention policy
  deletes a month `retention_days` after it ends (`index.lifecycle.origination_date`).
* **Engagement snapshots** go to `P-snapshots-YYYY.MM` by `observed_at`, `_id` =
  `mention_id@observed_at`, written with `op_type=create`: a snapshot stored twice is
  rejected (409) and counted as not new. Each carries the mention's brand and source,
  so Kibana can chart how fast posts spread.
* **Alerts** (`P-alerts`), the outbox log (`P-deliveries`) and source cursors
  (`P-cursors`) are small single indices. `add_alert` is `op_type=create` (insert if
  absent); state changes are read-modify-write guarded by `if_seq_no`/`if_primary_term`
  and stamp `first_response_at`/`acknowledged_at`/`resolved_at` for the dashboards.
* **Delivery claims** (`P-delivery_claims`, `_id` = the delivery's id) are taken with
  `op_type=create`, or over an expired claim with `if_seq_no`: of two senders one wins.
  **Quarantined records** (`P-quarantine`) are `op_type=create` by a deterministic id, so
  a re-run quarantines nothing twice.
* **The triage audit trail** (`P-alert_events`) is append-only: `_id` = the event's id,
  written with `op_type=create` only, never updated or deleted (a retry of the same event
  is a 409, "already there").

`record_alert_event` has to append an event *and* apply it, atomically, with no
multi-document transactions. The commit point is one single-document write: the update
of the alert, guarded by `if_seq_no`/`if_primary_term`, which sets the new state,
assignee and handling times *and* keeps the event itself in the alert (`last_event`).
Then the event is copied into `P-alert_events`. So:

* two agents acting at once both read the alert, but only one update matches its
  `_seq_no`; the other gets a 409, reads the alert again and re-applies its event to what
  is there now: a state event that expected the old state raises `triage.StateConflict`
  (the web answers 409, as with SQLite) and stores nothing; a note or an assignment is
  simply applied after the other change;
* if the writer stops between the two writes, the event is not lost: it is in the
  alert's `last_event`, `alert_events()` reads it from there, and the next change to the
  alert copies it into the index before replacing it;
* the order of events recorded at the same time is the alerts index's `_seq_no` of the
  update that applied each (one shard, so a total order, like SQLite's rowid).

`ingest` replaces SQLite's transaction with ordering: every document is built (and so
validated) before anything is sent, the batch is bulk-written, and the source cursor is
written last, only if every document was stored. A crash or a rejected document leaves
the cursor where it was, so the batch is fetched again and re-applied without
duplicates: the same outcome the protocol promises. Writes use `refresh=true` so what a
step stores is visible to the next step at once, as the protocol expects.

Adding a method means: a field or an `IndexKind` in es_templates (and a bump of its
`SCHEMA_VERSION`, so existing clusters get the new mappings), a document shape in es_docs,
and a method here, usually via `_update_alert` (read-modify-write with optimistic concurrency).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from elasticsearch import ApiError, ConflictError, Elasticsearch, NotFoundError, TransportError

from monitor.models import Alert, AlertEvent, AlertState, EngagementSnapshot, Mention, Sentiment
from monitor.store import es_docs as docs
from monitor.store import es_queries as q
from monitor.store.base import IngestResult, Quarantined, TrendPoint, check_bucket, model_head
from monitor.store.es_bulk import DEFAULT_RETRY, BulkOutcome, BulkWriteError, RetryPolicy, bulk_write
from monitor.store.es_client import ElasticsearchSettings, client_for, client_from_env
from monitor.store.es_templates import (
    KINDS,
    SCHEMA_VERSION,
    IndexNames,
    ilm_policy,
    index_template,
    mappings,
    mappings_component,
    monthly_index_settings,
    settings_component,
)
from monitor.triage import TriageError, apply_event

if TYPE_CHECKING:
    from monitor.config import Config

__all__ = ["AlertWriteContention", "ConcurrentWriteError", "ElasticsearchStore", "SetupReport", "setup_indices"]

log = logging.getLogger(__name__)

PAGE = 1000  # documents per search page
IDS_PER_LOOKUP = 500
CONFLICT_ATTEMPTS = 5  # optimistic-concurrency retries when another writer got there first
TRIAGE_ATTEMPTS = 8  # the same for a person's action on an alert, before answering "try again"
RETRY_ON_CONFLICT = 3  # Elasticsearch's own retries of a partial update that checks nothing


class ConcurrentWriteError(RuntimeError):
    """Another writer kept changing the same documents; the step fails and is retried as a whole."""


class AlertWriteContention(ConcurrentWriteError, TriageError):
    """An alert kept changing under a person's action: a triage conflict (the web answers 409)."""


# -- setup ----------------------------------------------------------------------


@dataclass(frozen=True)
class SetupReport:
    policy: str
    component_templates: list[str]
    index_templates: list[str]
    indices_created: list[str]
    mappings_updated: list[str] = field(default_factory=list)  # existing indices given the current mappings

    def lines(self) -> list[str]:
        return [
            f"ILM policy: {self.policy}",
            f"component templates: {', '.join(self.component_templates)}",
            f"index templates: {', '.join(self.index_templates)} (schema version {SCHEMA_VERSION})",
            f"indices created: {', '.join(self.indices_created) or 'none (all existed)'}",
            f"mappings applied to existing indices: {', '.join(self.mappings_updated) or 'none'}",
        ]


def setup_indices(client: Elasticsearch, names: IndexNames, retention_days: int | None) -> SetupReport:
    """Create or update the ILM policy, the templates and the single indices. Idempotent.

    PUT replaces a policy or template with the same body, so running it again changes
    nothing. Running it after an upgrade applies new mappings to the indices created from
    then on, and adds new fields to the indices that exist (mappings only ever grow, so
    this is always allowed): an existing `alerts` index or the current month's mentions
    accept the new fields at once.
    """
    client.ilm.put_lifecycle(name=names.policy, policy=ilm_policy(retention_days))
    components = [names.settings_component]
    client.cluster.put_component_template(name=names.settings_component, **_template_args(settings_component()))
    for kind in KINDS:
        name = names.mappings_component(kind.name)
        client.cluster.put_component_template(name=name, **_template_args(mappings_component(kind.name)))
        components.append(name)
    templates = []
    for kind in KINDS:
        body = index_template(names, kind.name)
        client.indices.put_index_template(
            name=names.template(kind.name),
            index_patterns=body["index_patterns"],
            composed_of=body["composed_of"],
            priority=body["priority"],
            template=body["template"],
            meta=body["_meta"],
        )
        templates.append(names.template(kind.name))
    single = [names.index(kind.name) for kind in KINDS if not kind.partitioned]
    created = [index for index in single if _create_index(client, index)]
    updated = []
    for kind in KINDS:
        target = names.pattern(kind.name)
        if target in created:
            continue  # made from the template just now
        body = mappings(kind.name)
        client.indices.put_mapping(
            index=target, properties=body["properties"], dynamic=body["dynamic"], meta=body["_meta"],
            allow_no_indices=True, ignore_unavailable=True,
        )
        updated.append(target)
    return SetupReport(names.policy, components, templates, created, updated)


def _template_args(body: dict[str, Any]) -> dict[str, Any]:
    return {"template": body["template"], "meta": body["_meta"]}


def _create_index(client: Elasticsearch, index: str, settings: dict[str, Any] | None = None) -> bool:
    """Create `index` (its template applies); False if it already existed."""
    try:
        client.indices.create(index=index, settings=settings)
    except ApiError as exc:
        if exc.status_code == 400 and error_type(exc) == "resource_already_exists_exception":
            return False
        raise
    return True


def error_type(exc: ApiError) -> str | None:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"].get("type")
    return None


def installed_schema_version(client: Elasticsearch, names: IndexNames) -> int | None:
    """The schema version Earshot's index templates under this prefix were written with
    (the oldest of them); None if any is missing."""
    found = client.options(ignore_status=404).indices.get_index_template(name=f"{names.prefix}-*").body
    templates = {t["name"]: t["index_template"] for t in found.get("index_templates", [])}
    versions = []
    for kind in KINDS:
        template = templates.get(names.template(kind.name))
        if template is None:
            return None
        versions.append(int((template.get("_meta") or {}).get("schema_version", 0)))
    return min(versions)


def is_set_up(client: Elasticsearch, names: IndexNames) -> bool:
    """Set up, and for this version of Earshot (or a newer one): nothing for `setup_indices` to do."""
    version = installed_schema_version(client, names)
    return version is not None and version >= SCHEMA_VERSION


# -- the store --------------------------------------------------------------------


@dataclass(frozen=True)
class _Located:
    """Where a stored mention is, with what optimistic concurrency needs."""

    index: str
    seq_no: int
    primary_term: int
    source: dict[str, Any]


class ElasticsearchStore:
    def __init__(
        self,
        client: Elasticsearch,
        index_prefix: str = "earshot",
        retention_days: int | None = 365,
        *,
        ensure_setup: bool = True,
        refresh: bool | str = True,
        retry: RetryPolicy = DEFAULT_RETRY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.names = IndexNames(index_prefix)
        self.retention_days = retention_days
        self.refresh = refresh
        self.retry = retry
        self._now = clock
        self._known_indices: set[str] = set()
        if ensure_setup and not is_set_up(client, self.names):
            setup_indices(client, self.names, retention_days)

    @classmethod
    def from_settings(
        cls, settings: ElasticsearchSettings, base_dir: Path | None = None, **kwargs: Any
    ) -> ElasticsearchStore:
        return cls(client_for(settings, base_dir), settings.index_prefix, settings.retention_days, **kwargs)

    @classmethod
    def from_config(cls, config: Config, **kwargs: Any) -> ElasticsearchStore:
        """The store `store.elasticsearch` describes (what `open_store` returns for that backend)."""
        return cls.from_settings(config.store.elasticsearch, config.base_dir, **kwargs)  # type: ignore[attr-defined]

    @classmethod
    def from_env(cls, index_prefix: str = "earshot", **kwargs: Any) -> ElasticsearchStore:
        """$ELASTICSEARCH_URL (+ optional $ELASTICSEARCH_API_KEY, $ELASTICSEARCH_CA_CERTS): for tests and scripts."""
        return cls(client_from_env(), index_prefix, **kwargs)

    def setup(self) -> SetupReport:
        return setup_indices(self.client, self.names, self.retention_days)

    # -- plumbing -----------------------------------------------------------------

    def _ensure_monthly(self, kind: str, when: datetime) -> str:
        index = self.names.index(kind, when)
        if index not in self._known_indices:
            _create_index(self.client, index, monthly_index_settings(when))
            self._known_indices.add(index)
        return index

    def _bulk(self, actions: list[dict[str, Any]], what: str) -> BulkOutcome:
        if not actions:
            return BulkOutcome()
        outcome = bulk_write(self.client, actions, refresh=self.refresh, retry=self.retry)
        if outcome.failed:
            raise BulkWriteError(outcome.failed, what)
        return outcome

    def _search(self, index: str, query: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return self.client.search(
            index=index, query=query, ignore_unavailable=True, allow_no_indices=True, **kwargs
        ).body

    def _get(self, index: str, doc_id: str) -> dict[str, Any]:
        """A real-time GET by id; `found` is false (no exception) when the document is absent."""
        return self.client.options(ignore_status=404).get(index=index, id=docs.safe_id(doc_id)).body

    def _hits(
        self, index: str, query: dict[str, Any], sort: list[dict[str, Any]], limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every hit of a sorted query, page by page with search_after (no 10,000 cap)."""
        after: list[Any] | None = None
        returned = 0
        while limit is None or returned < limit:
            size = PAGE if limit is None else min(PAGE, limit - returned)
            extra = {"search_after": after} if after is not None else {}
            hits = self._search(index, query, sort=sort, size=size, track_total_hits=False, **extra)["hits"]["hits"]
            yield from hits
            returned += len(hits)
            if len(hits) < size:
                return
            after = hits[-1]["sort"]

    def _locate(self, mention_ids: Iterable[str]) -> dict[str, _Located]:
        ids = list(dict.fromkeys(mention_ids))
        found: dict[str, _Located] = {}
        for start in range(0, len(ids), IDS_PER_LOOKUP):
            chunk = ids[start : start + IDS_PER_LOOKUP]
            body = self._search(
                self.names.pattern("mentions"), q.ids(chunk), size=len(chunk), seq_no_primary_term=True,
                source_includes=["brand", "source", "engagement_observed_at"],
            )
            for hit in body["hits"]["hits"]:
                found[hit["_id"]] = _Located(hit["_index"], hit["_seq_no"], hit["_primary_term"], hit["_source"])
        return found

    # -- mentions -----------------------------------------------------------------

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

        located = self._locate([*batch, *latest])
        new_snapshots = self._write_snapshots(snaps, snap_docs, batch, located)
        new, updated = self._write_mentions(batch, latest, located)
        set_aside = self._quarantine(bad, now)
        if cursor_body is not None:
            self._write_cursor(cursor_body)
        return IngestResult(new, updated, new_snapshots, quarantined=set_aside)

    def _quarantine(self, records: Sequence[Quarantined], now: datetime) -> int:
        if not records:
            return 0
        actions = [{"_op_type": "create", "_index": self.names.index("quarantine"), "_id": docs.quarantine_id(r),
                    "_source": _encodable(docs.quarantine_doc(r, now), lenient=True)} for r in records]
        return len(self._bulk(actions, "quarantined records").ids("succeeded"))  # 409: quarantined before

    def quarantined(self, limit: int = 100) -> list[Quarantined]:
        hits = self._hits(self.names.index("quarantine"), q.match_all(), [{"at": "desc"}], limit)
        return [docs.quarantine_from_doc(hit["_source"]) for hit in hits]

    def count_quarantined(self) -> int:
        return self._count("quarantine")

    def _write_snapshots(
        self,
        snaps: list[EngagementSnapshot],
        snap_docs: list[dict[str, Any]],
        batch: dict[str, tuple[Mention, dict[str, Any], dict[str, Any]]],
        located: dict[str, _Located],
    ) -> int:
        actions = []
        for s, doc in zip(snaps, snap_docs, strict=True):
            if s.mention_id in batch:
                doc.update(brand=batch[s.mention_id][0].brand, source=batch[s.mention_id][0].source)
            elif s.mention_id in located:
                stored = located[s.mention_id].source
                doc.update(brand=stored.get("brand"), source=stored.get("source"))
            index = self._ensure_monthly("snapshots", s.observed_at)
            actions.append({"_op_type": "create", "_index": index, "_id": docs.snapshot_id(s), "_source": doc})
        outcome = self._bulk(actions, "engagement snapshots")
        return len(outcome.ids("succeeded"))  # a 409 conflict is a snapshot stored before

    def _write_mentions(
        self,
        batch: dict[str, tuple[Mention, dict[str, Any], dict[str, Any]]],
        latest: dict[str, EngagementSnapshot],
        located: dict[str, _Located],
    ) -> tuple[int, int]:
        """Insert new mentions, update known ones; retry the ones another writer changed meanwhile."""
        new = updated = 0
        pending = set(batch) | set(latest)
        for attempt in range(CONFLICT_ATTEMPTS):
            if attempt:
                time.sleep(min(0.05 * 2**attempt, 1.0))
                located = self._locate(pending)
            planned = (self._mention_action(m, batch.get(m), latest.get(m), located.get(m)) for m in sorted(pending))
            actions = [action for action in planned if action is not None]
            outcome = self._bulk(actions, "mentions")
            for item in outcome.succeeded:
                if item.doc_id in batch:
                    if item.op == "create":
                        new += 1
                    else:
                        updated += 1
            pending = outcome.ids("conflicts")
            if not pending:
                return new, updated
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
        change: dict[str, Any] = dict(fetched[2]) if fetched else {}
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

    def get_mention(self, mention_id: str) -> Mention | None:
        return self.get_mentions([mention_id]).get(mention_id)

    def get_mentions(self, mention_ids: Iterable[str]) -> dict[str, Mention]:
        ids = list(dict.fromkeys(mention_ids))
        found: dict[str, Mention] = {}
        for start in range(0, len(ids), IDS_PER_LOOKUP):
            chunk = ids[start : start + IDS_PER_LOOKUP]
            body = self._search(self.names.pattern("mentions"), q.ids(chunk), size=len(chunk))
            for hit in body["hits"]["hits"]:
                found[hit["_id"]] = docs.mention_from_doc(hit["_source"])
        return found

    def _count(self, kind: str) -> int:
        resp = self.client.count(index=self.names.pattern(kind), ignore_unavailable=True, allow_no_indices=True)
        return int(resp["count"])

    def count_mentions(self) -> int:
        return self._count("mentions")

    def recent_mentions(self, source: str, since: datetime, limit: int = 1000) -> list[Mention]:
        hits = self._hits(self.names.pattern("mentions"), q.source_since(source, since), q.MENTIONS_NEWEST_FIRST, limit)
        return [docs.mention_from_doc(hit["_source"]) for hit in hits]

    def count_snapshots(self) -> int:
        return self._count("snapshots")

    def unscored_mentions(self, limit: int = 1000) -> list[Mention]:
        hits = self._hits(self.names.pattern("mentions"), q.unscored(), q.MENTIONS_BY_TIME, limit)
        return [docs.mention_from_doc(hit["_source"]) for hit in hits]

    def set_sentiments(self, results: Sequence[tuple[str, Sentiment]]) -> None:
        self._update_mentions([(mid, {"sentiment": docs.sentiment_doc(s)}) for mid, s in results], "sentiment scores")

    def set_languages(self, results: Sequence[tuple[str, str]]) -> None:
        self._update_mentions([(mid, {"lang": lang}) for mid, lang in results], "languages")

    def set_topics(self, results: Sequence[tuple[str, str, str | None]]) -> None:
        self._update_mentions([(mid, docs.topic_update(topic, team)) for mid, topic, team in results], "topic tags")

    def _update_mentions(self, changes: list[tuple[str, dict[str, Any]]], what: str) -> None:
        """Partial updates of stored mentions (unknown ids are skipped, as in SQLite).

        The fields written are this step's own, so no `if_seq_no` check: Elasticsearch
        re-applies the partial document itself if another writer got in between
        (`retry_on_conflict`); a conflict that outlives that fails the step rather than
        dropping the write silently (the pipeline would never tag the mention again).
        """
        located = self._locate(mid for mid, _ in changes)
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

    def snapshots_since(self, since: datetime) -> list[EngagementSnapshot]:
        hits = self._hits(self.names.pattern("snapshots"), q.since("observed_at", since), q.SNAPSHOTS_BY_TIME)
        return [docs.snapshot_from_doc(hit["_source"]) for hit in hits]

    def snapshots_for(self, mention_id: str) -> list[EngagementSnapshot]:
        hits = self._hits(self.names.pattern("snapshots"), q.term("mention_id", mention_id), q.SNAPSHOTS_BY_TIME)
        return [docs.snapshot_from_doc(hit["_source"]) for hit in hits]

    def latest_observation(self) -> datetime | None:
        hits = list(self._hits(self.names.pattern("snapshots"), q.match_all(), q.SNAPSHOTS_NEWEST_FIRST, limit=1))
        return docs.parse_iso(hits[0]["_source"]["observed_at"]) if hits else None

    # -- alerts -------------------------------------------------------------------

    @property
    def _alerts(self) -> str:
        return self.names.index("alerts")

    def add_alert(self, alert: Alert) -> bool:
        body = docs.alert_doc(alert)
        try:
            self.client.create(index=self._alerts, id=docs.safe_id(alert.id), document=body, refresh=self.refresh)
        except ConflictError:
            return False
        return True

    def get_alert(self, alert_id: str) -> Alert | None:
        resp = self._get(self._alerts, alert_id)
        return docs.alert_from_doc(resp["_source"]) if resp.get("found") else None

    def alerts_for(self, mention_ids: Iterable[str]) -> list[Alert]:
        ids = list(dict.fromkeys(mention_ids))
        found: list[Alert] = []
        for start in range(0, len(ids), PAGE):
            hits = self._hits(self._alerts, q.terms("mention_id", ids[start : start + PAGE]), q.ALERTS_OLDEST_FIRST)
            found += [docs.alert_from_doc(hit["_source"]) for hit in hits]
        return found

    def alerts(self, states: Sequence[AlertState] | None = None, limit: int = 200) -> list[Alert]:
        query = q.alerts_in_states([s.value for s in states] if states else None)
        hits = self._hits(self._alerts, query, q.ALERTS_NEWEST_FIRST, limit)
        return [docs.alert_from_doc(hit["_source"]) for hit in hits]

    def _update_alert(self, alert_id: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> Alert:
        """Read the alert, apply `change` (a partial document, None for no change), write it back
        only if nobody wrote in between; KeyError if there is no such alert."""
        for attempt in range(CONFLICT_ATTEMPTS):
            resp = self._get(self._alerts, alert_id)
            if not resp.get("found"):
                raise KeyError(alert_id)
            source = resp["_source"]
            partial = change(source)
            if not partial:
                return docs.alert_from_doc(source)
            try:
                self.client.update(
                    index=self._alerts, id=docs.safe_id(alert_id), doc=partial, refresh=self.refresh,
                    if_seq_no=resp["_seq_no"], if_primary_term=resp["_primary_term"],
                )
            except ConflictError:
                time.sleep(min(0.05 * 2**attempt, 1.0))
                continue
            return docs.alert_from_doc({**source, **partial})
        raise ConcurrentWriteError(f"alert {alert_id} kept changing under this update")

    def set_alert_state(self, alert_id: str, state: AlertState) -> Alert:
        now = self._now()
        return self._update_alert(alert_id, lambda doc: docs.state_change(doc, state, now))

    # -- the triage audit trail -----------------------------------------------------

    @property
    def _events(self) -> str:
        return self.names.index("alert_events")

    def record_alert_event(self, event: AlertEvent) -> Alert:
        """Apply `event` to its alert and append it to the trail; see the module docstring for how."""
        if not isinstance(event, AlertEvent):
            raise TypeError(f"expected an AlertEvent, got {type(event).__name__}")
        for attempt in range(TRIAGE_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0.01, min(0.02 * 2**attempt, 0.5)))  # jitter: no lockstep
            resp = self._get(self._alerts, event.alert_id)
            if not resp.get("found"):
                raise KeyError(event.alert_id)
            source, seq_no = resp["_source"], resp["_seq_no"]
            alert = docs.alert_from_doc(source)
            pending = source.get("last_event")
            if pending and pending.get("id") == event.id:
                self._append_event(pending, seq_no)  # a retry: finish what the first attempt began
                return alert
            if self._get(self._events, event.id).get("found"):
                return alert  # recorded before: a retry changes nothing
            updated = apply_event(alert, event)  # StateConflict, InvalidTransition: nothing is written
            if pending:  # the previous event, in case its writer stopped before copying it
                self._append_event(pending, seq_no)
            body = docs.event_doc(event, brand=alert.brand, recorded_at=self._now())
            try:
                result = self.client.update(
                    index=self._alerts, id=docs.safe_id(event.alert_id), refresh=self.refresh,
                    doc={**docs.handling_change(source, updated, event.at), "last_event": body},
                    if_seq_no=seq_no, if_primary_term=resp["_primary_term"],
                )
            except ConflictError:
                continue  # someone else changed the alert: read it again and re-apply
            try:
                self._append_event(body, result["_seq_no"])
            except (ApiError, TransportError) as exc:  # applied and kept in the alert; copied at its next change
                log.warning("event %s of alert %s is applied but not yet in %s: %s",
                            event.id, event.alert_id, self._events, exc)
            return updated
        raise AlertWriteContention(f"alert {event.alert_id} kept changing under this action; reload and try again")

    def _append_event(self, body: dict[str, Any], seq: int) -> None:
        """Copy an applied event into the append-only index; already there is fine."""
        try:
            self.client.create(
                index=self._events, id=docs.safe_id(body["id"]), document={**body, "seq": seq}, refresh=self.refresh
            )
        except ConflictError:
            pass

    def alert_events(self, alert_ids: Iterable[str]) -> list[AlertEvent]:
        ids = list(dict.fromkeys(alert_ids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), IDS_PER_LOOKUP):
            chunk = ids[start : start + IDS_PER_LOOKUP]
            for hit in self._hits(self._events, q.terms("alert_id", chunk), q.EVENTS_OLDEST_FIRST):
                found[hit["_source"]["id"]] = hit["_source"]
            # An event applied whose copy into the index has not happened (yet): it is in its alert.
            body = self._search(self._alerts, q.ids([docs.safe_id(a) for a in chunk]), size=len(chunk),
                                seq_no_primary_term=True, source_includes=["last_event"])
            for hit in body["hits"]["hits"]:
                pending = hit["_source"].get("last_event")
                if pending and pending["id"] not in found:
                    found[pending["id"]] = {**pending, "seq": hit["_seq_no"]}
        return [docs.event_from_doc(doc) for doc in sorted(found.values(), key=docs.event_order)]

    def alerts_created(self, since: datetime, until: datetime) -> list[Alert]:
        hits = self._hits(self._alerts, q.between("created_at", since, until), q.ALERTS_OLDEST_FIRST)
        return [docs.alert_from_doc(hit["_source"]) for hit in hits]

    def undelivered_alerts(self, channel: str) -> list[Alert]:
        hits = self._hits(self._alerts, q.not_delivered_to(channel), q.ALERTS_OLDEST_FIRST)
        return [docs.alert_from_doc(hit["_source"]) for hit in hits]

    def claim_delivery(self, alert_id: str, channel: str, owner: str, until: datetime, now: datetime) -> bool:
        """One conditional write decides: create the claim if there is none, or take over an
        expired one guarded by `if_seq_no`, so of two senders only one wins."""
        key = docs.delivery_id(alert_id, channel)
        if self._get(self.names.index("deliveries"), key).get("found"):
            return False
        claims = self.names.index("delivery_claims")
        held = self._get(claims, key)
        body = docs.claim_doc(alert_id, channel, owner, until)
        try:
            if not held.get("found"):
                self.client.create(index=claims, id=key, document=body, refresh=self.refresh)
                return True
            current = held["_source"]
            if current["owner"] != owner and docs.parse_iso(current["expires_at"]) > now:
                return False
            self.client.index(index=claims, id=key, document=body, refresh=self.refresh,
                              if_seq_no=held["_seq_no"], if_primary_term=held["_primary_term"])
            return True
        except ConflictError:
            return False  # another sender claimed it in between

    def release_delivery(self, alert_id: str, channel: str, owner: str) -> None:
        claims = self.names.index("delivery_claims")
        key = docs.delivery_id(alert_id, channel)
        held = self._get(claims, key)
        if held.get("found") and held["_source"]["owner"] == owner:
            try:
                self.client.delete(index=claims, id=key, refresh=self.refresh,
                                   if_seq_no=held["_seq_no"], if_primary_term=held["_primary_term"])
            except (ConflictError, NotFoundError):
                pass  # taken over or released meanwhile: not ours any more

    def mark_delivered(self, alert_id: str, channel: str) -> None:
        """Log the delivery, then take the alert out of the channel's outbox.

        In that order: a crash in between leaves the alert in the outbox, so it is sent
        again (at least once) rather than never.
        """
        try:
            self.client.create(
                index=self.names.index("deliveries"), id=docs.delivery_id(alert_id, channel),
                document=docs.delivery_doc(alert_id, channel, self._now()), refresh=self.refresh,
            )
        except ConflictError:
            pass  # delivered before; still make sure the alert says so
        try:
            self._update_alert(alert_id, lambda doc: docs.add_delivery(doc, channel))
        except KeyError:
            pass  # as in SQLite, a delivery of an unknown alert is only logged
        self.client.options(ignore_status=404).delete(
            index=self.names.index("delivery_claims"), id=docs.delivery_id(alert_id, channel), refresh=self.refresh)

    # -- dashboards ---------------------------------------------------------------

    def trend(self, since: datetime | None = None, brand: str | None = None,
              bucket_minutes: int = 60) -> list[TrendPoint]:
        check_bucket(bucket_minutes)
        points: list[TrendPoint] = []
        aggs = q.trend_aggregation(bucket_minutes=bucket_minutes)
        query = q.trend_query(since, brand)
        after: dict[str, Any] | None = None
        while True:
            if after is not None:
                aggs["trend"]["composite"]["after"] = after
            body = self._search(self.names.pattern("mentions"), query, size=0, aggs=aggs)
            page, after = q.parse_trend(body)
            points += page
            if after is None or len(page) < aggs["trend"]["composite"]["size"]:
                return sorted(points, key=lambda p: (p.bucket, p.brand, p.source, p.label))

    # -- lifecycle ----------------------------------------------------------------

    def delete_everything(self) -> None:
        """Delete every index, template and the policy under this prefix. For tests and teardown only."""
        lenient = self.client.options(ignore_status=404)
        # Wildcard deletes are refused by default (action.destructive_requires_name): resolve names first.
        for pattern in self.names.managed_indices:
            found = lenient.indices.get(index=pattern, allow_no_indices=True).body
            for index in sorted(name for name in found if isinstance(found[name], dict) and "settings" in found[name]):
                lenient.indices.delete(index=index)
        for kind in KINDS:
            lenient.indices.delete_index_template(name=self.names.template(kind.name))
        for kind in KINDS:
            lenient.cluster.delete_component_template(name=self.names.mappings_component(kind.name))
        lenient.cluster.delete_component_template(name=self.names.settings_component)
        lenient.ilm.delete_lifecycle(name=self.names.policy)
        self._known_indices.clear()

    def close(self) -> None:
        self.client.close()


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
