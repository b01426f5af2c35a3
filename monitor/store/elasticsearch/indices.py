"""What every part of the Elasticsearch store is built on: the client, the index names, and
reads and writes that page, retry and report the same way everywhere.

The store is split by what it stores (mentions.py, alerts.py, records.py); each part is a
subclass of `IndexClient`, and `ElasticsearchStore` (store.py) is all of them together.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from monitor.store.elasticsearch import docs
from monitor.store.elasticsearch.bulk import BulkOutcome, BulkWriteError, RetryPolicy, bulk_write
from monitor.store.elasticsearch.setup import create_index
from monitor.store.elasticsearch.templates import IndexNames, monthly_index_settings

PAGE = 1000  # documents per search page
IDS_PER_LOOKUP = 500
CONFLICT_ATTEMPTS = 5  # optimistic-concurrency retries when another writer got there first


class ConcurrentWriteError(RuntimeError):
    """Another writer kept changing the same documents; the step fails and is retried as a whole."""


class IndexClient:
    def __init__(
        self,
        client: Elasticsearch,
        names: IndexNames,
        *,
        refresh: bool | str,
        retry: RetryPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self.client = client
        self.names = names
        # Writes use the default refresh (false): what is read back by id (GET, mget) is seen at once
        # anyway. The indices written since their last refresh are remembered (`_dirty`); the first
        # search over one of them refreshes them, once, and `flush` (on close, at the end of every
        # pipeline step) refreshes the rest, so the next step, in this process or another, finds it.
        self.refresh = refresh
        self._dirty: set[str] = set()
        self.retry = retry
        self._now = clock
        self._known_indices: set[str] = set()

    def _ensure_monthly(self, kind: str, when: datetime) -> str:
        """The monthly index a document of `when` goes to, created (from its template) the first time."""
        index = self.names.index(kind, when)
        if index not in self._known_indices:
            create_index(self.client, index, monthly_index_settings(when))
            self._known_indices.add(index)
        return index

    def _bulk(self, actions: list[dict[str, Any]], what: str, refresh: bool | str | None = None) -> BulkOutcome:
        """Write `actions` (`refresh`: default the store's); BulkWriteError naming each document not stored."""
        if not actions:
            return BulkOutcome()
        outcome = bulk_write(self.client, actions, refresh=self.refresh if refresh is None else refresh,
                             retry=self.retry)
        self._wrote(*{action["_index"] for action in actions})
        if outcome.failed:
            raise BulkWriteError(outcome.failed, what)
        return outcome

    def _wrote(self, *indices: str) -> None:
        """Remember indices written without a refresh (nothing to remember when every write refreshes)."""
        if self.refresh in (False, "false"):
            self._dirty.update(indices)

    def _searchable(self, target: str) -> None:
        """Refresh the indices `target` covers that were written since: read-your-writes, one refresh per step."""
        patterns = target.split(",")
        due = {i for i in self._dirty if any(i == p or fnmatch.fnmatchcase(i, p) for p in patterns)}
        if due:
            self.client.indices.refresh(index=",".join(sorted(due)), ignore_unavailable=True)
            self._dirty -= due

    def flush(self) -> None:
        """Make everything written so far searchable (one refresh of the written indices, if any)."""
        if self._dirty:
            self.client.indices.refresh(index=",".join(sorted(self._dirty)), ignore_unavailable=True)
            self._dirty.clear()

    def _search(self, index: str, query: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        self._searchable(index)
        return self.client.search(
            index=index, query=query, ignore_unavailable=True, allow_no_indices=True, **kwargs
        ).body

    def _get(self, index: str, doc_id: str) -> dict[str, Any]:
        """A real-time GET by id; `found` is false (no exception) when the document is absent."""
        return self.client.options(ignore_status=404).get(index=index, id=docs.safe_id(doc_id)).body

    def _hits(
        self, index: str, query: dict[str, Any], sort: list[dict[str, Any]], limit: int | None = None,
        **search: Any,
    ) -> Iterator[dict[str, Any]]:
        """Every hit of a sorted query, page by page with search_after (no 10,000 cap)."""
        after: list[Any] | None = None
        returned = 0
        while limit is None or returned < limit:
            size = PAGE if limit is None else min(PAGE, limit - returned)
            extra = {"search_after": after} if after is not None else {}
            body = self._search(index, query, sort=sort, size=size, track_total_hits=False, **extra, **search)
            hits = body["hits"]["hits"]
            yield from hits
            returned += len(hits)
            if len(hits) < size:
                return
            after = hits[-1]["sort"]

    def _count(self, kind: str) -> int:
        self._searchable(self.names.pattern(kind))
        resp = self.client.count(index=self.names.pattern(kind), ignore_unavailable=True, allow_no_indices=True)
        return int(resp["count"])
