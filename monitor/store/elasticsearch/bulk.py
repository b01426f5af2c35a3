"""Bulk writes with per-document outcomes: retried when transient, reported by id when not.

`elasticsearch.helpers.streaming_bulk` sends the chunks; a document rejected with a
transient status (429 too many requests, 502/503/504 while a shard relocates or a node
restarts) is sent again with exponential backoff. What still fails is returned, each
with its index, `_id`, status and Elasticsearch's reason, so the caller can say which
post could not be stored (a mapping error names its field) — and, in `ingest`, keep the
source cursor where it was so the batch is fetched again.

409 conflicts are neither retried nor failures here: for a `create` they mean "already
stored" (how snapshots, alerts and deliveries stay unique), for an `update` with
`if_seq_no` they mean "someone else wrote first"; the caller decides.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

log = logging.getLogger(__name__)

TRANSIENT_STATUSES = (429, 502, 503, 504)
CONFLICT = 409


@dataclass(frozen=True)
class ItemResult:
    op: str  # create, index, update, delete
    index: str
    doc_id: str
    status: int
    result: str | None = None  # created, updated, noop, ...
    error_type: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def describe(self) -> str:
        return f"{self.op} {self.index}/{self.doc_id}: {self.status} {self.error_type}: {self.reason}"


@dataclass
class BulkOutcome:
    succeeded: list[ItemResult] = field(default_factory=list)
    conflicts: list[ItemResult] = field(default_factory=list)
    failed: list[ItemResult] = field(default_factory=list)

    def ids(self, bucket: str, op: str | None = None) -> set[str]:
        return {item.doc_id for item in getattr(self, bucket) if op is None or item.op == op}


class BulkWriteError(RuntimeError):
    """Some documents could not be stored; `failures` names each one (never its content)."""

    def __init__(self, failures: list[ItemResult], what: str = "documents") -> None:
        self.failures = failures
        shown = "; ".join(item.describe() for item in failures[:10])
        more = f" (and {len(failures) - 10} more)" if len(failures) > 10 else ""
        super().__init__(f"{len(failures)} of the {what} could not be stored in Elasticsearch: {shown}{more}")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to insist on transient rejections before reporting them as failures."""

    max_retries: int = 5
    initial_backoff: float = 0.5  # seconds; doubles per retry
    max_backoff: float = 30.0


DEFAULT_RETRY = RetryPolicy()


def _item_result(op: str, info: Mapping[str, Any]) -> ItemResult:
    error = info.get("error")
    if isinstance(error, Mapping):
        error_type, reason = error.get("type"), error.get("reason")
        if caused := error.get("caused_by"):
            reason = f"{reason} (caused by {caused.get('type')}: {caused.get('reason')})"
    else:  # a whole request failed (helpers put the exception text here)
        error_type, reason = (None, str(error)) if error else (None, None)
    status = info.get("status")
    return ItemResult(
        op=op,
        index=str(info.get("_index", "")),
        doc_id=str(info.get("_id", "")),
        status=status if isinstance(status, int) else 599,  # "N/A" when the connection itself failed
        result=info.get("result"),
        error_type=error_type,
        reason=reason,
    )


def bulk_write(
    client: Elasticsearch,
    actions: Iterable[dict[str, Any]],
    *,
    refresh: bool | str = False,
    retry: RetryPolicy = DEFAULT_RETRY,
    chunk_size: int = 500,
) -> BulkOutcome:
    """Send `actions` (helpers-style dicts with `_op_type`, `_index`, `_id`) and sort every outcome.

    Never raises for a document's failure — see `BulkOutcome.failed`; connection errors
    that outlive the client's own retries do raise.
    """
    outcome = BulkOutcome()
    for ok, item in streaming_bulk(
        client,
        actions,
        chunk_size=chunk_size,
        max_retries=retry.max_retries,
        initial_backoff=retry.initial_backoff,
        max_backoff=retry.max_backoff,
        retry_on_status=TRANSIENT_STATUSES,
        raise_on_error=False,
        raise_on_exception=False,
        yield_ok=True,
        refresh=refresh,
    ):
        op, info = next(iter(item.items()))
        result = _item_result(op, info)
        if ok:
            outcome.succeeded.append(result)
        elif result.status == CONFLICT:
            outcome.conflicts.append(result)
        else:
            if result.status in TRANSIENT_STATUSES:
                result = replace(result, reason=f"{result.reason} (after {retry.max_retries} retries)")
            log.warning("Elasticsearch rejected %s", result.describe())
            outcome.failed.append(result)
    return outcome
