"""The `Source` protocol: one small class per platform.

A source turns a platform's API into `Mention`s and `EngagementSnapshot`s. It never
stores anything itself: the pipeline stores a batch and advances the source's cursor
in one transaction, so a crash can only make a batch be fetched again, never lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from monitor.config import BrandConfig
from monitor.models import EngagementSnapshot, Mention


class SourceError(RuntimeError):
    """A platform failure the run cannot work around (outage, bad credentials).

    The message says what happened and which credential or setting to look at; it
    never contains a secret. Raising it fails the task so the orchestrator retries.
    """


@dataclass
class Problem:
    """Input that was skipped, with where it came from, so nothing is dropped silently.

    The pipeline stores every non-transient problem in the quarantine (`Store.quarantined`),
    in the same transaction as the batch and its cursor.
    """

    where: str  # e.g. "scenario.jsonl:17" or "x search page 3"
    message: str
    head: str = ""  # the start of the raw record (`monitor.store.base.record_head`), for the quarantine
    # A page that failed and will be fetched again: reported, not quarantined. Everything
    # else is input set aside for good, and goes to the store's quarantine.
    transient: bool = False

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class Removal:
    """A stored post the platform no longer shows: deleted, removed by moderators, its author
    suspended or protected. Platform terms require the stored copy to go too (X: within 24 hours),
    so the pipeline turns it into a tombstone (monitor/removals.py)."""

    mention_id: str
    reason: str  # deleted / removed / suspended / protected / not_found / takedown


@dataclass
class Batch:
    """What one fetch returned, and the cursor to save once it is stored."""

    mentions: list[Mention] = field(default_factory=list)
    snapshots: list[EngagementSnapshot] = field(default_factory=list)
    cursor: str | None = None
    problems: list[Problem] = field(default_factory=list)
    exhausted: bool = True  # False: more is ready right now, fetch again at once
    removals: list[Removal] = field(default_factory=list)  # posts seen gone (e.g. `[removed]` bodies)

    def add(self, mention: Mention, observed_at: datetime) -> None:
        """A new mention, with its engagement at first sight as a snapshot: where its spread is followed from."""
        self.mentions.append(mention)
        self.snapshots.append(EngagementSnapshot(mention_id=mention.id, observed_at=observed_at,
                                                 engagement=mention.engagement))


def first_match(brands: Sequence[BrandConfig], text: str, *, nsfw: bool = False,
                **fields: Any) -> tuple[BrandConfig, str] | None:
    """The first brand whose query matches `text` and what it matched on (`BrandConfig.match`): the first wins.

    `fields` are what the source knows of the post, for the query's filters (lang, source,
    author, ...). A post the platform marks adult-only (`nsfw`) is not a mention of a brand
    that excludes them.
    """
    for brand in brands:
        if nsfw and brand.exclude_nsfw:
            continue
        query = brand.match(text, **fields)
        if query is not None:
            return brand, query
    return None


def searches(brand: BrandConfig, platform: str, source: str | None = None) -> list[str]:
    """What `platform`'s search is sent for `brand` (monitor/query/platforms.py), or SourceError if nothing can be.

    `platform` names the search syntax (x, reddit, bluesky, mastodon, or generic: plain
    keywords); `source` the config key errors name (default: the platform).
    """
    from monitor.query.platforms import UnsearchableQuery, compile_query

    try:
        return compile_query(brand.compiled.node, platform).searches
    except UnsearchableQuery as exc:
        raise SourceError(f"sources.{source or platform}: brand {brand.name!r}: {exc}") from None


class Source(Protocol):
    """One platform, read. Built by its plugin's factory (registry.py) once per run, so it keeps no state
    between runs: the cursor does."""

    name: str  # the plugin name: the `source` of its mentions and the key of its cursor

    def fetch(self, brands: Sequence[BrandConfig], cursor: str | None) -> Batch:
        """New mentions of any of the brands since `cursor` (None: the source's own starting point)."""

    def refresh(self, mentions: Sequence[Mention]) -> list[EngagementSnapshot]:
        """Current engagement of recent mentions, so their spread can be followed.

        A source that learns a post is gone appends a `Removal` to its `removals` list (an
        attribute, optional: `removals_of` reads it), which the pipeline turns into tombstones.
        """


def removals_of(source: object) -> list[Removal]:
    """The removals a source learned since last asked, taken (the list is emptied)."""
    found = getattr(source, "removals", None)
    if not isinstance(found, list):
        return []
    taken = list(found)
    found.clear()
    return taken
