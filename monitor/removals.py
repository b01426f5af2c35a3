"""Deletions, suspensions, retention and the right to erasure: what Earshot must forget, and how.

Platform terms require a post that is deleted or no longer public to disappear from stored
copies (X: within 24 hours of notice). Sources report such posts as `Removal`s (a refresh that
finds a post gone, a `[removed]` body in a listing); `apply_removals` turns them into
tombstones. `purge_expired` enforces `retention_days`; `forget_author` erases one author's
posts on request (GDPR art. 17). Each writes an entry to the store's erasure audit log, which
records the fact (what, why, who, how many), never the erased data.

A tombstone keeps the mention's id, source, brand, times, engagement, snapshots and alerts,
so counts and the care team's triage history stay whole; its text, title, author and URL are
purged and the inbox shows the case as removed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import uuid4

from monitor.config import Config
from monitor.sources.base import Removal
from monitor.store.base import Erasure, Store

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "earshot"  # who purges what a platform or the retention period asked for


def apply_removals(store: Store, removals: Sequence[Removal], now: datetime, actor: str = SYSTEM_ACTOR) -> int:
    """Tombstone the removed posts the store has; one audit entry per source and reason."""
    if not removals:
        return 0
    done = store.tombstone([(r.mention_id, r.reason) for r in removals], now)
    by_kind: dict[tuple[str, str], int] = defaultdict(int)
    for r in removals:
        by_kind[(r.mention_id.split(":", 1)[0], r.reason)] += 1
    if done:
        for (source, reason), reported in sorted(by_kind.items()):
            store.add_erasure(Erasure(uuid4().hex, now, actor, "removed", source,
                                      f"{reason}: the platform no longer shows {reported} post(s)", done))
        log.info("tombstoned %d removed post(s)", done)
    return done


def retention_days(config: Config) -> int | None:
    """How long the configured store keeps mentions and snapshots (None: for ever)."""
    if config.store.backend == "elasticsearch":
        return config.store.elasticsearch.retention_days
    return config.store.retention_days


def purge_expired(store: Store, days: int | None, now: datetime, actor: str = SYSTEM_ACTOR) -> tuple[int, int]:
    """Delete what is older than `days` (a mention an alert refers to stays, as a tombstone)."""
    if days is None:
        return 0, 0
    cutoff = now - timedelta(days=days)
    mentions, snapshots = store.purge_older_than(cutoff)
    if mentions or snapshots:
        store.add_erasure(Erasure(uuid4().hex, now, actor, "retention", cutoff.isoformat(),
                                  f"retention_days={days}", mentions, snapshots))
    return mentions, snapshots


def forget_author(store: Store, handle: str, now: datetime, *, source: str | None = None, actor: str,
                  reason: str) -> Erasure:
    """Erase every stored post of one author (the right to erasure), and log that it was done."""
    handle = handle.strip().removeprefix("@")
    if not handle:
        raise ValueError("give the author's handle")
    ids = store.mention_ids_by_author(handle, source)
    done = store.tombstone([(mid, "forgotten") for mid in ids], now)
    entry = Erasure(uuid4().hex, now, actor, "forget", f"{source or '*'}:{handle}", reason, done)
    store.add_erasure(entry)
    return entry
