"""Current engagement of stored posts, looked up 100 ids per request."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from datetime import datetime

from pydantic import ValidationError

from monitor.models import EngagementSnapshot, Mention
from monitor.sources.x.client import RateLimited, XClient
from monitor.sources.x.payloads import SOURCE_NAME, Tweet, TweetMetrics, describe, label, page_parts

log = logging.getLogger("monitor.sources.x.source")

LOOKUP_BATCH = 100  # ids per tweet lookup request, X's maximum


def refresh(client: XClient, mentions: Sequence[Mention], now: Callable[[], datetime]) -> list[EngagementSnapshot]:
    """Current public metrics, looked up 100 posts per request; deleted posts are skipped."""
    ids = list(dict.fromkeys(m.native_id for m in mentions if m.source == SOURCE_NAME))
    snapshots: list[EngagementSnapshot] = []
    for start in range(0, len(ids), LOOKUP_BATCH):
        chunk = ids[start : start + LOOKUP_BATCH]
        where = f"x lookup {start // LOOKUP_BATCH + 1}/{math.ceil(len(ids) / LOOKUP_BATCH)}"
        try:
            payload = client.call(
                where, lambda ids=chunk: client.tweepy.get_tweets(ids=ids, tweet_fields=["public_metrics"])
            )
            data, _, _ = page_parts(payload)
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
            metrics = tweet.public_metrics or TweetMetrics()
            snapshots.append(EngagementSnapshot(mention_id=Mention.make_id(SOURCE_NAME, tweet.id),
                                                observed_at=observed, engagement=metrics.engagement()))
    return snapshots
