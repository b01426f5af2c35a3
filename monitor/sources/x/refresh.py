"""Current engagement of stored posts, looked up 100 ids per request."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from datetime import datetime

from pydantic import ValidationError

from monitor.models import EngagementSnapshot, Mention
from monitor.sources.base import Removal
from monitor.sources.x.client import RateLimited, XClient
from monitor.sources.x.payloads import SOURCE_NAME, Tweet, describe, label, page_parts

log = logging.getLogger("monitor.sources.x.source")

LOOKUP_BATCH = 100  # ids per tweet lookup request, X's maximum


def gone(payload: object) -> list[Removal]:
    """The looked-up posts X reports as gone in `errors`: not found (deleted, or its author
    deactivated) or not authorized (its author suspended or protected)."""
    errors = payload.get("errors") if isinstance(payload, dict) else None
    removals = []
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, dict) or error.get("resource_type") not in ("tweet", None):
            continue
        native = error.get("resource_id") or error.get("value")
        if not isinstance(native, str) or not native.isdigit() or error.get("parameter") not in ("ids", "id"):
            continue
        kind, detail = str(error.get("type", "")), str(error.get("detail", "")).lower()
        if "suspended" in detail:
            reason = "suspended"
        elif kind.endswith("/resource-not-found"):
            reason = "deleted"
        elif kind.endswith("/not-authorized-for-resource"):
            reason = "protected"
        else:
            continue  # some other problem (a field not allowed...): not a statement that the post is gone
        removals.append(Removal(Mention.make_id(SOURCE_NAME, native), reason))
    return removals


def refresh(client: XClient, mentions: Sequence[Mention], now: Callable[[], datetime]
            ) -> tuple[list[EngagementSnapshot], list[Removal]]:
    """Current public metrics, looked up 100 posts per request, and the posts X says are gone.

    A post without `public_metrics` gets no snapshot: unknown is not zero.
    """
    ids = list(dict.fromkeys(m.native_id for m in mentions if m.source == SOURCE_NAME and not m.removed))
    snapshots: list[EngagementSnapshot] = []
    removals: list[Removal] = []
    for start in range(0, len(ids), LOOKUP_BATCH):
        chunk = ids[start : start + LOOKUP_BATCH]
        where = f"x lookup {start // LOOKUP_BATCH + 1}/{math.ceil(len(ids) / LOOKUP_BATCH)}"
        try:
            payload = client.call(
                where, lambda ids=chunk: client.tweepy.get_tweets(ids=ids, tweet_fields=["public_metrics"])
            )
            data, _, _ = page_parts(payload)
            removals += gone(payload)
        except RateLimited:
            log.warning("%s: rate limited; the remaining engagement refreshes wait for the next run", where)
            break
        except ValueError as exc:  # BrokenPage, or a body that is not JSON at all
            log.warning("%s: skipped a malformed response: %s", where, exc)
            continue
        observed = now()
        for raw in data:  # deleted or protected posts come back in `errors`, not here
            try:
                tweet = Tweet.model_validate(raw)
            except ValidationError as exc:
                log.warning("%s: skipped %s: %s", where, label(raw), describe(exc))
                continue
            if tweet.public_metrics is None:
                continue
            snapshots.append(EngagementSnapshot(mention_id=Mention.make_id(SOURCE_NAME, tweet.key),
                                                observed_at=observed, engagement=tweet.public_metrics.engagement()))
    return snapshots, removals
