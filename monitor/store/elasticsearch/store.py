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
  absent); state changes are read-modify-write guarded by `if_seq_no`/`if_primary_term`,
  and keep `first_response_at`/`acknowledged_at`/`resolved_at` (as triage stamps them)
  and the durations between them for the dashboards.
* **Delivery claims** (`P-delivery_claims`, `_id` = the delivery's id) are taken with
  `op_type=create`, or over an expired claim with `if_seq_no`: of two senders one wins.
  **Quarantined records** (`P-quarantine`) are `op_type=create` by a deterministic id, so
  a re-run quarantines nothing twice.
* **The triage audit trail** (`P-alert_events`) is append-only: `_id` = the event's id,
  written with `op_type=create` only, never updated or deleted (a retry of the same event
  is a 409, "already there").

Reading pages: a mention search is a `multi_match` phrase query on the analysed `text` and
`title` fields (the standard analyzer for now: case-folded, not accent-folded), filters, and a
sort ending on the id, paged with `search_after`; the inbox's cases are grouped in Python from
the alerts of the states asked for (`monitor.store.cases`), which a query cannot group.

The parts: `mentions.py` (ingest, cursors, tags, snapshots, search), `alerts.py` (alerts, the
triage audit trail and how it stays atomic, the outbox), `records.py` (copying between
stores), `setup.py` (templates and ILM), on `indices.py` (client, paging, bulk writes).
Writes never force a refresh (`refresh=true` per write makes a tiny segment each time, and
the cluster pays for merging them): documents are read back by id (real-time GET/`mget`
into the mention's known monthly index). The indices written are remembered, and refreshed
once, together, when this store next searches them or when it is closed (every pipeline step
closes its store), so the next step finds what this one wrote: one refresh per step instead
of one per write, and no `wait_for` stall on every batch. `benchmarks/es_bulk.py` counts them.

Adding a method means: a field or an `IndexKind` in templates.py (and a bump of its
`SCHEMA_VERSION`, so existing clusters get the new mappings), a document shape in docs.py,
and a method in the part it belongs to, usually via `_update_alert` (read-modify-write with
optimistic concurrency).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from elasticsearch import Elasticsearch

from monitor.store.base import TrendPoint, check_bucket
from monitor.store.elasticsearch import queries as q
from monitor.store.elasticsearch.alerts import Alerts, AlertWriteContention
from monitor.store.elasticsearch.bulk import DEFAULT_RETRY, RetryPolicy
from monitor.store.elasticsearch.client import client_for, client_from_env
from monitor.store.elasticsearch.indices import ConcurrentWriteError
from monitor.store.elasticsearch.noise import Noise
from monitor.store.elasticsearch.records import Records
from monitor.store.elasticsearch.removals import Removals
from monitor.store.elasticsearch.settings import ElasticsearchSettings
from monitor.store.elasticsearch.setup import SetupReport, is_set_up, setup_indices
from monitor.store.elasticsearch.templates import KINDS, IndexNames

if TYPE_CHECKING:
    from monitor.config import Config

__all__ = ["AlertWriteContention", "ConcurrentWriteError", "ElasticsearchStore", "SetupReport", "setup_indices"]


class ElasticsearchStore(Noise, Alerts, Records, Removals):
    """The `Store` protocol on one cluster, under one index prefix; its parts are in the modules beside."""

    def __init__(
        self,
        client: Elasticsearch,
        index_prefix: str = "earshot",
        retention_days: int | None = 365,
        *,
        ensure_setup: bool = True,
        refresh: bool | str = False,
        retry: RetryPolicy = DEFAULT_RETRY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(client, IndexNames(index_prefix), refresh=refresh, retry=retry, clock=clock)
        self.retention_days = retention_days
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

    # -- dashboards ---------------------------------------------------------------

    def trend(self, since: datetime | None = None, brand: str | None = None,
              bucket_minutes: int = 60) -> list[TrendPoint]:
        check_bucket(bucket_minutes)
        return self._trend_points(q.trend_query(since, brand), bucket_minutes)

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
        """Make this step's writes searchable for the next one (maybe another process), then disconnect."""
        try:
            self.flush()
        finally:
            self.client.close()
